"""Bars (and mark / index price bars) from any ccxt exchange: incremental, closed bars only, gap-audited.

Per symbol and level:

1. **Range.** From ``start`` if given, else from the bar after the last one stored (resume), else from the
   venue's first bar (``since=0`` returns it). Up to the last *closed* bar by the venue's clock
   (``fetch_time``), or ``end``. The still-open bar is never stored, so stored bars are final.
2. **Pages.** ``fetch_ohlcv(since, limit)`` with the venue's page size; every page is checked (a junk 200 body
   turns into rows of ``None`` in ccxt: that is retried, never stored), de-duplicated, sorted and written in its
   own transaction. A run killed at any moment leaves whole pages; the next run resumes after the last one.
3. **Gap audit.** The stored range is checked against the level's grid (``coverage``); each hole is requested
   again; what the venue still does not return is stored as a :class:`KnownGap` (an outage it confirms),
   so coverage shows it and later runs do not retry it forever.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from zvt_crypto.contract.coverage import coverage
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.timeutil import check_range, ms_to_index, to_ms
from zvt_crypto.domain import Bar, IndexPriceBar, KnownGap, MarkPriceBar
from zvt_crypto.recorders.base import Recorder, RunContext, SymbolResult
from zvt_crypto.recorders.exchange import UnsupportedDataError
from zvt_crypto.recorders.venues import venue_profile

OHLCV = ["timestamp", "open", "high", "low", "close", "volume"]


def check_ohlcv(rows: Any) -> None:
    """Reject what ccxt returns for a body that is not klines (rows of ``None``), so the call is retried."""
    import ccxt

    if not isinstance(rows, list):
        raise ccxt.BadResponse(f"expected a list of OHLCV rows, got {type(rows).__name__}")
    for row in rows:
        if not isinstance(row, list) or len(row) < 5 or any(value is None for value in row[:5]):
            raise ccxt.BadResponse(f"malformed OHLCV row {row!r}: the venue answered with something else than klines")


def rows_to_frame(rows: list[list[Any]], *, since: int, until: int, with_volume: bool) -> pd.DataFrame:
    """Rows within ``[since, until]`` as a frame: exact duplicates dropped, sorted (venues send both)."""
    columns = OHLCV if with_volume else OHLCV[:5]
    frame = pd.DataFrame([row[: len(columns)] for row in rows], columns=columns)
    frame["timestamp"] = frame["timestamp"].astype("int64")
    frame = frame[(frame["timestamp"] >= since) & (frame["timestamp"] <= until)]
    frame = frame.drop_duplicates().drop_duplicates("timestamp", keep="last")  # a corrected copy wins
    return frame.sort_values("timestamp", ignore_index=True)


class BarsRecorder(Recorder):
    """``Bar.record_data(exchange="binance", symbols=["BTC/USDT"], level="1h", start=None, end=None)``."""

    schema = Bar
    capability = "fetchOHLCV"
    kind = "bars"
    price: ClassVar[str | None] = None  # "mark" / "index" in subclasses

    def prepare(self, context: RunContext) -> None:
        options = context.options
        if options.get("level") is None:
            raise InvalidInputError(f"recording {self.kind} needs a level: pass level='1m' … '1w'")
        level = options["level"] = Level.parse(options["level"])
        if level.timeframe not in (context.exchange.timeframes or {}):
            raise UnsupportedDataError(f"{context.exchange.id} does not serve {level} {self.kind}")
        start = options["start"] = None if options.get("start") is None else level.ceil(to_ms(options["start"]))
        end = options["end"] = None if options.get("end") is None else to_ms(options["end"])
        check_range(start, end)

    async def _venue_now(self, context: RunContext) -> int:
        """The venue's clock (never trust ours to decide which bar is closed)."""
        cached = context.options.get("_venue_now")
        if cached is None:
            if context.exchange.has.get("fetchTime"):
                cached = int(await context.client.call("fetch_time"))
            else:
                cached = context.exchange.milliseconds()
            context.options["_venue_now"] = cached
        return int(cached)

    def _params(self) -> dict[str, Any]:
        return {"price": self.price} if self.price else {}

    async def _fetch(self, context: RunContext, symbol: str, level: Level, since: int, limit: int) -> list[list[Any]]:
        return await context.client.call("fetch_ohlcv", symbol, level.timeframe, since, limit, self._params(),
                                         check=check_ohlcv)

    async def _write(self, context: RunContext, frame: pd.DataFrame, eid: str, level: Level) -> int:
        frame = frame.assign(entity_id=eid, timestamp=ms_to_index(frame["timestamp"].to_numpy()))
        result = await asyncio.to_thread(context.store.write, self.schema, frame, level=level)
        return result.changed

    async def _fetch_range(self, context: RunContext, symbol: str, level: Level, since: int, until: int,
                           result: SymbolResult) -> list[int]:
        """Request ``[since, until]`` page by page, writing each page; returns the open times received."""
        eid = entity_id(context.exchange.id, symbol)
        limit = venue_profile(context.exchange.id).ohlcv_limit
        received: list[int] = []
        while since <= until:
            rows = await self._fetch(context, symbol, level, since, limit)
            frame = rows_to_frame(rows, since=since, until=until, with_volume=self.schema is Bar)
            if frame.empty:
                break
            result.rows += len(frame)
            result.changed += await self._write(context, frame, eid, level)
            stamps = frame["timestamp"].to_numpy()
            received.extend(stamps.tolist())
            since = int(stamps[-1]) + level.ms
        return received

    async def _first_bar(self, context: RunContext, symbol: str, level: Level) -> int | None:
        rows = await self._fetch(context, symbol, level, 0, 1)
        return int(rows[0][0]) if rows else None

    async def record_symbol(self, context: RunContext, symbol: str) -> SymbolResult:
        level: Level = context.options["level"]
        result = SymbolResult(symbol)
        eid = entity_id(context.exchange.id, symbol)
        last_closed = level.floor(await self._venue_now(context)) - level.ms
        end = last_closed if context.options["end"] is None else min(level.floor(context.options["end"]), last_closed)
        start = context.options["start"]
        if start is None:
            stored = self.schema.query_data(entity_ids=[eid], level=level, columns=[], order="-timestamp", limit=1,
                                            store=context.store)
            if not stored.empty:
                start = to_ms(stored.index.get_level_values("timestamp")[0]) + level.ms
            else:
                start = await self._first_bar(context, symbol, level)
        if start is not None and start <= end:
            await self._fetch_range(context, symbol, level, start, end, result)
        await self._audit(context, symbol, eid, level, result)
        return result

    async def _audit(self, context: RunContext, symbol: str, eid: str, level: Level, result: SymbolResult) -> None:
        """Re-request every unexplained hole on the grid; store what the venue confirms empty as known gaps."""
        rows = await asyncio.to_thread(coverage, context.store, self.schema, entity_ids=[eid], level=level)
        holes = [gap for row in rows for gap in row.gaps if not gap.known]
        result.gaps_found += len(holes)
        confirmed: list[dict[str, Any]] = []
        for gap in holes:
            received = await self._fetch_range(context, symbol, level, gap.start, gap.end, result)
            expected = np.arange(gap.start, gap.end + level.ms, level.ms, dtype=np.int64)
            still_missing = np.setdiff1d(expected, np.asarray(received, dtype=np.int64))
            if len(still_missing) == 0:
                result.gaps_filled += 1
                continue
            for run in np.split(still_missing, np.where(np.diff(still_missing) != level.ms)[0] + 1):
                confirmed.append({
                    "schema_name": self.schema.__name__, "entity_id": eid, "level": str(level),
                    "start_timestamp": int(run[0]), "end_timestamp": int(run[-1]),
                    "reason": f"{context.exchange.id} returned no {self.kind} for this range",
                    "confirmed_timestamp": time.time_ns() // 1_000_000,
                })
        if confirmed:
            await asyncio.to_thread(context.store.write, KnownGap, pd.DataFrame(confirmed))
            result.gaps_confirmed += len(confirmed)


class MarkPriceBarsRecorder(BarsRecorder):
    """Mark-price bars of perps: ``MarkPriceBar.record_data(exchange="binanceusdm", ...)``."""

    schema = MarkPriceBar
    capability = "fetchMarkOHLCV"
    kind = "mark-price bars"
    price = "mark"


class IndexPriceBarsRecorder(BarsRecorder):
    """Index-price bars of perps: ``IndexPriceBar.record_data(exchange="binanceusdm", ...)``."""

    schema = IndexPriceBar
    capability = "fetchIndexOHLCV"
    kind = "index-price bars"
    price = "index"
