"""Series a venue serves page by page forward in time: bars, funding rates, open interest.

One loop for all of them: choose the range (explicit ``start``, else resume after the last stored row, else the
venue's first row), request pages from ``since`` with the venue's page size, keep the rows inside the range,
write each page in its own transaction, move ``since`` past the last row, stop at the end of the range or
when the venue has nothing more. Subclasses say how to fetch and parse one page.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.timeutil import check_range, ms_to_index, to_ms
from zvt_crypto.recorders.base import Recorder, RunContext, SymbolResult
from zvt_crypto.recorders.exchange import UnsupportedDataError


class PagedRecorder(Recorder):
    """Base of time-paged recorders. ``leveled`` recorders need ``level=`` and align the range to its grid."""

    leveled: ClassVar[bool] = True
    # Where the first run starts when the store is empty and no ``start`` is given: ``None`` asks the venue for
    # its first row (``since=0``); a duration (ms) starts that long before the venue's now (venues that only
    # keep recent history, e.g. Binance's 30 days of open interest).
    default_lookback_ms: ClassVar[int | None] = None

    # -- subclass API --------------------------------------------------------------------------------------------
    def page_limit(self, context: RunContext) -> int:
        raise NotImplementedError

    async def fetch_page(self, context: RunContext, symbol: str, since: int, limit: int) -> pd.DataFrame:
        """One page as a frame with an int ``timestamp`` (ms) column and the schema's value columns."""
        raise NotImplementedError

    def supported_levels(self, exchange: Any) -> set[str] | None:
        """Levels the venue serves for this kind (``None``: no restriction known)."""
        return set((exchange.timeframes or {}).keys())

    async def after_range(self, context: RunContext, symbol: str, eid: str, result: SymbolResult) -> None:
        """Runs after the range was fetched (bars audit gaps here)."""

    def history_limit_ms(self, exchange: Any) -> int | None:
        """How far back from its now the venue serves this kind (``None``: no limit known). Binance refuses an
        open-interest ``startTime`` older than 30 days (-1130), so a start before the limit is moved up to it."""
        return None

    # -- shared machinery ----------------------------------------------------------------------------------------
    def prepare(self, context: RunContext) -> None:
        options = context.options
        if self.leveled:
            if options.get("level") is None:
                raise InvalidInputError(f"recording {self.kind} needs a level: pass level='1m' … '1w'")
            level = options["level"] = Level.parse(options["level"])
            served = self.supported_levels(context.exchange)
            if served is not None and level.timeframe not in served:
                raise UnsupportedDataError(
                    f"{context.exchange.id} does not serve {level} {self.kind}; it serves {', '.join(sorted(served))}"
                )
        elif options.get("level") is not None:
            raise InvalidInputError(f"{self.kind} have no level; drop level={options['level']!r}")
        start = None if options.get("start") is None else to_ms(options["start"])
        if start is not None and self.leveled:
            start = options["level"].ceil(start)
        options["start"] = start
        options["end"] = None if options.get("end") is None else to_ms(options["end"])
        check_range(options["start"], options["end"])

    def step_ms(self, context: RunContext) -> int:
        return context.options["level"].ms if self.leveled else 1

    def last_final(self, context: RunContext, venue_now: int) -> int:
        """The newest time whose row is final: for leveled series the open time of the last closed period."""
        if self.leveled:
            level: Level = context.options["level"]
            return level.floor(venue_now) - level.ms
        return venue_now

    def entity_of(self, context: RunContext, symbol: str) -> str:
        return entity_id(context.exchange.id, symbol)

    async def last_stored(self, context: RunContext, eid: str) -> int | None:
        level = context.options.get("level") if self.leveled else None
        stored = await asyncio.to_thread(
            self.schema.query_data, entity_ids=[eid], level=level, columns=[], order="-timestamp", limit=1,
            store=context.store,
        )
        # len(), not .empty: an index-only frame (no columns) is "empty" to pandas even with a row
        return None if len(stored) == 0 else to_ms(stored.index.get_level_values("timestamp")[0])

    async def write_page(self, context: RunContext, frame: pd.DataFrame, eid: str) -> int:
        frame = frame.assign(entity_id=eid, timestamp=ms_to_index(frame["timestamp"].to_numpy()))
        level = context.options.get("level") if self.leveled else None
        result = await asyncio.to_thread(context.store.write, self.schema, frame, level=level)
        return result.changed

    async def fetch_range(self, context: RunContext, symbol: str, since: int, until: int,
                          result: SymbolResult) -> list[int]:
        """Request ``[since, until]`` page by page, writing each page; returns the times received."""
        eid = self.entity_of(context, symbol)
        limit = self.page_limit(context)
        received: list[int] = []
        while since <= until:
            page = await self.fetch_page(context, symbol, since, limit)
            page = page[(page["timestamp"] >= since) & (page["timestamp"] <= until)]
            page = page.drop_duplicates().drop_duplicates("timestamp", keep="last").sort_values("timestamp")
            if page.empty:
                break
            result.rows += len(page)
            result.changed += await self.write_page(context, page, eid)
            stamps = page["timestamp"].to_numpy()
            received.extend(int(value) for value in stamps)
            since = int(stamps[-1]) + self.step_ms(context)
        return received

    async def first_available(self, context: RunContext, symbol: str) -> int | None:
        if self.default_lookback_ms is not None:
            return await self.venue_now(context) - self.default_lookback_ms
        page = await self.fetch_page(context, symbol, 0, 1)
        return None if page.empty else int(page["timestamp"].min())

    async def record_symbol(self, context: RunContext, symbol: str) -> SymbolResult:
        result = SymbolResult(symbol)
        eid = self.entity_of(context, symbol)
        end = self.last_final(context, await self.venue_now(context))
        if context.options["end"] is not None:
            end = min(end, context.options["end"])
        start = context.options["start"]
        if start is None:
            last = await self.last_stored(context, eid)
            start = last + self.step_ms(context) if last is not None else await self.first_available(context, symbol)
            if start is not None and self.leveled:
                start = context.options["level"].ceil(start)
        # Fix: a resume after a pause longer than the venue's history (or an explicit start before it) asked for
        # a startTime the venue refuses, and the symbol failed on every later run: start at the oldest it serves.
        limit = self.history_limit_ms(context.exchange)
        if start is not None and limit is not None:
            oldest = await self.venue_now(context) - limit
            if start < oldest:
                start = context.options["level"].ceil(oldest) if self.leveled else oldest
        if start is not None and start <= end:
            await self.fetch_range(context, symbol, start, end, result)
        await self.after_range(context, symbol, eid, result)
        return result
