"""Series a venue serves page by page forward in time: bars, funding rates, open interest.

One loop for all of them: choose the range (explicit ``start``, else resume after the last stored row, else the
venue's first row), request pages from ``since`` with the venue's page size, keep the rows inside the range,
write whole pages in batches (one transaction each, see ``write_batch_rows``), move ``since`` past the last row,
stop at the end of the range or when the venue has nothing more. Subclasses say how to fetch and parse one page.

An empty answer is a claim, not the end of the data: venues send ``[]`` now and then (a cache, a restart) where
they have rows. Before the end of the range it is asked again (``empty_answer_retries``), unless the previous
answer was already shorter than the venue's pages (it said then that it had no more); a leveled range the venue
still leaves unserved up to its last final time (after the bars' audit asked again) fails the symbol, unless the
venue says the market is not trading. No request is added on the happy path: full pages never end in an empty
answer before the end.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidDataError, InvalidInputError
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.progress import PageCount
from zvt_crypto.contract.timeutil import check_range, iso, to_ms
from zvt_crypto.recorders.base import Recorder, RunContext, SymbolResult
from zvt_crypto.recorders.exchange import UnsupportedDataError
from zvt_crypto.recorders.venues import OhlcvPaging

#: No crypto market has a bar before the Bitcoin genesis block (2009-01-03 UTC): the first-bar search stops here.
EARLIEST_BAR_MS = 1_230_940_800_000


@dataclass
class Fetched:
    """What :meth:`PagedRecorder.fetch_range` got: the times received; ``unserved_from``: where the venue kept
    answering empty before the end of the range (``None``: it did not); ``later``: an answer had rows after the
    range (the venue has data past it, so what it skipped inside the range is an outage it shows)."""

    received: list[int] = field(default_factory=list)
    unserved_from: int | None = None
    later: bool = False
    future_noted: bool = False


class PagedRecorder(Recorder):
    """Base of time-paged recorders. ``leveled`` recorders need ``level=`` and align the range to its grid."""

    leveled: ClassVar[bool] = True
    # Where the first run starts when the store is empty and no ``start`` is given: ``None`` asks the venue for
    # its first row (``since=0``); a duration (ms) starts that long before the venue's now (venues that only
    # keep recent history, e.g. Binance's 30 days of open interest).
    default_lookback_ms: ClassVar[int | None] = None
    # Whether ``after_range`` audits gaps (bars): only then does ``recheck_gaps=True`` mean something.
    audits_gaps: ClassVar[bool] = False
    # Pages are written in batches: once this many rows are pending, or the oldest pending page is this old, and at
    # the end of the range (one transaction per write costs more than writing 1,000 rows). A batch is written whole
    # or not at all, in order, and pending pages are written before an error propagates; pages received but not
    # written when the process dies are simply requested again by the next run (it resumes after the last stored).
    write_batch_rows: ClassVar[int] = 10_000
    write_batch_seconds: ClassVar[float] = 2.0
    # An empty answer where rows are expected is asked again this many times before it is believed.
    empty_answer_retries: ClassVar[int] = 1

    # -- subclass API --------------------------------------------------------------------------------------------
    def page_limit(self, context: RunContext) -> int:
        raise NotImplementedError

    def paging(self, context: RunContext) -> OhlcvPaging:
        """How the venue answers a page from ``since`` (``VenueProfile.ohlcv_paging``): ``"forward"`` (the first
        rows at or after ``since``), ``"window"`` (the rows of ``[since, since + limit steps)``) or ``"latest"``."""
        return "forward"

    async def fetch_page(self, context: RunContext, symbol: str, since: int, limit: int) -> pd.DataFrame:
        """One page as a frame with an int ``timestamp`` (ms) column and the schema's value columns."""
        raise NotImplementedError

    def supported_levels(self, exchange: Any) -> set[str] | None:
        """Levels the venue serves for this kind (``None``: no restriction known)."""
        return set((exchange.timeframes or {}).keys())

    async def after_range(self, context: RunContext, symbol: str, eid: str, result: SymbolResult, end: int,
                          unserved_from: int | None) -> int | None:
        """Runs after the range ``[…, end]`` was fetched (bars audit gaps here); returns where the venue still
        leaves the end of the range unserved (``unserved_from``: where the range's requests stopped at empty
        answers; ``None``: nothing left)."""
        return unserved_from

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
                    f"{context.exchange.id} does not serve {level} {self.kind}; it serves {_by_length(served)}"
                    + (_resample_hint(level, served, context.exchange.id) if self.kind.endswith("bars") else "")
                )
        elif options.get("level") is not None:
            raise InvalidInputError(f"{self.kind} have no level; drop level={options['level']!r}")
        if options.get("recheck_gaps") and not self.audits_gaps:
            raise InvalidInputError(f"{self.kind} are not gap-audited; drop recheck_gaps (--recheck-gaps)")
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

    async def last_stored(self, context: RunContext, eid: str, until: int | None = None) -> int | None:
        """The newest stored time (not after ``until`` when given)."""
        level = context.options.get("level") if self.leveled else None
        stored = await asyncio.to_thread(
            self.schema.query_data, entity_ids=[eid], level=level, columns=[], order="-timestamp", limit=1,
            end_timestamp=until, store=context.store,
        )
        # len(), not .empty: an index-only frame (no columns) is "empty" to pandas even with a row
        return None if len(stored) == 0 else to_ms(stored.index.get_level_values("timestamp")[0])

    async def resume_after(self, context: RunContext, symbol: str, eid: str, final: int,
                           result: SymbolResult) -> int | None:
        """The last stored time to resume after, ignoring stray rows dated after the venue's last final time
        (an import from elsewhere, a clock gone wrong): resuming after one of them would record nothing ever
        again. The strays are left in place and named in the run's notes."""
        last = await self.last_stored(context, eid)
        if last is None or last <= final:
            return last  # the usual case: one query
        strays = await asyncio.to_thread(
            self.schema.query_data, entity_ids=[eid], level=context.options.get("level") if self.leveled else None,
            columns=[], start_timestamp=final + 1, store=context.store,
        )
        level = f" --level {context.options['level']}" if self.leveled else ""
        result.notes.append(
            f"{len(strays)} stored row(s) dated after {context.exchange.id}'s last final time {iso(final)} (the "
            f"latest {iso(last)}) are not resumed from; inspect them with `zvt-crypto query {self.schema.__name__} "
            f"--exchange {context.exchange.id} --symbol {symbol}{level} --start {iso(final + 1)}` and delete them "
            f"from the {self.schema.__tablename__} table if they are wrong"
        )
        return await self.last_stored(context, eid, until=final)

    async def write_page(self, context: RunContext, frame: pd.DataFrame, eid: str) -> int:
        frame = frame.assign(entity_id=eid)  # times stay epoch ms, which the writer stores as they are
        level = context.options.get("level") if self.leveled else None
        result = await asyncio.to_thread(context.store.write, self.schema, frame, level=level)
        return result.changed

    async def write_pages(self, context: RunContext, pages: list[pd.DataFrame], eid: str) -> int:
        """Write consecutive pages in one transaction. A batch refused as invalid is written again page by page
        in order, so the pages before the bad one are stored and the error is about the bad page."""
        if len(pages) == 1:
            return await self.write_page(context, pages[0], eid)
        try:
            return await self.write_page(context, pd.concat(pages, ignore_index=True), eid)
        except InvalidDataError:
            changed = 0
            for page in pages:
                changed += await self.write_page(context, page, eid)
            return changed

    async def ask_again_if_empty(self, context: RunContext, symbol: str, since: int, limit: int,
                                 page: pd.DataFrame) -> pd.DataFrame:
        """``page``, or if it is empty the first non-empty answer of up to ``empty_answer_retries`` more requests."""
        for _ in range(self.empty_answer_retries):
            if not page.empty:
                break
            page = await self.fetch_page(context, symbol, since, limit)
        return page

    async def fetch_range(self, context: RunContext, symbol: str, since: int, until: int,
                          result: SymbolResult) -> Fetched:
        """Request ``[since, until]`` page by page and write the pages in batches (``write_batch_rows``), each batch
        in the background while the next pages are fetched; returns the times received and how the range ended."""
        eid = self.entity_of(context, symbol)
        limit = self.page_limit(context)
        paging = self.paging(context)
        fetched = Fetched()
        received = fetched.received
        pending: list[pd.DataFrame] = []
        pending_rows, pending_since = 0, 0.0
        writing: asyncio.Task[int] | None = None  # the batch being written while the next pages are fetched
        longest, last_length = 0, 0  # answer lengths: one shorter than the longest said "no more rows"

        async def flush(wait: bool = False) -> None:
            """Write the pending pages in the background, after the batch before them; ``wait``: and finish."""
            nonlocal pending, pending_rows, writing
            if writing is not None:
                try:
                    # shielded: cancelling this task must not lose the batch's count (its thread writes it anyway)
                    changed = await asyncio.shield(writing)
                except asyncio.CancelledError:
                    if not writing.cancelled():
                        raise  # this task was cancelled, the batch goes on: the flush that follows counts it
                    writing, pending, pending_rows = None, [], 0
                    raise
                except BaseException:
                    writing = None
                    pending, pending_rows = [], 0  # never write past a batch that failed: that would leave a hole
                    raise
                writing = None
                result.changed += changed
            pages, pending, pending_rows = pending, [], 0
            if pages:
                writing = asyncio.ensure_future(self.write_pages(context, pages, eid))
                if wait:
                    await flush()

        pages = self.page_count(context, symbol, since, until, limit)
        try:
            while since <= until:
                answer = await self.fetch_page(context, symbol, since, limit)
                if answer.empty and paging != "window" and not 0 < last_length < longest:
                    answer = await self.ask_again_if_empty(context, symbol, since, limit, answer)
                last_length, longest = len(answer), max(longest, len(answer))
                page = _clip(answer, since, until)
                if len(page) < len(answer):  # rare: rows outside the range (the last page, a disordered one)
                    await self._rows_after(context, answer, until, fetched, result)
                if page.empty:
                    if paging != "window":
                        if answer.empty:  # forward: the venue has nothing more; latest: nothing newer
                            fetched.unserved_from = since
                        break
                    since += limit * self.step_ms(context)  # only an empty window (before a listing, an outage)
                    pages.fetched(since)
                    continue
                result.rows += len(page)
                if not pending:
                    pending_since = time.monotonic()
                pending.append(page)
                pending_rows += len(page)
                if (pending_rows >= self.write_batch_rows
                        or time.monotonic() - pending_since >= self.write_batch_seconds):
                    await flush()
                stamps = page["timestamp"].to_numpy()
                received.extend(stamps.tolist())
                since = int(stamps[-1]) + self.step_ms(context)
                pages.fetched(since)
            pages.finish()
        except BaseException as exc:  # also a cancelled or interrupted run: keep the whole pages received
            pages.finish()  # its bar leaves the display; the run's summary says what failed
            try:
                await flush(wait=True)
            except BaseException as error:  # noqa: BLE001 - the first error is the one to report
                exc.add_note(f"(writing the pages received before it failed as well: {error!r})")
            raise
        await flush(wait=True)
        return fetched

    def row_spacing_ms(self, context: RunContext) -> int | None:
        """How far apart the venue's rows are, for the pages a range takes (``None``: unknown, no page estimate)."""
        return self.step_ms(context) if self.leveled else None

    def page_count(self, context: RunContext, symbol: str, since: int, until: int, limit: int) -> PageCount:
        """Pages fetched of pages expected for ``symbol``'s range, shown as a task of the run's progress display
        (hidden when the range is done, so a run over many symbols shows only the ones in flight)."""
        spacing = self.row_spacing_ms(context)
        progress = context.progress
        if progress is None:
            return PageCount.start(since, until, spacing, limit)
        task = progress.add_task(f"  {symbol} pages", total=None)

        def show(done: int, expected: int | None) -> None:
            progress.update(task, completed=done, total=expected, visible=expected is None or done < expected)

        return PageCount.start(since, until, spacing, limit, show)

    async def _rows_after(self, context: RunContext, answer: pd.DataFrame, until: int, fetched: Fetched,
                          result: SymbolResult) -> None:
        """Note what an answer has after the range (never stored): rows up to the venue's clock plus one level
        (the still-open bar) show that it has data past the range; rows later than that are not data at all."""
        stamps = answer["timestamp"].to_numpy()
        after = stamps[stamps > until]
        if not len(after):
            return
        horizon = await self.venue_now(context) + self.step_ms(context)
        fetched.later = fetched.later or bool((after <= horizon).any())
        future = int((after > horizon).sum())
        if future and not fetched.future_noted:
            fetched.future_noted = True
            result.notes.append(f"{context.exchange.id} sent {future} row(s) dated after its clock (up to "
                                f"{iso(int(after.max()))}); they were ignored")

    async def first_available(self, context: RunContext, symbol: str) -> int | None:
        """Where a first run without ``start`` begins: the venue's first row (``None``: it has none).

        ``forward`` venues answer it to ``since=0``; ``latest`` venues serve only their latest page, whose oldest
        row is the first there is. ``window`` venues answer ``since=0`` with an empty 1970 window, so the first
        bar is searched for (:meth:`search_first`) rather than assumed from a fixed look-back: a user who asks
        for "everything" gets everything, in a logarithmic number of requests."""
        if self.default_lookback_ms is not None:
            return await self.venue_now(context) - self.default_lookback_ms
        paging = self.paging(context)
        if paging == "window" and self.leveled:
            return await self.search_first(context, symbol)
        limit = 1 if paging == "forward" else self.page_limit(context)
        page = await self.fetch_page(context, symbol, 0, limit)
        page = await self.ask_again_if_empty(context, symbol, 0, limit, page)  # one empty answer skipped symbols
        return None if page.empty else int(page["timestamp"].min())

    async def search_first(self, context: RunContext, symbol: str) -> int | None:
        """The first bar of a window-paged venue: windows of one page, going back from the latest in doubling
        steps until one is empty (or :data:`EARLIEST_BAR_MS`), then a binary search between the last empty and
        the first non-empty window. About ``2 * log2(history / page)`` requests (≈ 20 for years of 1m bars).

        It takes an empty window as "before the listing": an outage of a whole page exactly where a probe lands
        would make it start after the outage. The history before it is still recorded by a run with an explicit
        ``start`` (the range walks through empty windows)."""
        level: Level = context.options["level"]
        limit = self.page_limit(context)
        window = limit * level.ms
        floor = level.ceil(EARLIEST_BAR_MS)

        async def probe(at: int) -> int | None:
            page = await self.ask_again_if_empty(context, symbol, at, limit,
                                                 await self.fetch_page(context, symbol, at, limit))
            stamps = page["timestamp"][page["timestamp"] >= at]
            return None if stamps.empty else int(stamps.min())

        hi = max(floor, level.floor(await self.venue_now(context)) - window + level.ms)  # the latest window
        first = await probe(hi)
        if first is None:
            return None
        lo, span = None, window
        while lo is None and hi > floor:  # gallop back until a window is empty
            at = max(floor, hi - span)
            found = await probe(at)
            if found is None:
                lo = at
            else:
                hi, first, span = at, found, span * 2
        if lo is None:
            return first  # there are bars in the earliest window: its first is the first
        while hi - lo > window:  # the window at lo is empty, the one at hi is not
            mid = level.floor(lo + (hi - lo) // 2)
            found = await probe(mid)
            if found is None:
                lo = mid
            else:
                hi, first = mid, found
        return first  # [lo, lo + window) is empty and reaches hi: the first bar is the one found at hi

    async def record_symbol(self, context: RunContext, symbol: str) -> SymbolResult:
        result = self.new_result(context, symbol)
        eid = self.entity_of(context, symbol)
        final = self.last_final(context, await self.venue_now(context))
        end = final if context.options["end"] is None else min(final, context.options["end"])
        start = context.options["start"]
        if start is None:
            last = await self.resume_after(context, symbol, eid, final, result)
            start = last + self.step_ms(context) if last is not None else await self.first_available(context, symbol)
            if start is None:
                result.notes.append(
                    f"{context.exchange.id} answered no {self.kind} for it (asked {1 + self.empty_answer_retries} "
                    "times): nothing recorded; run again later, or pass --start if it should have data"
                )
            elif self.leveled:
                start = context.options["level"].ceil(start)
        # Fix: a resume after a pause longer than the venue's history (or an explicit start before it) asked for
        # a startTime the venue refuses, and the symbol failed on every later run: start at the oldest it serves.
        limit = self.history_limit_ms(context.exchange)
        if start is not None and limit is not None:
            oldest = await self.venue_now(context) - limit
            if start < oldest:
                start = context.options["level"].ceil(oldest) if self.leveled else oldest
        unserved_from = None
        if start is not None and start <= end:
            unserved_from = (await self.fetch_range(context, symbol, start, end, result)).unserved_from
        unserved_from = await self.after_range(context, symbol, eid, result, end, unserved_from)
        if unserved_from is not None and self.leveled:  # an unleveled series (funding) may simply have ended
            # A failure, not a note, on a trading market: the grid says these bars exist (the period closed) and
            # the venue confirmed no outage after them, so exiting 0 would store less than the venue has. A market
            # the venue says is not trading (ccxt ``active`` false: halted, delisted) may simply have no more bars.
            market = (getattr(context.exchange, "markets", None) or {}).get(symbol) or {}
            if market.get("active") is False:
                result.notes.append(f"not trading on {context.exchange.id} (halted or delisted): no {self.kind} "
                                    f"served from {iso(unserved_from)} to {iso(end)}")
            else:
                result.error = (
                    f"{context.exchange.id} answered no {self.kind} from {iso(unserved_from)} to {iso(end)} (asked "
                    f"again): not recorded; run again later (it asks again), `zvt-crypto coverage --schema "
                    f"{self.schema.__name__} --exchange {context.exchange.id} --symbol {symbol} --level "
                    f"{context.options['level']} --end {iso(end)}` shows the hole"
                )
        return result


def _clip(page: pd.DataFrame, since: int, until: int) -> pd.DataFrame:
    """The page's rows inside ``[since, until]``, one per time, in time order. A well-behaved venue's page is
    that already (times strictly increasing, inside the range), which is checked in a few µs; others are fixed."""
    stamps = page["timestamp"].to_numpy()
    if len(stamps) and stamps[0] >= since and stamps[-1] <= until and bool((np.diff(stamps) > 0).all()):
        return page
    page = page[(page["timestamp"] >= since) & (page["timestamp"] <= until)]
    return page.drop_duplicates().drop_duplicates("timestamp", keep="last").sort_values("timestamp")


def _by_length(served: set[str]) -> str:
    """The venue's levels shortest first (``5m, 15m, 1h``, not ``15m, 1h, 5m``); ones we do not know last."""
    known = {name: Level.parse(name).ms for name in served if name in Level._value2member_map_}
    return ", ".join(sorted(served, key=lambda name: (name not in known, known.get(name, 0), name)))


def _resample_hint(level: Level, served: set[str], exchange: str) -> str:
    """How to build ``level`` exactly from a level the venue serves (the coarsest that divides it), if any."""
    finer = [known for name in served if name in Level._value2member_map_
             and (known := Level(name)) != level and known.divides(level)]
    if not finer:
        return ""
    source = max(finer, key=lambda known: known.ms)
    return (f"; record {source} bars and build {level} bars exactly from them: zvt-crypto resample --exchange "
            f"{exchange} --symbol SYMBOL --from {source} --to {level}")
