"""The simulated exchange: a loopback HTTP server speaking Binance's public REST API, with a simulated clock,
a request log and fault injection.

Why: recorders, the offline demo and notebooks need the *real* ccxt client (``ccxt.binance``,
``ccxt.binanceusdm`` and their async twins) against data that is deterministic, offline and able to fail on
purpose. Point ccxt at it with :meth:`SimulatedExchange.ccxt_options`::

    with SimulatedExchange(seed=7, now="2024-01-08T00:00:00Z") as sim:
        exchange = ccxt.binance(sim.ccxt_options("binance"))
        bars = exchange.fetch_ohlcv("BTC/USDT", "1h", limit=24)

The server binds 127.0.0.1 only, serves from daemon threads and stops by itself after ``lifetime`` seconds.
"""

from __future__ import annotations

import json
import math
import socket
import socketserver
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.timeutil import TimeLike, to_datetime, to_ms
from zvt_crypto.sim.binance import (
    DAPI_PREFIX,
    DATA_PREFIX,
    FAPI2_PREFIX,
    FAPI_PREFIX,
    SPOT_PREFIX,
    ApiError,
    BinanceApi,
    request_weight,
)
from zvt_crypto.sim.faults import Fault, FaultPlan, Gap
from zvt_crypto.sim.markets import MarketSpec, default_markets, resolve

if TYPE_CHECKING:
    from zvt_crypto.contract.config import Config

DEFAULT_NOW = "2024-01-08T00:00:00Z"
DEFAULT_LIFETIME = 900.0

#: ccxt ``urls['api']`` keys → path on the simulator. ``public`` serves spot; ``fapiPublic``/``fapiPublicV2``/
#: ``fapiData`` serve USDⓈ-M; ``dapiPublic`` answers an empty coin-margined ``exchangeInfo`` so that a binance client
#: loading all market types stays on the loopback too.
CCXT_API_PATHS = {
    "public": SPOT_PREFIX,
    "fapiPublic": FAPI_PREFIX,
    "fapiPublicV2": FAPI2_PREFIX,
    "fapiData": DATA_PREFIX,
    "dapiPublic": DAPI_PREFIX,
}
_JSON = "application/json;charset=UTF-8"
_HTML_ERROR = "<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1></center>" \
              "<hr><center>CloudFront</center></body></html>"
_HTML_JUNK = "<!DOCTYPE html><html><head><title>Binance - System Maintenance</title></head><body><h1>System " \
             "maintenance</h1><p>Binance is upgrading its systems. Please come back later.</p></body></html>"
_RATE_LIMIT_MSG = "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute. Please use the " \
                  "websocket for live updates to avoid polling the API."
_WEIGHT_LIMIT_MSG = "Too much request weight used; current limit is {limit} request weight per {num} {unit}. Please " \
                    "use WebSocket Streams for live updates to avoid polling the API."
_UNITS = ((86_400, "D", "DAY"), (3_600, "H", "HOUR"), (60, "M", "MINUTE"), (1, "S", "SECOND"))


