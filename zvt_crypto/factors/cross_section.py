"""Cross-sectional scoring: rank, quantile and z-score across the universe at each timestamp, composable filters,
and top-N selection into target weights, over a point-in-time universe.

Every function takes values indexed ``(entity_id, timestamp)`` — the frames :func:`~zvt_crypto.contract.query.
query_data` returns — and works per timestamp across entities, vectorised (sorts within timestamps and ``np.bincount``
over timestamp codes; no Python loop over rows or timestamps). NaN values and entities outside the universe take
no part; their result is NaN (scores) or False (filters, masks).

>>> entities = get_entities("perp", exchange="binanceusdm")                  # doctest: +SKIP
>>> bars = Bar.query_data(exchange="binanceusdm", level="1d")               # doctest: +SKIP
>>> momentum = bars["close"].groupby(level="entity_id").pct_change(30)       # doctest: +SKIP
>>> targets = select_top_n(momentum, 10, long_short=True, universe=entities)  # doctest: +SKIP
>>> to_wide(targets)                                                          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.factors.panel import Panel, bucket_numbers, check_panel_index

__all__ = [
    "Filter",
    "above",
    "below",
    "between",
    "bottom_fraction",
    "filter_result_from",
    "not_null",
    "quantile_bucket",
    "rank_score",
    "score_result_from",
    "select_top_n",
    "to_wide",
    "top_fraction",
    "universe_mask",
    "zscore",
]

#: a boolean Series aligned on the values, or an entities frame (``get_entities``) turned into one
Universe: TypeAlias = pd.Series | pd.DataFrame | None
#: one factor (Series) or several (DataFrame, scored column by column)
Values: TypeAlias = pd.Series | pd.DataFrame


# --- index helpers -----------------------------------------------------------------------------------------------


def _utc_ns(values: pd.Index | pd.Series) -> np.ndarray:
    """Epoch milliseconds of UTC times (naive values are UTC); NaT becomes the int64 minimum."""
    times = pd.DatetimeIndex(pd.to_datetime(values, utc=True))
    return times.as_unit("ms").asi8  # ms: far-future sentinels (9999-12-31) stay in range


# --- universe -----------------------------------------------------------------------------------------------------


def universe_mask(index: pd.Index, entities: pd.DataFrame) -> pd.Series:
    """True where the row's entity is listed at the row's time: ``list_timestamp`` null or ≤ t, and
    ``delist_timestamp`` null or > t — the rule of ``get_entities(as_of=t)``. Entities missing from ``entities``
    are outside the universe.

    ``entities`` is what :func:`~zvt_crypto.domain.universe.get_entities` returns (indexed by ``entity_id``), or a
    frame with an ``entity_id`` column; it needs the ``list_timestamp`` and ``delist_timestamp`` columns.

    >>> entities = pd.DataFrame({"list_timestamp": pd.to_datetime(["2024-01-02", None], utc=True),
    ...                          "delist_timestamp": pd.to_datetime([None, "2024-01-02"], utc=True)},
    ...                         index=pd.Index(["a", "b"], name="entity_id"))
    >>> index = pd.MultiIndex.from_product([["a", "b"], pd.date_range("2024-01-01", periods=2, tz="UTC")],
    ...                                    names=["entity_id", "timestamp"])
    >>> universe_mask(index, entities).tolist()
    [False, True, True, False]
    """
    index = check_panel_index(index)
    if "entity_id" in entities.columns:
        entities = entities.set_index("entity_id")
    missing = [name for name in ("list_timestamp", "delist_timestamp") if name not in entities.columns]
    if missing:
        raise InvalidInputError(
            f"entities need the column(s) {', '.join(missing)}; call get_entities without columns=, or add them"
        )
    if not entities.index.is_unique:
        raise InvalidInputError("entities hold an entity_id more than once")
    listed = _utc_ns(entities["list_timestamp"])
    delisted = _utc_ns(entities["delist_timestamp"])
    nat = np.iinfo(np.int64).min
    delisted = np.where(delisted == nat, np.iinfo(np.int64).max, delisted)  # never delisted: +∞ (NaT already −∞)
    level = index.names.index("entity_id")
    codes = np.asarray(index.codes[level], dtype=np.intp)
    # one hash per distinct entity, not per row
    position = np.where(codes >= 0, entities.index.get_indexer(index.levels[level])[codes], -1)
    known = position >= 0
    times = _utc_ns(index.get_level_values("timestamp"))
    inside = known & (listed[position] <= times) & (delisted[position] > times)
    return pd.Series(inside, index=index, name="in_universe")


def _universe(index: pd.MultiIndex, universe: Universe) -> np.ndarray | None:
    if universe is None:
        return None
    if isinstance(universe, pd.DataFrame):
        return universe_mask(index, universe).to_numpy()
    if not universe.index.equals(index):
        universe = universe.reindex(index, fill_value=False)
    return universe.fillna(False).to_numpy(dtype=bool)


# --- scorers ------------------------------------------------------------------------------------------------------


def _columnwise(values: Values, function: Callable[[pd.Series, Panel], pd.Series]) -> Values:
    panel = Panel(values.index)
    if isinstance(values, pd.DataFrame):
        return pd.DataFrame({column: function(values[column], panel) for column in values.columns}, index=values.index)
    return function(values, panel)


def _prepared(values: pd.Series, universe: Universe, panel: Panel | None = None) -> tuple[np.ndarray, Panel]:
    """Float values with NaN outside the universe, and the index's panel."""
    panel = panel or Panel(values.index)
    array = values.to_numpy(dtype=np.float64, na_value=np.nan).copy()
    inside = _universe(panel.index, universe)
    if inside is not None:
        array[~inside] = np.nan
    return array, panel


