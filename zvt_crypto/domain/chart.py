"""Series sized for a chart: bars of a time range at a budget of candles, and lines thinned to the same grid.

A chart of a long series cannot carry every stored bar (a million 1m candles is ~100 MB of JSON and a frozen
browser). :func:`bars_at_budget` picks the finest level that the stored level divides and at which the range
holds at most ``budget`` bars, and builds those bars with the project's exact resampler
(:func:`zvt_crypto.contract.resample.resample_bars`: complete intervals only), so a zoomed-out candle is the same
candle ``zvt-crypto`` would compute anywhere else. Zooming in narrows the range until the stored level fits.

Read by the dashboard's ``/data`` page and (later) the REST API, so both show the same bars.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, func, select, type_coerce

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.resample import resample_bars
from zvt_crypto.contract.schema import Schema
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import TimeLike, check_range, ms_to_index, series_to_ms, to_ms
from zvt_crypto.domain.series import Bar

#: candles a chart receives at most by default (a few thousand draw in well under a second)
DEFAULT_BUDGET = 2_000
OHLCV = ("open", "high", "low", "close", "volume")
Line = TypeVar("Line", pd.Series, pd.DataFrame)


@dataclass(frozen=True)
class BarsView:
    """Bars of one entity over ``start`` … ``end`` (open times, epoch ms, inclusive) at ``level``, built from the
    stored ``stored_level`` bars; ``bars`` is indexed by open time (UTC) with the OHLCV columns."""

    entity_id: str
    stored_level: Level
    level: Level
    start: int
    end: int
    budget: int
    bars: pd.DataFrame

    @property
    def resampled(self) -> bool:
        return self.level != self.stored_level

    def label(self) -> str:
        """What the chart shows, e.g. ``1h bars resampled from 1m — zoom in for finer``."""
        if self.resampled:
            return f"{self.level} bars resampled from {self.stored_level} — zoom in for finer"
        return f"{self.level} bars as stored"


def display_level(stored: Level | str, start_ms: int, end_ms: int, budget: int = DEFAULT_BUDGET) -> Level:
    """The finest level built from whole ``stored`` bars at which ``start`` … ``end`` holds ≤ ``budget`` bars
    (the coarsest such level when none does)."""
    if budget < 1:
        raise InvalidInputError(f"the budget of bars must be ≥ 1, got {budget}")
    stored = Level.parse(stored)
    candidates = [level for level in sorted(Level, key=lambda level: level.ms)
                  if level == stored or stored.divides(level)]
    for level in candidates:
        if (level.floor(end_ms) - level.floor(start_ms)) // level.ms + 1 <= budget:
            return level
    return candidates[-1]


def stored_extent(store: Store, entity_id: str, level: Level | str,
                  schema: type[Schema] = Bar) -> tuple[int, int] | None:
    """Open times (epoch ms) of the first and last stored bar, or None when there is none (two index lookups)."""
    table = schema.__table__
    stamp = type_coerce(table.c.timestamp, BigInteger)
    where = (table.c.entity_id == entity_id, table.c.level == str(Level.parse(level)))
    with store.engine.connect() as connection:
        # two scalar queries: SQLite answers a lone min() or max() from the key, but not both in one query
        first = connection.execute(select(func.min(stamp)).where(*where)).scalar()
        last = connection.execute(select(func.max(stamp)).where(*where)).scalar()
    return None if first is None or last is None else (int(first), int(last))


def bars_at_budget(
    store: Store,
    entity_id: str,
    level: Level | str,
    *,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    budget: int = DEFAULT_BUDGET,
) -> BarsView:
    """The bars of ``entity_id`` stored at ``level`` between ``start`` and ``end`` (default: the whole series),
    at the finest level that keeps them ≤ ``budget`` (see :func:`display_level`), resampled exactly.

    A resampled bar is built only from a complete interval of stored bars (as :func:`resample_bars` does), and
    the range is widened to whole intervals of the shown level, so a bar is never cut by the range's edge."""
    stored = Level.parse(level)
    extent = stored_extent(store, entity_id, stored)
    start_ms = None if start is None else to_ms(start)
    end_ms = None if end is None else to_ms(end)
    check_range(start_ms, end_ms)
    if extent is None:
        first = start_ms if start_ms is not None else 0
        return BarsView(entity_id, stored, stored, first, end_ms if end_ms is not None else first, budget,
                        _empty_bars())
    start_ms = extent[0] if start_ms is None else max(start_ms, extent[0])
    end_ms = extent[1] if end_ms is None else min(end_ms, extent[1])
    if end_ms < start_ms:  # the range lies outside the stored series
        return BarsView(entity_id, stored, stored, start_ms, end_ms, budget, _empty_bars())
    shown = display_level(stored, start_ms, end_ms, budget)
    read_from, read_to = shown.floor(start_ms), shown.floor(end_ms) + shown.ms - stored.ms
    frame = Bar.query_data(entity_ids=[entity_id], level=stored, start_timestamp=read_from,
                           end_timestamp=read_to, columns=list(OHLCV), store=store)
    if shown != stored:
        frame = resample_bars(frame, stored, shown)
    bars = frame.droplevel("entity_id") if len(frame) else _empty_bars()
    return BarsView(entity_id, stored, shown, read_from, read_to, budget, bars[list(OHLCV)])