@dataclass(frozen=True)
class WeightLimit:
    """Binance's ``REQUEST_WEIGHT`` limit: at most ``weight`` per rolling ``seconds`` (Binance: 6000 per minute on
    spot, 2400 on USDⓈ-M). A request that would exceed it is refused with HTTP 429, ``Retry-After`` and the JSON
    error ``-1003``, and costs nothing; served requests cost their endpoint's weight
    (:func:`~zvt_crypto.sim.binance.request_weight`)."""

    weight: int
    seconds: int = 60

    def __post_init__(self) -> None:
        if not isinstance(self.weight, int) or isinstance(self.weight, bool) or self.weight < 1:
            raise InvalidInputError(f"weight limit must be a positive integer, not {self.weight!r}")
        if not isinstance(self.seconds, int) or isinstance(self.seconds, bool) or self.seconds < 1:
            raise InvalidInputError(f"weight window must be a positive whole number of seconds, not {self.seconds!r}")

    @property
    def interval(self) -> tuple[int, str, str]:
        """(intervalNum, header letter, exchangeInfo name): 60 s → (1, "M", "MINUTE"), 10 s → (10, "S", "SECOND")."""
        return next((self.seconds // size, letter, name) for size, letter, name in _UNITS if self.seconds % size == 0)

    @property
    def header(self) -> str:
        num, letter, _ = self.interval
        return f"X-MBX-USED-WEIGHT-{num}{letter}"


@dataclass
class RequestRecord:
    """One request as the server saw it, logged on arrival; ``status`` is set when the answer is sent and stays
    None for a dropped connection (or an answer still delayed by a ``slow`` fault). ``weight`` is what it cost
    against the weight limit (0 when refused by it: status 429 without a fault); ``received`` is
    ``time.monotonic()`` at arrival, for request rates over wall-clock windows."""

    path: str
    params: dict[str, str]
    faults: tuple[str, ...]
    sim_now: int
    status: int | None = None
    weight: int = 0
    received: float = 0.0


def peak_count(stamps: Sequence[float], window: float, weights: Sequence[int] | None = None) -> int:
    """The most requests (or the most weight, with ``weights``) in any ``window`` seconds of ``stamps``
    (``time.monotonic()`` values in any order): how a venue's rolling limit sees a request log."""
    order = sorted(range(len(stamps)), key=stamps.__getitem__)
    times = [stamps[i] for i in order]
    costs = [1 if weights is None else weights[i] for i in order]
    best = total = first = 0
    for last, stamp in enumerate(times):
        total += costs[last]
        while times[first] <= stamp - window:
            total -= costs[first]
            first += 1
        best = max(best, total)
    return best


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # close() must not wait for a handler stuck in a slow fault
    allow_reuse_address = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can hang without DNS: not needed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.host_port

    @property
    def host_port(self) -> tuple[str, int]:
        host, port = self.server_address[:2]
        assert isinstance(host, str), host  # bound to the text address SimulatedExchange passes
        return host, port


class SimulatedExchange:
    """A running simulated Binance (spot + USDⓈ-M) on ``127.0.0.1``.

    ``now`` is the simulated time (default :data:`DEFAULT_NOW`); it moves only with :meth:`advance` /
    :meth:`set_now`, so the same ``seed`` always serves the same data. ``markets`` defaults to
    :func:`~zvt_crypto.sim.markets.default_markets`. ``weight_limit`` (a :class:`WeightLimit` or weight per minute;
    default none) refuses requests over Binance's rolling ``REQUEST_WEIGHT`` limit with 429. ``lifetime`` (seconds,
    None = until :meth:`close`) bounds a forgotten server.
    """

    def __init__(
        self,
        seed: int = 7,
        now: TimeLike | None = None,
        *,
        markets: Sequence[MarketSpec] | None = None,
        faults: Sequence[Fault] = (),
        gaps: Sequence[Gap] = (),
        weight_limit: WeightLimit | int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        lifetime: float | None = DEFAULT_LIFETIME,
    ) -> None:
        address = ip_address(socket.gethostbyname(host) if host == "localhost" else host)
        if address.version != 4 or not address.is_loopback:
            raise InvalidInputError(f"the simulated exchange binds a loopback IPv4 address only, not {host!r}")
        self.seed = seed
        self._now = to_ms(DEFAULT_NOW if now is None else now)
        self.faults = FaultPlan(list(faults), list(gaps))
        self.api = BinanceApi([resolve(spec) for spec in (default_markets() if markets is None else markets)],
                              seed, self.faults)
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._counts: Counter[str] = Counter()
        self._recent: deque[tuple[float, int]] = deque()  # (received, weight) of the current weight window
        self._used = 0  # weight in self._recent
        self.weight_limit: WeightLimit | None = None
        self.limit_weight(weight_limit)
        self._stopped = threading.Event()  # set first on close: wakes answers delayed by a slow fault
        self._done = threading.Event()  # set once the port is closed
        self._closing = threading.Lock()
        self._server = _Server((str(address), port), _make_handler(self))
        self.host, self.port = self._server.host_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"zvt-sim-{self.port}", daemon=True)
        self._thread.start()
        self._timer: threading.Timer | None = None
        if lifetime is not None:
            self._timer = threading.Timer(lifetime, self.close)
            self._timer.daemon = True
            self._timer.start()

    # ----------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def closed(self) -> bool:
        return self._done.is_set()

    def close(self) -> None:
        """Stop serving and free the port (idempotent, callable from any thread)."""
        with self._closing:
            if self._stopped.is_set():
                return
            self._stopped.set()
            if self._timer is not None and self._timer is not threading.current_thread():
                self._timer.cancel()
            self._server.shutdown()
            self._server.server_close()
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server has stopped (lifetime or :meth:`close`); True if it did."""
        return self._done.wait(timeout)

    def __enter__(self) -> SimulatedExchange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else self.url
        return f"SimulatedExchange(seed={self.seed}, now={to_datetime(self.now).isoformat()}, {state})"

    # ----------------------------------------------------------------- clock
    @property
    def now(self) -> int:
        """Simulated time in epoch milliseconds."""
        return self._now

    def set_now(self, now: TimeLike) -> int:
        """Move the simulated clock to ``now`` (backwards too); returns it in epoch ms."""
        with self._lock:
            self._now = to_ms(now)
            return self._now

    def advance(self, delta: float | timedelta) -> int:
        """Move the simulated clock forward by ``delta`` (seconds or a ``timedelta``); returns the new time."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        with self._lock:
            self._now += round(seconds * 1000)
            return self._now

    # ----------------------------------------------------------------- ccxt / config
    def ccxt_options(self, exchange_id: str = "binance") -> dict[str, Any]:
        """Constructor options for ``ccxt.<exchange_id>`` (``binance`` or ``binanceusdm``, sync or async) that send
        every public request here. ``fetchCurrencies`` and ``fetchMargins`` are off: with API keys (e.g. from the
        environment) ccxt's ``load_markets`` would otherwise call the private ``sapi`` host of the real Binance.
        The binance client loads spot markets only."""
        if exchange_id not in ("binance", "binanceusdm"):
            raise InvalidInputError(f"the simulator speaks for 'binance' and 'binanceusdm', not {exchange_id!r}")
        options: dict[str, Any] = {"fetchCurrencies": False, "fetchMargins": False}
        if exchange_id == "binance":
            options["fetchMarkets"] = {"types": ["spot"]}
        return {"urls": {"api": {key: self.url + path for key, path in CCXT_API_PATHS.items()}}, "options": options}

    def config(self, base: Config | None = None) -> Config:
        """``base`` (default: the loaded config: its store, its other venues) with the ccxt clients of both venues
        (``binance``, ``binanceusdm``) pointed here: what a recorder, the scheduler or ``zc.record`` is given to
        record from this simulator."""
        from dataclasses import replace

        from zvt_crypto.contract.config import deep_merge, load_config

        base = base if base is not None else load_config()
        ours = {exchange_id: {"ccxt": self.ccxt_options(exchange_id)} for exchange_id in ("binance", "binanceusdm")}
        return replace(base, exchanges=deep_merge(base.exchanges, ours))

    def config_toml(self, exchange_ids: Sequence[str] = ("binance", "binanceusdm")) -> str:
        """``[exchanges.<id>.ccxt]`` sections for the zvt_crypto config file, pointing ccxt here."""
        lines = [f"# simulated Binance at {self.url} (zvt_crypto.sim, seed {self.seed})"]
        for exchange_id in exchange_ids:
            options = self.ccxt_options(exchange_id)
            lines += ["", f"[exchanges.{exchange_id}.ccxt]", f"options = {_toml(options['options'])}", "",
                      f"[exchanges.{exchange_id}.ccxt.urls.api]"]
            lines += [f"{key} = {_toml(url)}" for key, url in options["urls"]["api"].items()]
        return "\n".join(lines) + "\n"

    # ----------------------------------------------------------------- faults
    def inject(self, kind: str, path: str | None = None, **options: Any) -> Fault:
        """Add a :class:`Fault` at run time, e.g. ``sim.inject("rate_limit", "/api/v3/klines", retry_after=5)``."""
        return self.faults.add(Fault(kind, path, **options))

    def add_gap(self, start: TimeLike, end: TimeLike, symbol: str | None = None) -> Gap:
        """A venue outage ``[start, end)``: no klines and no trades in it (for ``symbol`` or every market)."""
        return self.faults.add_gap(Gap(start, end, symbol))

    # ----------------------------------------------------------------- weight limit
    def limit_weight(self, weight: WeightLimit | int | None, seconds: int = 60) -> WeightLimit | None:
        """Enforce a ``REQUEST_WEIGHT`` limit from now on: ``weight`` per rolling ``seconds`` (a
        :class:`WeightLimit` or an int), or none (``None``, the default: nothing is refused)."""
        limit = WeightLimit(weight, seconds) if isinstance(weight, int) else weight
        with self._lock:
            self.weight_limit = limit
            self.api.rate_limit = (*limit.interval, limit.weight) if limit else None
        return limit

    def _admit(self, record: RequestRecord) -> tuple[dict[str, str], str | None]:
        """Charge ``record`` against the weight window unless that would exceed the limit. Returns the headers (used
        weight; for a refusal also ``Retry-After``: seconds until enough weight leaves the window) and, for a
        refusal, Binance's JSON error body."""
        weight = request_weight(record.path, record.params)
        with self._lock:
            limit = self.weight_limit
            window = limit.seconds if limit else 60
            stamp = record.received
            while self._recent and self._recent[0][0] <= stamp - window:
                self._used -= self._recent.popleft()[1]
            header = limit.header if limit else "X-MBX-USED-WEIGHT-1M"
            if limit is None or self._used + weight <= limit.weight:
                record.weight = weight
                self._recent.append((stamp, weight))
                self._used += weight
                return {header: str(self._used)}, None
            freed, expires = self._used, stamp
            for received, cost in self._recent:
                freed, expires = freed - cost, received + window
                if freed + weight <= limit.weight:
                    break
            retry_after = max(1, math.ceil(expires - stamp))
            num, _, unit = limit.interval
            message = _WEIGHT_LIMIT_MSG.format(limit=limit.weight, num=num, unit=unit)
            body = json.dumps({"code": -1003, "msg": message})
            return {header: str(self._used), "Retry-After": str(retry_after)}, body

    # ----------------------------------------------------------------- request log
    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def request_counts(self) -> dict[str, int]:
        """Requests per path so far (faulted and dropped ones included)."""
        with self._lock:
            return dict(self._counts)

    def count(self, path: str) -> int:
        with self._lock:
            return self._counts[path]

    def reset_requests(self) -> None:
        """Clear the request log and the counts; also empties the weight window (a fresh start for a test)."""
        with self._lock:
            self._log.clear()
            self._counts.clear()
            self._recent.clear()
            self._used = 0

    def peak_requests(self, window: float, weight: bool = False) -> int:
        """The most requests (``weight=True``: the most weight) that arrived in any ``window`` seconds of wall-clock
        time so far: what a rolling limit of that window saw at its worst."""
        log = self.requests
        return peak_count([r.received for r in log], window, [r.weight for r in log] if weight else None)

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)
            self._counts[record.path] += 1

    # ----------------------------------------------------------------- one request
    def _respond(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        path, params = url.path.rstrip("/") or "/", dict(parse_qsl(url.query, keep_blank_values=True))
        now = self._now
        record = RequestRecord(path, params, (), now, received=time.monotonic())
        headers, refusal = self._admit(record)
        if refusal is not None:  # refused before anything else happens, as at Binance's edge
            record.status = 429
            self._record(record)
            _send(handler, 429, refusal.encode(), _JSON, headers)
            return
        market_id, symbol = self.api.market_of(path, params)
        fired = {fault.kind: fault for fault in self.faults.take(path, market_id, symbol)}
        record.faults = tuple(fired)
        self._record(record)
        if "drop" in fired:
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if "slow" in fired and self._stopped.wait(fired["slow"].delay):
            return
        if "rate_limit" in fired:
            fault = fired["rate_limit"]
            status = fault.status or 429
            body, ctype = json.dumps({"code": -1003, "msg": _RATE_LIMIT_MSG}), _JSON
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
        elif "server_error" in fired:
            fault = fired["server_error"]
            status = fault.status or 503
            if fault.body == "json":
                body, ctype = json.dumps({"code": fault.code, "msg": fault.msg}), _JSON
            elif fault.body == "empty":
                body, ctype = "", "text/html"
            else:
                reason = handler.responses.get(status, ("Error",))[0]
                body, ctype = _HTML_ERROR.format(status=status, reason=reason), "text/html"
        elif "junk" in fired:
            status, body, ctype = 200, _HTML_JUNK, "text/html"
        elif path not in self.api.routes:
            status, body, ctype = 404, "", "text/html"  # as Binance: no JSON, so ccxt raises ExchangeNotAvailable
        else:
            status, payload = self._payload(path, params, now)
            if isinstance(payload, list):
                payload = [] if "empty" in fired else _disorder(payload, fired.get("duplicate"), "shuffle" in fired)
            body, ctype = json.dumps(payload, separators=(",", ":")), _JSON
        record.status = status
        if "truncate" in fired:  # a connection lost mid-answer: the announced length is never reached
            handler.close_connection = True
            data = body.encode()
            _send(handler, status, data[: len(data) // 2], ctype, headers, length=len(data))
            return
        _send(handler, status, body.encode(), ctype, headers)

    def _payload(self, path: str, params: dict[str, str], now: int) -> tuple[int, Any]:
        try:
            return 200, self.api.handle(path, params, now)
        except ApiError as exc:
            return exc.status, exc.payload()
        except Exception:  # noqa: BLE001 - a simulator bug must answer like Binance's internal error, not hang
            traceback.print_exc()
            return 500, {"code": -1000, "msg": "An unknown error occurred while processing the request."}


def _make_handler(sim: SimulatedExchange) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "zvt-sim"
        sys_version = ""

        def do_GET(self) -> None:
            sim._respond(self)

        def do_POST(self) -> None:
            _send(self, 405, b"", "text/html", {})

        do_PUT = do_DELETE = do_POST

        def log_message(self, format: str, *args: Any) -> None:  # silence the per-request stderr line
            return

    return Handler


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str, headers: dict[str, str],
          length: int | None = None) -> None:
    """Answer ``body``; ``length`` announces another ``Content-Length`` (a truncated answer)."""
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body) if length is None else length))
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (timeout) before the answer


def _disorder(rows: list[Any], duplicate: Fault | None, shuffle: bool) -> list[Any]:
    """Apply the row faults: the first ``rows`` rows twice in place; adjacent rows swapped."""
    if duplicate is not None:
        k = min(duplicate.rows, len(rows))
        rows = [row for row in rows[:k] for _ in range(2)] + rows[k:]
    if shuffle:
        rows = [rows[i ^ 1] if (i ^ 1) < len(rows) else rows[i] for i in range(len(rows))]
    return rows


def _toml(value: Any) -> str:
    """A TOML inline value (strings, bools, numbers, lists, tables): enough for ccxt option tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