def _rank_score(array: np.ndarray, panel: Panel) -> np.ndarray:
    ranks = panel.rank(array)
    count = panel.count(array)[panel.time]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(count > 1, (ranks - 1.0) / (count - 1.0), 0.5)
    out[np.isnan(array)] = np.nan
    return out


def rank_score(values: Values, *, universe: Universe = None) -> Values:
    """Percentile rank per timestamp in [0, 1]: ``(rank − 1) / (n − 1)`` with ties averaged, so the lowest value
    scores 0 and the highest 1. A timestamp with a single valid entity scores it 0.5 (neither best nor worst).
    NaN values and entities outside ``universe`` (a boolean Series or an entities frame) give NaN.

    >>> index = pd.MultiIndex.from_product([["a", "b", "c"], pd.to_datetime(["2024-01-01"], utc=True)],
    ...                                    names=["entity_id", "timestamp"])
    >>> rank_score(pd.Series([3.0, 1.0, 3.0], index=index)).tolist()
    [0.75, 0.0, 0.75]
    """

    def score(series: pd.Series, shared: Panel) -> pd.Series:
        array, panel = _prepared(series, universe, shared)
        return pd.Series(_rank_score(array, panel), index=series.index, name=series.name)

    return _columnwise(values, score)


def quantile_bucket(values: Values, q: int = 5, *, universe: Universe = None) -> Values:
    """Equal-count buckets 1..q per timestamp (1 = lowest values). The row with average rank r among n goes to
    bucket ``floor((r − 0.5)·q / n) + 1`` — the bucket holding the middle of its rank — so bucket sizes differ by
    at most one and tied values share a bucket. With fewer entities than buckets, some buckets stay empty (2
    entities in 5 buckets go to 2 and 4; a single one to the middle bucket). NaN / outside the universe → NaN.

    >>> index = pd.MultiIndex.from_product([list("abcdef"), pd.to_datetime(["2024-01-01"], utc=True)],
    ...                                    names=["entity_id", "timestamp"])
    >>> quantile_bucket(pd.Series([6.0, 5, 4, 3, 2, 1], index=index), q=3).tolist()
    [3.0, 3.0, 2.0, 2.0, 1.0, 1.0]
    """
    if q < 1:
        raise InvalidInputError(f"q must be ≥ 1, got {q}")

    def bucket(series: pd.Series, shared: Panel) -> pd.Series:
        array, panel = _prepared(series, universe, shared)
        return pd.Series(bucket_numbers(array, panel, q), index=series.index, name=series.name)

    return _columnwise(values, bucket)


