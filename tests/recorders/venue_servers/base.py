"""The machinery every venue server shares: a loopback HTTP server, a clock, a request log, deterministic candles.

Why: the recorders must be tested against each venue's *real* response formats with ccxt's own parsing in the
loop. Each venue module only declares its routes (paths and JSON shapes as the venue documents them) and its
markets; this module serves them on ``127.0.0.1`` (port 0, daemon threads, a bounded lifetime) and keeps the
ground truth (every candle it can serve) for the tests to compare with.
"""

from __future__ import annotations

import json
import re
import socketserver
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pandas as pd

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_ANCHOR_MS = 4 * DAY_MS  # the first Monday 00:00 UTC after the epoch: weeks start on Mondays
DEFAULT_LIFETIME = 300.0


@dataclass(frozen=True)
class Listing:
    """One market a venue server lists: the ccxt symbol the tests expect, the venue's id and trading rules
    (strings, as the venues send them), the first candle's time and the random walk's first price."""

    symbol: str
    market_id: str
    base: str
    quote: str
    tick: str
    lot: str
    listed: int
    start_price: float
    min_amount: str | None = None
    kind: str = "spot"  # or "swap"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tick_decimals(self) -> int:
        return max(0, -Decimal(self.tick).normalize().as_tuple().exponent)  # type: ignore[operator]

    @property
    def lot_decimals(self) -> int:
        return max(0, -Decimal(self.lot).normalize().as_tuple().exponent)  # type: ignore[operator]


@dataclass(frozen=True)
class Candles:
    """Candles of one market at one interval, oldest first, prices in ticks and volumes in lots."""

    listing: Listing
    interval_ms: int
    open_time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.open_time)

    def upto(self, last_open: int) -> Candles:
        """The candles that opened at or before ``last_open``."""
        n = int(np.searchsorted(self.open_time, last_open, side="right"))
        return self.slice(0, n)

    def slice(self, start: int, stop: int) -> Candles:
        cut = slice(start, stop)
        return Candles(self.listing, self.interval_ms, self.open_time[cut], self.open[cut], self.high[cut],
                       self.low[cut], self.close[cut], self.volume[cut])

    def where(self, mask: np.ndarray) -> Candles:
        return Candles(self.listing, self.interval_ms, self.open_time[mask], self.open[mask], self.high[mask],
                       self.low[mask], self.close[mask], self.volume[mask])

    # -- how the venues write numbers ------------------------------------------------------------------------
    def price(self, ticks: int) -> str:
        """A price as the venue's string with the tick's decimals (``"42123.5"``)."""
        return f"{Decimal(int(ticks)) * Decimal(self.listing.tick):.{self.listing.tick_decimals}f}"

    def amount(self, lots: int) -> str:
        return f"{Decimal(int(lots)) * Decimal(self.listing.lot):.{self.listing.lot_decimals}f}"

    def quote_volume(self, i: int) -> str:
        """Turnover: volume × the candle's mid price, at two more decimals than the tick."""
        mid = (Decimal(self.price(self.high[i])) + Decimal(self.price(self.low[i]))) / 2
        return f"{Decimal(self.amount(self.volume[i])) * mid:.{self.listing.tick_decimals + 2}f}"

    def row(self, i: int) -> tuple[int, str, str, str, str, str]:
        """``(open_time, open, high, low, close, volume)`` of candle ``i`` in the venue's number strings."""
        return (int(self.open_time[i]), self.price(self.open[i]), self.price(self.high[i]), self.price(self.low[i]),
                self.price(self.close[i]), self.amount(self.volume[i]))

    def rows(self) -> list[tuple[int, str, str, str, str, str]]:
        return [self.row(i) for i in range(len(self))]

    def frame(self) -> pd.DataFrame:
        """The ground truth as ccxt parses it: ``timestamp`` (ms) and float OHLCV, oldest first."""
        rows = self.rows()
        return pd.DataFrame({
            "timestamp": np.asarray([r[0] for r in rows], dtype=np.int64),
            **{name: [float(r[k]) for r in rows]
               for k, name in enumerate(("open", "high", "low", "close", "volume"), 1)},
        })


def floor_to(ts: int, interval_ms: int) -> int:
    anchor = WEEK_ANCHOR_MS if interval_ms == 7 * DAY_MS else 0
    return (ts - anchor) // interval_ms * interval_ms + anchor


