"""Fault injection for the simulated exchange: the failures a recorder must survive, on demand.

Why: retries, back-off, validation and gap handling can only be tested if the venue misbehaves exactly when a test
says so. A :class:`Fault` is scoped by request path (exact or ``fnmatch`` pattern such as ``"/fapi/*"``), optionally
by symbol, and by count (skip the first ``skip`` matching requests, then hit ``count`` of them; ``count=None``
hits forever). A :class:`Gap` is a venue outage: no bars and no trades in ``[start, end)``. Both can be given to
the constructor or added and cleared at run time from any thread.

Examples (``sim`` is a running :class:`~zvt_crypto.sim.server.SimulatedExchange`)::

    sim.faults.add(Fault("rate_limit", "/api/v3/klines", retry_after=3))     # 429 + Retry-After: 3
    sim.faults.add(Fault("rate_limit", "/api/v3/klines", status=418))        # IP ban (also DDoSProtection)
    sim.faults.add(Fault("server_error", "/api/v3/klines", count=3))         # 3 x 503 with an HTML body
    sim.faults.add(Fault("server_error", "/fapi/v1/klines", body="json"))    # 500 {"code": -1001, ...}
    sim.faults.add(Fault("server_error", "/api/v3/klines", status=502, body="empty"))
    sim.faults.add(Fault("slow", "/api/v3/depth", delay=2.0))                # answer after 2 s (client timeout)
    sim.faults.add(Fault("drop", "/api/v3/aggTrades", skip=1))               # 2nd request: socket closed, no reply
    sim.faults.add(Fault("junk", "/api/v3/klines"))                          # 200 with an HTML maintenance page
    sim.faults.add(Fault("truncate", "/api/v3/klines"))                      # 200, body cut off half-way, closed
    sim.faults.add(Fault("duplicate", "/api/v3/klines", rows=5))             # first 5 rows of the page twice
    sim.faults.add(Fault("shuffle", "/api/v3/klines", symbol="BTC/USDT"))    # rows of the page out of order
    sim.faults.add(Fault("empty", "/api/v3/klines", count=None, every=4))    # every 4th answer: 200 []
    sim.faults.add_gap(Gap("2024-01-05T10:00Z", "2024-01-05T10:17Z", symbol="BTC/USDT"))  # 17-minute outage
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass, field
from typing import Any

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.timeutil import TimeLike, to_ms

FAULT_KINDS = ("rate_limit", "server_error", "slow", "drop", "junk", "duplicate", "shuffle", "truncate",
               "empty")
_BODIES = ("html", "empty", "json")


@dataclass
class Fault:
    """One injected failure.

    * ``rate_limit``: HTTP ``status`` (429, or 418 for an IP ban) with ``Retry-After: retry_after`` and Binance's
      JSON body (code -1003) → ccxt ``DDoSProtection``.
    * ``server_error``: HTTP ``status`` (default 503) with an HTML page (``body="html"``) or nothing
      (``"empty"``) → ``ExchangeNotAvailable`` (504 → ``RequestTimeout``); with ``body="json"`` the body is
      ``{"code": code, "msg": msg}`` (default -1001) → ``OperationFailed``.
    * ``slow``: the normal answer after ``delay`` seconds → ``RequestTimeout`` when the client's timeout is shorter.
    * ``drop``: the connection is closed without a response → ``NetworkError``.
    * ``junk``: HTTP 200 with an HTML page → no exception; ccxt returns rows of ``None``.
    * ``duplicate``: the first ``rows`` rows of a list answer appear twice, in place.
    * ``shuffle``: the rows of a list answer come in a deterministic scrambled order.
    * ``truncate``: the normal answer's headers (``Content-Length`` of the whole body), half of the body, then the
      connection is closed → async ccxt: ``ExchangeError`` caused by aiohttp's ``ClientPayloadError``.
    * ``empty``: HTTP 200 with an empty JSON list instead of a list answer (an answer that is not a list, such as
      an error or ``exchangeInfo``, is left as it is) → ccxt returns ``[]``, as if the venue had no rows.

    ``every``: after ``skip``, only every ``every``-th matching request is hit (the 1st, ``every + 1``-th …), so
    ``Fault("empty", path, count=None, skip=3, every=4)`` empties the 4th, 8th, 12th … answer.

    ``symbol`` is a ccxt symbol (``"BTC/USDT"`` matches spot only, ``"BTC/USDT:USDT"`` the perpetual only) or a
    Binance id (``"BTCUSDT"``, both venues).
    """

    kind: str
    path: str | None = None
    symbol: str | None = None
    count: int | None = 1
    skip: int = 0
    status: int | None = None
    retry_after: int | None = 1
    body: str = "html"
    code: int = -1001
    msg: str = "Internal error; unable to process your request. Please try again."
    delay: float = 1.0
    rows: int = 3
    every: int = 1
    hits: int = field(default=0, init=False)
    seen: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise InvalidInputError(f"unknown fault kind {self.kind!r}; use one of {', '.join(FAULT_KINDS)}")
        if self.body not in _BODIES:
            raise InvalidInputError(f"fault body must be one of {', '.join(_BODIES)}")
        if self.every < 1:
            raise InvalidInputError("fault every must be at least 1")
        if self.status is None:
            self.status = {"rate_limit": 429, "server_error": 503}.get(self.kind, 200)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def matches(self, path: str, market_id: str | None, market_symbol: str | None) -> bool:
        if self.path is not None and path != self.path and not fnmatch.fnmatchcase(path, self.path):
            return False
        if self.symbol is None:
            return True
        if "/" in self.symbol:
            return self.symbol == market_symbol
        return self.symbol == market_id


@dataclass(frozen=True)
class Gap:
    """A venue outage ``[start, end)``: klines of every kind and trades in it are missing. ``symbol`` as in
    :class:`Fault`; None means every market."""

    start: TimeLike
    end: TimeLike
    symbol: str | None = None

    def bounds(self) -> tuple[int, int]:
        return to_ms(self.start), to_ms(self.end)

    def applies(self, market_id: str, market_symbol: str) -> bool:
        if self.symbol is None:
            return True
        return self.symbol == (market_symbol if "/" in self.symbol else market_id)


class FaultPlan:
    """The faults and gaps in force; every method is thread-safe."""

    def __init__(self, faults: list[Fault] | None = None, gaps: list[Gap] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = list(faults or [])
        self._gaps: list[tuple[Gap, tuple[int, int]]] = [(gap, gap.bounds()) for gap in gaps or []]

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def add_gap(self, gap: Gap) -> Gap:
        bounds = gap.bounds()
        if bounds[1] <= bounds[0]:
            raise InvalidInputError("a gap must end after it starts")
        with self._lock:
            self._gaps.append((gap, bounds))
        return gap

    def clear(self, gaps: bool = True) -> None:
        """Remove every fault (and every gap unless ``gaps=False``)."""
        with self._lock:
            self._faults.clear()
            if gaps:
                self._gaps.clear()

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, path: str, market_id: str | None, market_symbol: str | None) -> list[Fault]:
        """The faults that fire for this request (counts updated): at most one per kind, first added first."""
        fired: dict[str, Fault] = {}
        with self._lock:
            for fault in self._faults:
                if fault.exhausted or fault.kind in fired:
                    continue
                if not fault.matches(path, market_id, market_symbol):
                    continue
                fault.seen += 1
                if fault.seen <= fault.skip or (fault.seen - fault.skip - 1) % fault.every:
                    continue
                fault.hits += 1
                fired[fault.kind] = fault
        return list(fired.values())

    def gaps_for(self, market_id: str, market_symbol: str) -> list[tuple[int, int]]:
        with self._lock:
            return [bounds for gap, bounds in self._gaps if gap.applies(market_id, market_symbol)]

    def describe(self) -> list[dict[str, Any]]:
        """Faults as plain dicts, for logs and notebooks."""
        with self._lock:
            return [dict(vars(fault)) for fault in self._faults]