def _group_mean_std(array: np.ndarray, panel: Panel, ddof: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-timestamp mean and standard deviation (two-pass), one value per timestamp."""
    valid = ~np.isnan(array)
    size = panel.size
    groups, x = panel.time[valid], array[valid]
    count = np.bincount(groups, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(groups, x, minlength=size) / count
        squares = np.bincount(groups, (x - mean[groups]) ** 2, minlength=size)
        std = np.sqrt(squares / (count - ddof))
    return mean, std


def _group_median(array: np.ndarray, panel: Panel) -> np.ndarray:
    """Per-timestamp median of the non-NaN values (NaN for an empty timestamp), from one sort within timestamps."""
    order = panel.order(array)
    count = np.bincount(panel.time[order], minlength=panel.size)
    start = np.cumsum(count) - count
    ordered = np.append(array[order], np.nan)  # empty timestamps point past the end
    low = np.where(count > 0, start + (count - 1) // 2, len(order))
    high = np.where(count > 0, start + count // 2, len(order))
    return (ordered[low] + ordered[high]) / 2.0


#: 1.4826 · MAD estimates the standard deviation of normal data
_MAD_TO_STD = 1.482602218505602


def zscore(
    values: Values,
    *,
    winsorize: float | None = None,
    clip: float | None = None,
    ddof: int = 0,
    universe: Universe = None,
) -> Values:
    """``(x − mean) / std`` per timestamp across entities (population std by default, ``ddof=0``).

    ``winsorize=k`` first clips the raw values of each timestamp to median ± k · 1.4826 · MAD (robust "k standard
    deviations": an outlier cannot widen its own bounds as it does with mean ± k·std) and then standardises the
    clipped values, so one extreme value no longer squeezes everyone else; where more than half the values are
    equal (MAD 0) nothing is clipped. ``clip=k`` clips the resulting z-scores to ±k. A timestamp whose values are
    all equal (or a single entity) gives 0 for each — no dispersion, everyone average. NaN / outside the universe →
    NaN.

    >>> index = pd.MultiIndex.from_product([["a", "b", "c"], pd.to_datetime(["2024-01-01"], utc=True)],
    ...                                    names=["entity_id", "timestamp"])
    >>> zscore(pd.Series([1.0, 2.0, 3.0], index=index)).round(4).tolist()
    [-1.2247, 0.0, 1.2247]
    """
    for name, bound in (("winsorize", winsorize), ("clip", clip)):
        if bound is not None and not bound > 0:
            raise InvalidInputError(f"{name} must be > 0 (a number of standard deviations), got {bound}")

    def standardise(series: pd.Series, shared: Panel) -> pd.Series:
        array, panel = _prepared(series, universe, shared)
        codes = panel.time
        mean, std = _group_mean_std(array, panel, ddof)
        if winsorize is not None:
            median = _group_median(array, panel)
            width = winsorize * _MAD_TO_STD * _group_median(np.abs(array - median[codes]), panel)
            width[~(width > 0)] = np.inf  # MAD 0: no robust spread to clip by
            array = np.clip(array, (median - width)[codes], (median + width)[codes])
            mean, std = _group_mean_std(array, panel, ddof)
        centred = array - mean[codes]
        spread = std[codes]
        scale = np.abs(mean[codes]) * 1e-12  # all-equal values leave round-off in std, not dispersion
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(spread > scale, centred / spread, 0.0)
        out[np.isnan(array)] = np.nan
        if clip is not None:
            out = np.clip(out, -clip, clip)
        return pd.Series(out, index=series.index, name=series.name)

    return _columnwise(values, standardise)


# --- filters ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """A boolean condition on a factor frame (indexed ``(entity_id, timestamp)``); combine with ``&``, ``|``, ``~``.

    Calling it on a frame gives a boolean Series on the frame's index. NaN compares False, so ``~above("x", 0)``
    is also True where ``x`` is NaN — add ``& not_null("x")`` when that matters.

    >>> index = pd.MultiIndex.from_product([["a", "b", "c"], pd.to_datetime(["2024-01-01"], utc=True)],
    ...                                    names=["entity_id", "timestamp"])
    >>> frame = pd.DataFrame({"volume": [5.0, 50.0, 500.0], "momentum": [0.1, -0.2, 0.3]}, index=index)
    >>> liquid_and_rising = above("volume", 10) & above("momentum", 0)
    >>> liquid_and_rising(frame).tolist()
    [False, False, True]
    """

    function: Callable[[pd.DataFrame], pd.Series]
    description: str = "filter"

    def __call__(self, frame: pd.DataFrame) -> pd.Series:
        result = self.function(frame)
        if isinstance(result, pd.Series):  # a user function may give NaN / NA for "unknown": that is not a yes
            result = result.reindex(frame.index) if not result.index.equals(frame.index) else result
            result = result.fillna(False)
        return pd.Series(np.asarray(result, dtype=bool), index=frame.index, name=self.description)

    def __and__(self, other: Filter) -> Filter:
        return Filter(lambda frame: self(frame) & other(frame), f"({self.description} & {other.description})")

    def __or__(self, other: Filter) -> Filter:
        return Filter(lambda frame: self(frame) | other(frame), f"({self.description} | {other.description})")

    def __invert__(self) -> Filter:
        return Filter(lambda frame: ~self(frame), f"~{self.description}")

    def __repr__(self) -> str:
        return f"Filter({self.description})"


def _column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        raise InvalidInputError(f"the frame has no column {column!r}; its columns are {', '.join(map(str, frame))}")
    return frame[column]


def above(column: str, value: float, *, inclusive: bool = False) -> Filter:
    """``column > value`` (``>=`` with ``inclusive=True``)."""
    op = "≥" if inclusive else ">"
    return Filter(lambda f: _column(f, column).ge(value) if inclusive else _column(f, column).gt(value),
                  f"{column} {op} {value}")


def below(column: str, value: float, *, inclusive: bool = False) -> Filter:
    """``column < value`` (``<=`` with ``inclusive=True``)."""
    op = "≤" if inclusive else "<"
    return Filter(lambda f: _column(f, column).le(value) if inclusive else _column(f, column).lt(value),
                  f"{column} {op} {value}")


def between(column: str, low: float, high: float) -> Filter:
    """``low ≤ column ≤ high``."""
    return Filter(lambda f: _column(f, column).between(low, high), f"{low} ≤ {column} ≤ {high}")


def not_null(column: str) -> Filter:
    """``column`` is not NaN / missing."""
    return Filter(lambda f: _column(f, column).notna(), f"{column} not null")


def _fraction_filter(column: str, fraction: float, *, top: bool, universe: Universe) -> Filter:
    if not 0 < fraction <= 1:
        raise InvalidInputError(f"fraction must be in (0, 1], got {fraction}")

    def select(frame: pd.DataFrame) -> pd.Series:
        array, panel = _prepared(_column(frame, column), universe)
        ranks = panel.rank(array, "min", ascending=not top)
        keep = np.ceil(fraction * panel.count(array)[panel.time] - 1e-9)  # tolerate 0.1 * 30 = 3.0000000000000004
        return pd.Series(ranks <= keep, index=frame.index)

    return Filter(select, f"{'top' if top else 'bottom'} {fraction:g} of {column}")


def top_fraction(column: str, fraction: float, *, universe: Universe = None) -> Filter:
    """Per timestamp, the ``ceil(fraction·n)`` highest values of ``column`` among the n valid ones (ties at the
    boundary are all kept)."""
    return _fraction_filter(column, fraction, top=True, universe=universe)


def bottom_fraction(column: str, fraction: float, *, universe: Universe = None) -> Filter:
    """Per timestamp, the ``ceil(fraction·n)`` lowest values of ``column`` (ties at the boundary are all kept)."""
    return _fraction_filter(column, fraction, top=False, universe=universe)


# --- selection ----------------------------------------------------------------------------------------------------


def select_top_n(scores: pd.Series, n: int, *, long_short: bool = False, universe: Universe = None) -> pd.DataFrame:
    """Target weights per timestamp from scores (higher is better), as a tidy frame indexed
    ``(entity_id, timestamp)`` with ``weight`` (float) and ``side`` (``"long"`` / ``"short"``), holding only the
    selected rows in the input's order; every other entity's target is 0 (see :func:`to_wide`).

    * long-only: the ``k = min(n, m)`` best of the m valid entities get ``1/k`` each — fully invested even when
      fewer than n are available.
    * ``long_short=True``: the ``k = min(n, m // 2)`` best get ``+1/(2k)`` and the k worst ``−1/(2k)``: gross
      exposure 1 and net 0 at every timestamp. With fewer than 2n valid entities both legs shrink to m // 2 (an
      odd one out in the middle is left flat); with fewer than 2 nothing is selected.

    Ties at the cut are broken by row order (query_data sorts by entity_id). NaN scores and entities outside
    ``universe`` are never selected. Timestamps where nothing is selected have no rows.

    >>> index = pd.MultiIndex.from_product([list("abcd"), pd.to_datetime(["2024-01-01"], utc=True)],
    ...                                    names=["entity_id", "timestamp"])
    >>> select_top_n(pd.Series([0.4, 0.1, 0.9, 0.6], index=index), 1, long_short=True)["weight"].tolist()
    [-0.5, 0.5]
    """
    if isinstance(scores, pd.DataFrame):
        if scores.shape[1] != 1:
            raise InvalidInputError("select_top_n needs one score column; pass frame['column']")
        scores = scores.iloc[:, 0]
    if n < 1:
        raise InvalidInputError(f"n must be ≥ 1, got {n}")
    array, panel = _prepared(scores, universe)
    count = panel.count(array)[panel.time]
    best = panel.rank(array, "first", ascending=False)
    if long_short:
        k = np.minimum(n, count // 2)
        worst = panel.rank(array, "first")
        long, short = best <= k, worst <= k
        with np.errstate(invalid="ignore", divide="ignore"):
            weight = np.where(long, 0.5 / k, np.where(short, -0.5 / k, 0.0))
    else:
        k = np.minimum(n, count)
        long, short = best <= k, np.zeros(len(array), dtype=bool)
        with np.errstate(invalid="ignore", divide="ignore"):
            weight = np.where(long, 1.0 / k, 0.0)
    chosen = long | short
    side = np.where(long, "long", "short")[chosen]
    return pd.DataFrame({"weight": weight[chosen], "side": side}, index=scores.index[chosen])


def to_wide(weights: pd.DataFrame | pd.Series, timestamps: pd.Index | None = None) -> pd.DataFrame:
    """Tidy target weights (:func:`select_top_n`) as a timestamp × entity_id frame, 0 where not selected.

    ``timestamps`` reindexes the rows (a timestamp with nothing selected then gets all zeros — "be flat").

    >>> targets = select_top_n(scores, 10)   # doctest: +SKIP
    >>> to_wide(targets).sum(axis=1)          # 1.0 per timestamp  # doctest: +SKIP
    """
    series = weights["weight"] if isinstance(weights, pd.DataFrame) else weights
    check_panel_index(series.index)
    wide = series.unstack(level="entity_id", fill_value=0.0).sort_index()
    wide.columns.name = "entity_id"
    if timestamps is not None:
        wide = wide.reindex(timestamps, fill_value=0.0)
    return wide


# --- the ZVT factor convention ------------------------------------------------------------------------------------


def score_result_from(values: Values, *, universe: Universe = None) -> Values:
    """ZVT's ``score_result``: the cross-sectional percentile rank in [0, 1] (:func:`rank_score`), named
    ``score_result`` for a Series."""
    scores = rank_score(values, universe=universe)
    return scores.rename("score_result") if isinstance(scores, pd.Series) else scores


def filter_result_from(scores: pd.Series, long_above: float = 0.8, short_below: float = 0.2) -> pd.Series:
    """ZVT's ``filter_result`` from scores in [0, 1]: 1 (long) where ``score > long_above``, −1 (short) where
    ``score < short_below``, 0 (neutral) otherwise, NaN where the score is NaN (no opinion / outside the universe).

    >>> index = pd.MultiIndex.from_product([list("abc"), pd.to_datetime(["2024-01-01"], utc=True)],
    ...                                    names=["entity_id", "timestamp"])
    >>> filter_result_from(pd.Series([0.9, 0.5, 0.1], index=index)).tolist()
    [1.0, 0.0, -1.0]
    """
    if not short_below <= long_above:
        raise InvalidInputError(f"short_below ({short_below}) must not exceed long_above ({long_above})")
    array = scores.to_numpy(dtype=np.float64, na_value=np.nan)
    out = np.where(array > long_above, 1.0, np.where(array < short_below, -1.0, 0.0))
    out[np.isnan(array)] = np.nan
    return pd.Series(out, index=scores.index, name="filter_result")
