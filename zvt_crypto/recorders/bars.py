"""Bars (and mark / index price bars) from any ccxt exchange: closed bars only, gap-audited.

The range and paging come from :class:`PagedRecorder` (resume after the last stored bar, venue's clock, whole
pages written in batches, one transaction each). Specific to bars:

* A bar is final once its period has closed by the venue's clock: the still-open bar is never stored.
* Every page is checked: a junk 200 body turns into rows of ``None`` in ccxt — that is retried, never stored.
* **Gap audit.** After the run the stored range, up to the end of the requested range (the venue's last closed
  bar), is checked against the level's grid (``coverage``); each hole is requested again. What the venue still
  does not return is requested a second time, separately, and only what both answers left out is stored as a
  :class:`KnownGap` — and only where the venue shows the outage: a stored bar after the hole, or an answer with
  bars after it. One empty answer never turns real data into a permanent gap; an end of the range the venue
  leaves unserved stays an unexplained hole and fails the symbol (the next run asks again). Known gaps are not
  requested again unless the run is asked to (``recheck_gaps=True``, ``record … --recheck-gaps``): then the venue
  is asked for them like for holes, and those it now serves are filled and no longer known.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.schema import Schema
from zvt_crypto.domain import Bar, IndexPriceBar, KnownGap, MarkPriceBar
from zvt_crypto.domain.coverage import Gap, coverage
from zvt_crypto.recorders.base import RunContext, SymbolResult
from zvt_crypto.recorders.markets import set_listing_if_unknown
from zvt_crypto.recorders.paged import PagedRecorder
from zvt_crypto.recorders.venues import OhlcvPaging, venue_profile

OHLCV = ["timestamp", "open", "high", "low", "close", "volume"]


def check_ohlcv(rows: Any) -> None:
    """Reject what ccxt returns for a body that is not klines (rows of ``None``), so the call is retried."""
    import ccxt

    if not isinstance(rows, list):
        raise ccxt.BadResponse(f"expected a list of OHLCV rows, got {type(rows).__name__}")
    for row in rows:
        if not isinstance(row, list) or len(row) < 5 or any(value is None for value in row[:5]):
            raise ccxt.BadResponse(f"malformed OHLCV row {row!r}: the venue answered with something else than klines")


def ohlcv_values(rows: Any, width: int) -> np.ndarray | None:
    """The rows as one ``(n, width)`` float64 array, checked as :func:`check_ohlcv` checks them (in ``np.array``
    ``None`` becomes NaN, so a NaN among the first five columns is a malformed row); ``None`` for well-formed rows
    that do not make one numeric array (ragged lengths, other types): the caller then reads them row by row."""
    if not isinstance(rows, list) or not rows:
        check_ohlcv(rows)  # raises for a non-list
        return np.empty((0, width))
    values = None
    lengths = set(map(len, rows)) if all(type(row) is list for row in rows) else set()
    if len(lengths) == 1 and (length := lengths.pop()) >= max(width, 5):
        try:  # one pass over the values, straight into the array (None → TypeError)
            flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64, count=len(rows) * length)
            values = flat.reshape(len(rows), length)
        except (ValueError, TypeError):
            values = None
    if values is None or np.isnan(values[:, :5]).any():
        check_ohlcv(rows)  # raises, naming the first malformed row
        return None
    return values[:, :width]


class BarsRecorder(PagedRecorder):
    """``Bar.record_data(exchange="binance", symbols=["BTC/USDT"], level="1h", start=None, end=None)``."""

    schema: ClassVar[type[Schema]] = Bar  # (the subclasses record the mark and index price bars)
    capability = "fetchOHLCV"
    kind = "bars"
    price: ClassVar[str | None] = None  # "mark" / "index" in subclasses
    audits_gaps = True

    def page_limit(self, context: RunContext) -> int:
        return venue_profile(context.exchange.id).ohlcv_limit

    def paging(self, context: RunContext) -> OhlcvPaging:
        return venue_profile(context.exchange.id).ohlcv_paging

    async def fetch_page(self, context: RunContext, symbol: str, since: int, limit: int) -> pd.DataFrame:
        params = {"price": self.price} if self.price else {}
        level: Level = context.options["level"]
        columns = OHLCV if self.schema is Bar else OHLCV[:5]
        checked: list[np.ndarray | None] = []

        def check(rows: Any) -> None:  # one array for the check and the frame, built per attempt
            checked[:] = [ohlcv_values(rows, len(columns))]

        rows = await context.client.call("fetch_ohlcv", symbol, level.timeframe, since, limit, params, check=check)
        values = checked[0] if checked else ohlcv_values(rows, len(columns))
        if values is None:  # not one numeric array (ragged rows, other types): as pandas reads them
            frame = pd.DataFrame([row[: len(columns)] for row in rows], columns=columns)
            return frame.astype({"timestamp": "int64"})
        columns_of = values.T  # one array per column
        data = {"timestamp": columns_of[0].astype(np.int64)}
        data.update(zip(columns[1:], columns_of[1:], strict=True))
        return pd.DataFrame(data, copy=False)

    async def first_available(self, context: RunContext, symbol: str) -> int | None:
        first = await super().first_available(context, symbol)
        if first is not None and self.schema is Bar:
            await asyncio.to_thread(set_listing_if_unknown, context.store, self.entity_of(context, symbol), first)
        return first

    async def after_range(self, context: RunContext, symbol: str, eid: str, result: SymbolResult, end: int,
                          unserved_from: int | None) -> int | None:
        """Re-request every unexplained hole on the grid up to ``end`` (and, with ``recheck_gaps``, every known
        gap); store what the venue confirms empty as known gaps. Returns where the end of the range is still
        unserved (an unconfirmed hole reaching ``end``), else ``None``."""
        level: Level = context.options["level"]
        rows = await asyncio.to_thread(coverage, context.store, self.schema, entity_ids=[eid], level=level, end=end)
        recheck = context.options.get("recheck_gaps")
        start = context.options.get("start")
        holes = [(gap, row.last) for row in rows for gap in row.gaps
                 if not gap.known or (recheck and (start is None or gap.end >= start))]
        result.gaps_found += len(holes)
        confirmed: list[dict[str, Any]] = []
        unserved_from = None
        for gap, last in holes:
            still_missing, shown = await self._request_twice(context, symbol, gap, result)
            if len(still_missing) == 0:
                result.gaps_filled += 1
            elif gap.end < last or shown:  # the venue has bars after it: an outage it shows
                confirmed += [self._known_gap(context, eid, run) for run in _runs(still_missing, level.ms)]
            else:  # the end of the range, unserved: nothing shows an outage, so it stays a hole to ask again
                unserved_from = int(still_missing[0])
        rechecked = [gap for gap, _ in holes if gap.known]
        if confirmed or rechecked:
            await asyncio.to_thread(self._replace_known_gaps, context, eid, rechecked, confirmed)
            result.gaps_confirmed += len(confirmed)
        return unserved_from

    async def _request_twice(self, context: RunContext, symbol: str, gap: Gap,
                             result: SymbolResult) -> tuple[np.ndarray, bool]:
        """The hole's bars the venue did not return to two separate requests, and whether an answer had bars
        after them (the venue skipped them)."""
        step = context.options["level"].ms
        missing = np.arange(gap.start, gap.end + step, step, dtype=np.int64)
        shown = False
        for _ in range(2):
            fetched = await self.fetch_range(context, symbol, int(missing[0]), int(missing[-1]), result)
            shown = shown or fetched.later
            missing = np.setdiff1d(missing, np.asarray(fetched.received, dtype=np.int64))
            if len(missing) == 0:
                break
        return missing, shown

    def _known_gap(self, context: RunContext, eid: str, run: np.ndarray) -> dict[str, Any]:
        return {
            "schema_name": self.schema.__name__, "entity_id": eid, "level": str(context.options["level"]),
            "start_timestamp": int(run[0]), "end_timestamp": int(run[-1]),
            "reason": f"{context.exchange.id} returned no {self.kind} for this range",
            "confirmed_timestamp": time.time_ns() // 1_000_000,
        }

    def _replace_known_gaps(self, context: RunContext, eid: str, rechecked: list[Gap],
                            confirmed: list[dict[str, Any]]) -> None:
        """Store the confirmed gaps, then drop the rechecked known gaps they do not restate (a rerun after a
        failure in between only asks again)."""
        if confirmed:
            context.store.write(KnownGap, pd.DataFrame(confirmed))
        kept = [row["start_timestamp"] for row in confirmed]
        table = KnownGap.__table__
        with context.store.begin() as connection:
            for gap in rechecked:  # the known gaps covering each rechecked hole
                connection.execute(table.delete().where(
                    table.c.schema_name == self.schema.__name__, table.c.entity_id == eid,
                    table.c.level == str(context.options["level"]),
                    table.c.start_timestamp <= gap.start, table.c.end_timestamp >= gap.end,
                    table.c.start_timestamp.not_in(kept),
                ))


def _runs(stamps: np.ndarray, step: int) -> list[np.ndarray]:
    """Consecutive runs of grid times."""
    return np.split(stamps, np.where(np.diff(stamps) != step)[0] + 1)


class MarkPriceBarsRecorder(BarsRecorder):
    """Mark-price bars of perps: ``MarkPriceBar.record_data(exchange="binanceusdm", ...)``."""

    schema = MarkPriceBar
    capability = "fetchMarkOHLCV"
    kind = "mark-price bars"
    price = "mark"
    contracts_only = True


class IndexPriceBarsRecorder(BarsRecorder):
    """Index-price bars of perps: ``IndexPriceBar.record_data(exchange="binanceusdm", ...)``."""

    schema = IndexPriceBar
    capability = "fetchIndexOHLCV"
    kind = "index-price bars"
    price = "index"
    contracts_only = True