def generate(listing: Listing, interval_ms: int, horizon: int, seed: int) -> Candles:
    """A seeded random walk in ticks from the listing's candle to ``horizon``: valid OHLC (low ≤ open, close ≤
    high), each open the previous close, open times on the interval's UTC grid."""
    first = floor_to(listing.listed, interval_ms)
    n = max(0, (floor_to(horizon, interval_ms) - first) // interval_ms + 1)
    rng = np.random.default_rng([seed, zlib.crc32(listing.symbol.encode()), interval_ms // 1000])
    start = max(1000, round(listing.start_price / float(listing.tick)))
    scale = max(2.0, start * 0.004 * np.sqrt(interval_ms / HOUR_MS))
    steps = np.rint(rng.normal(0.0, scale, n)).astype(np.int64)
    close = np.maximum(start // 2, start + np.cumsum(steps))
    open_ = np.concatenate([[start], close[:-1]]) if n else close.copy()
    high = np.maximum(open_, close) + np.rint(np.abs(rng.normal(0.0, scale / 2, n))).astype(np.int64)
    low = np.maximum(1, np.minimum(open_, close) - np.rint(np.abs(rng.normal(0.0, scale / 2, n))).astype(np.int64))
    volume = rng.integers(1_000, 5_000_000, n)
    times = first + np.arange(n, dtype=np.int64) * interval_ms
    return Candles(listing, interval_ms, times, open_, high, low, close, volume)


TRADE_SPACING_MS = 10_000  # one public trade every ten seconds


@dataclass(frozen=True)
class Tick:
    """One public trade: ids increase with time; price inside the hour's candle, in the venue's strings."""

    trade_id: int
    timestamp: int
    price: str
    amount: str
    side: str  # "buy" / "sell" (the taker's side)


@dataclass
class RequestRecord:
    """One request as the server saw it: path, query (parsed), the server clock at arrival, the status sent."""

    path: str
    params: dict[str, str]
    now: int
    status: int | None = None


class ApiError(Exception):
    """Answer with ``status`` and the venue's own JSON error ``payload``."""

    def __init__(self, status: int, payload: Any) -> None:
        super().__init__(f"{status}: {payload}")
        self.status, self.payload = status, payload


Handler = Callable[[dict[str, str], dict[str, str]], Any]  # (path parameters, query) -> JSON payload


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128  # ccxt sends up to eleven load_markets requests at once (the default backlog is 5)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can hang without DNS: not needed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class VenueServer:
    """A venue's public REST API on ``127.0.0.1``: subclasses set ``exchange_id`` and implement
    ``make_listings()``, ``routes()`` and ``ccxt_urls()``.

    ``now`` fixes the server's clock (moved only by :meth:`set_now` / :meth:`advance`); ``now=None`` follows the
    wall clock, for venues ccxt has no ``fetchTime`` for (the recorder then uses the local clock, as it must with
    the real venue). Stops by itself after ``lifetime`` seconds.
    """

    exchange_id: ClassVar[str] = ""

    def __init__(self, now: int | None = None, *, seed: int = 7, lifetime: float = DEFAULT_LIFETIME) -> None:
        self.seed = seed
        self._fixed_now = now
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._cache: dict[tuple[str, int], Candles] = {}
        # candles are generated once up to a horizon past any clock the tests use, so a slice never changes
        self._horizon = (now if now is not None else int(time.time() * 1000)) + 40 * DAY_MS
        self.listings: list[Listing] = list(self.make_listings(self.now))
        self._exact: dict[str, Handler] = {}
        self._patterns: list[tuple[re.Pattern[str], Handler]] = []
        for route, handler in self.routes().items():
            if "{" in route:
                regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", route)
                self._patterns.append((re.compile(f"^{regex}$"), handler))
            else:
                self._exact[route] = handler
        self._server = _HttpServer(("127.0.0.1", 0), _make_handler(self))
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"venue-{self.exchange_id}-{self.port}", daemon=True)
        self._thread.start()
        self._closed = threading.Event()
        self._timer = threading.Timer(lifetime, self.close)
        self._timer.daemon = True
        self._timer.start()

    # -- subclass API ----------------------------------------------------------------------------------------
    def make_listings(self, now: int) -> Sequence[Listing]:
        raise NotImplementedError

    def routes(self) -> dict[str, Handler]:
        raise NotImplementedError

    def ccxt_urls(self) -> dict[str, str]:
        """``urls['api']`` of the ccxt client: every key ccxt uses, pointed here."""
        raise NotImplementedError

    def ccxt_options(self) -> dict[str, Any]:
        """ccxt ``options`` this server needs (none by default)."""
        return {}

    # -- lifecycle -------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
        if self._timer is not threading.current_thread():
            self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> VenueServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- clock -----------------------------------------------------------------------------------------------
    @property
    def now(self) -> int:
        fixed = self._fixed_now
        return int(time.time() * 1000) if fixed is None else fixed

    def set_now(self, now: int) -> None:
        if self._fixed_now is None:
            raise RuntimeError(f"the {self.exchange_id} server follows the wall clock")
        self._fixed_now = now

    def advance(self, ms: int) -> None:
        self.set_now(self.now + ms)

    # -- data ------------------------------------------------------------------------------------------------
    def listing(self, key: str) -> Listing:
        """By ccxt symbol or by venue id."""
        for listing in self.listings:
            if key in (listing.symbol, listing.market_id):
                return listing
        raise KeyError(key)

    def candles(self, key: str, interval_ms: int, now: int | None = None) -> Candles:
        """Every candle the venue has at ``now`` (default: the server's clock), the open one included."""
        listing = self.listing(key)
        cache_key = (listing.symbol, interval_ms)
        with self._lock:
            full = self._cache.get(cache_key)
            if full is None:
                full = self._cache[cache_key] = generate(listing, interval_ms, self._horizon, self.seed)
        return full.upto(floor_to(self.now if now is None else now, interval_ms))

    def closed_candles(self, key: str, interval_ms: int, now: int | None = None) -> Candles:
        """The candles whose period ended by ``now``: what a recorder may store."""
        current = self.now if now is None else now
        return self.candles(key, interval_ms, current).upto(floor_to(current, interval_ms) - interval_ms)

    def _tick(self, listing: Listing, n: int) -> Tick:
        hour = self.candles(listing.symbol, HOUR_MS, self._horizon)
        i = int(np.searchsorted(hour.open_time, n * TRADE_SPACING_MS, side="right")) - 1
        low, high = int(hour.low[i]), int(hour.high[i])
        price = hour.price(low + n * 104_729 % (high - low + 1))
        return Tick(n, n * TRADE_SPACING_MS + n * 7_919 % 9_000, price, hour.amount(1 + n * 7_907 % 5_000),
                    "sell" if n % 3 == 0 else "buy")

    def trades(self, key: str, count: int, *, since: int | None = None, now: int | None = None) -> list[Tick]:
        """Public trades up to ``now``: the newest ``count`` (newest first), or with ``since`` the first
        ``count`` at or after it (oldest first)."""
        listing = self.listing(key)
        current = self.now if now is None else now
        first = -(-listing.listed // TRADE_SPACING_MS)
        newest = current // TRADE_SPACING_MS
        if self._tick(listing, newest).timestamp > current:
            newest -= 1
        if since is None:
            return [self._tick(listing, n) for n in range(newest, max(first, newest - count + 1) - 1, -1)]
        n0 = max(first, since // TRADE_SPACING_MS)
        ticks = [self._tick(listing, n) for n in range(n0, min(newest, n0 + count + 1) + 1)]
        return [tick for tick in ticks if tick.timestamp >= since][:count]

    # -- request log -----------------------------------------------------------------------------------------
    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def calls(self, path_prefix: str) -> list[RequestRecord]:
        """The requests whose path starts with ``path_prefix``, in order."""
        return [record for record in self.requests if record.path.startswith(path_prefix)]

    def reset_requests(self) -> None:
        with self._lock:
            self._log.clear()

    # -- the config a user writes ----------------------------------------------------------------------------
    def config_toml(self) -> str:
        """``[exchanges.<id>]`` for the zvt_crypto config file: every ccxt URL pointed here, a short timeout, and
        none of the pauses that protect a real venue (these tests are about formats and paging; the budgets have
        their own tests): no request budget of ours and no ccxt rate limiting (Kraken's cost a second a request),
        no ``timeout_on_exit`` (250 ms on every async ``close()``, for TLS connections to shut down)."""
        lines = [f"[exchanges.{self.exchange_id}]", "requests_per_minute = 0", "",
                 f"[exchanges.{self.exchange_id}.ccxt]", "timeout = 5000", "enableRateLimit = false",
                 "timeout_on_exit = 0"]
        if self.ccxt_options():
            lines.append(f"options = {_toml(self.ccxt_options())}")
        lines += ["", f"[exchanges.{self.exchange_id}.ccxt.urls.api]"]
        lines += [f"{key} = {json.dumps(url)}" for key, url in self.ccxt_urls().items()]
        return "\n".join(lines) + "\n"

    # -- one request -----------------------------------------------------------------------------------------
    def _respond(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        path, query = parts.path.rstrip("/") or "/", dict(parse_qsl(parts.query, keep_blank_values=True))
        record = RequestRecord(path, query, self.now)
        with self._lock:
            self._log.append(record)
        route, path_params = self._exact.get(path), {}
        if route is None:
            for pattern, candidate in self._patterns:
                match = pattern.match(path)
                if match:
                    route, path_params = candidate, match.groupdict()
                    break
        if route is None:
            status, body = 404, self.not_found(path)
        else:
            try:
                status, body = 200, route(path_params, query)
            except ApiError as exc:
                status, body = exc.status, exc.payload
            except Exception:  # noqa: BLE001 - a server bug must answer (a 500), never hang the client
                traceback.print_exc()
                status, body = 500, {"error": "internal error in the test server"}
        record.status = status
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def not_found(self, path: str) -> Any:
        return {"error": f"no route {path}"}


def _make_handler(server: VenueServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"venue-{server.exchange_id}"
        sys_version = ""

        def do_GET(self) -> None:
            server._respond(self)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def _toml(value: Any) -> str:
    """A TOML inline value (enough for ccxt option tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def query_int(query: dict[str, str], name: str, default: int | None = None) -> int | None:
    value = query.get(name)
    return default if value in (None, "") else int(value)  # type: ignore[arg-type]


def iso_utc(ms: int) -> str:
    """``2024-01-08T00:00:00`` (no zone), the Upbit / Bithumb candle time format."""
    return pd.Timestamp(ms, unit="ms").strftime("%Y-%m-%dT%H:%M:%S")