def last_per_bar(values: Line, level: Level | str) -> Line:
    """A line series (indexed by UTC time) thinned to one point per bar of ``level``: the last value at or before
    each bar's close, stamped with the bar's open time (as the candle beside it). ``values`` is sorted by time."""
    level = Level.parse(level)
    if len(values) == 0:
        return values
    ms = series_to_ms(values.index)
    buckets = ms - (ms - level.anchor_ms) % level.ms
    last = np.r_[buckets[1:] != buckets[:-1], True]  # the last row of each run of one bucket (index sorted)
    thinned = values[last]
    return thinned.set_axis(ms_to_index(buckets[last]), axis=0)


V = TypeVar("V")


class ViewCache(Generic[V]):
    """Recent views of long series, so a page that shows the same series again (another visit, a zoom reset)
    does not read and resample a million rows again. The caller's key holds what identifies the data (for bars:
    the series' signature, first and last bar and row count); an entry serves for ``ttl`` seconds at most, so a
    rewrite that keeps the key (a corrected import) shows within ``ttl``."""

    def __init__(self, size: int = 8, ttl: float = 60.0) -> None:
        self.size, self.ttl = size, ttl
        self._entries: dict[tuple[Any, ...], tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], build: Callable[[], V]) -> V:
        now = time.monotonic()
        with self._lock:
            found = self._entries.get(key)
        if found is not None and now - found[0] <= self.ttl:
            return found[1]
        view = build()
        with self._lock:
            self._entries[key] = (now, view)
            while len(self._entries) > self.size:
                self._entries.pop(next(iter(self._entries)))  # the oldest
        return view


def perp_lines(store: Store, view: BarsView) -> dict[str, pd.Series]:
    """The funding rate, the mark − index basis and the open interest of a perp over ``view``'s range, each
    thinned to ``view``'s bars when it holds more points than the budget; only the stored ones (none for a
    pair)."""
    from zvt_crypto.domain.series import FundingRate, IndexPriceBar, MarkPriceBar, OpenInterest

    if not view.entity_id.startswith("perp_"):
        return {}
    ids, start, end = [view.entity_id], view.start, view.end + view.stored_level.ms - 1
    lines: dict[str, pd.Series] = {}
    funding = FundingRate.query_data(entity_ids=ids, start_timestamp=start, end_timestamp=end,
                                     columns=["funding_rate"], store=store)
    if len(funding):
        lines["funding rate"] = funding["funding_rate"].droplevel("entity_id")
    closes = [schema.query_data(entity_ids=ids, level=view.stored_level, start_timestamp=start, end_timestamp=end,
                                columns=["close"], store=store)["close"] for schema in (MarkPriceBar, IndexPriceBar)]
    if len(closes[0]) and len(closes[1]):
        mark, index = (close.droplevel("entity_id") for close in closes)
        lines["mark − index"] = (mark - index).dropna()
    oi_level = next((level for level in sorted(Level, key=lambda level: level.ms)
                     if stored_extent(store, view.entity_id, level, OpenInterest) is not None), None)
    if oi_level is not None:
        interest = OpenInterest.query_data(entity_ids=ids, level=oi_level, start_timestamp=start,
                                           end_timestamp=end, columns=["open_interest"], store=store)
        if len(interest):
            lines["open interest"] = interest["open_interest"].droplevel("entity_id")
    return {name: _thin(line, view) for name, line in lines.items() if len(line)}


def _thin(line: pd.Series, view: BarsView) -> pd.Series:
    if len(line) <= view.budget:
        return line
    return last_per_bar(line, view.level)


def bar_series(store: Store) -> list[tuple[str, str]]:
    """Every ``(entity_id, level)`` that has stored bars, sorted by entity then level length (one key scan)."""
    table = Bar.__table__
    with store.engine.connect() as connection:
        rows = connection.execute(select(table.c.entity_id, table.c.level).distinct()).all()
    return sorted(((str(entity), str(level)) for entity, level in rows),
                  key=lambda row: (row[0], Level.parse(row[1]).ms))


@dataclass(frozen=True)
class StoredFactor:
    """A factor with stored values for one entity and level: its id (``rsi:1h:window=14``), name, parameters
    and outputs (the value columns, in order)."""

    factor_id: str
    name: str
    params: dict[str, Any]
    outputs: list[str]


def stored_factors(store: Store, entity_id: str, level: Level | str) -> list[StoredFactor]:
    """The factors computed at ``level`` that hold at least one value for ``entity_id``, sorted by id."""
    from zvt_crypto.domain.factors import FactorMeta, FactorValue

    meta, values = FactorMeta.__table__, FactorValue.__table__
    has_values = (select(values.c.factor_id)
                  .where(values.c.factor_id == meta.c.factor_id, values.c.entity_id == entity_id).exists())
    query = (select(meta.c.factor_id, meta.c.name, meta.c.params, meta.c.outputs)
             .where(meta.c.level == str(Level.parse(level)), has_values).order_by(meta.c.factor_id))
    with store.engine.connect() as connection:
        return [StoredFactor(str(row.factor_id), str(row.name), dict(row.params or {}), list(row.outputs or []))
                for row in connection.execute(query)]


def _empty_bars() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype="float64") for name in OHLCV},
                        index=pd.DatetimeIndex([], dtype="datetime64[ms, UTC]", name="timestamp"))
