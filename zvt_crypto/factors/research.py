"""Factor research: forward returns, IC and rank-IC series, ICIR, quantile returns, turnover and decay — as data
frames, and as plotly figures in a one-file HTML tear sheet.

Inputs are indexed ``(entity_id, timestamp)``. Horizons count steps on the grid of distinct timestamps in the
data, so a bar missing for one entity gives NaN there instead of a return over a longer span. Everything is
vectorised per timestamp (sorts within timestamps, ``np.bincount`` of demeaned products by timestamp).

>>> bars = Bar.query_data(exchange="binance", level="1d")                       # doctest: +SKIP
>>> factor = bars["close"].groupby(level="entity_id").pct_change(20)            # doctest: +SKIP
>>> sheet = tear_sheet(factor, bars["close"], periods=(1, 5, 10), q=5)          # doctest: +SKIP
>>> sheet.ic_summary                                                             # doctest: +SKIP
>>> sheet.to_html("momentum.html")                                               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.factors.panel import Panel, bucket_numbers, check_panel_index

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

__all__ = [
    "QuantileReturns",
    "TearSheet",
    "factor_turnover",
    "forward_returns",
    "ic_decay",
    "ic_summary",
    "information_coefficient",
    "quantile_returns",
    "rank_autocorrelation",
    "tear_sheet",
]

Method = Literal["spearman", "pearson"]


# --- helpers ------------------------------------------------------------------------------------------------------


def _series(values: pd.Series | pd.DataFrame, what: str) -> pd.Series:
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise InvalidInputError(f"{what} must be one column; pass frame['column']")
        values = values.iloc[:, 0]
    check_panel_index(values.index)
    return values


def _floats(values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _group_corr(x: np.ndarray, y: np.ndarray, codes: np.ndarray, size: int) -> np.ndarray:
    """Pearson correlation of x and y within each group (one value per code): sums of demeaned products by
    ``np.bincount``. NaN for fewer than 2 complete pairs or no variance."""
    valid = ~(np.isnan(x) | np.isnan(y))
    groups, xv, yv = codes[valid], x[valid], y[valid]
    count = np.bincount(groups, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        dx = xv - (np.bincount(groups, xv, minlength=size) / count)[groups]
        dy = yv - (np.bincount(groups, yv, minlength=size) / count)[groups]
        sxx = np.bincount(groups, dx * dx, minlength=size)
        syy = np.bincount(groups, dy * dy, minlength=size)
        sxy = np.bincount(groups, dx * dy, minlength=size)
        corr = sxy / np.sqrt(sxx * syy)
        # all-equal values leave round-off in dx, not variance: compare with the values' own magnitude
        flat_x = sxx <= 1e-24 * np.bincount(groups, xv * xv, minlength=size)
        flat_y = syy <= 1e-24 * np.bincount(groups, yv * yv, minlength=size)
    corr[(count < 2) | flat_x | flat_y] = np.nan
    return np.clip(corr, -1.0, 1.0)


def _ic_array(
    x: np.ndarray, y: np.ndarray, panel: Panel, method: Method, x_order: np.ndarray | None = None
) -> np.ndarray:
    """Per-timestamp correlation of x and y; ``x_order`` (``panel.order(x)``) saves a sort when x is reused."""
    if method == "pearson":
        return _group_corr(x, y, panel.time, panel.size)
    if method != "spearman":
        raise InvalidInputError(f"unknown method {method!r}; use 'spearman' or 'pearson'")
    both = ~(np.isnan(x) | np.isnan(y))  # rank among complete pairs only: subsets of a sorted order stay sorted
    x_order = panel.order(x) if x_order is None else x_order
    y_order = panel.order(y)
    rx = panel.ranks(x, x_order[both[x_order]])
    ry = panel.ranks(y, y_order[both[y_order]])
    return _group_corr(rx, ry, panel.time, panel.size)


def _periods_frame(fwd: pd.Series | pd.DataFrame) -> pd.DataFrame:
    if isinstance(fwd, pd.Series):
        return fwd.to_frame(fwd.name if fwd.name is not None else 0)
    return fwd


def _aligned(factor: pd.Series, other: pd.DataFrame) -> pd.DataFrame:
    """``other`` on the factor's index (rows the factor lacks are dropped, missing ones are NaN)."""
    check_panel_index(other.index)
    return other if other.index.equals(factor.index) else other.reindex(factor.index)


# --- forward returns and IC ---------------------------------------------------------------------------------------


def _forward_returns(close: pd.Series, steps: list[int], panel: Panel) -> pd.DataFrame:
    values = _floats(close)
    with np.errstate(invalid="ignore", divide="ignore"):
        columns = {k: panel.shift(values, k) / values - 1.0 for k in steps}
    frame = pd.DataFrame(columns, index=close.index)
    frame.columns.name = "period"
    return frame


def _steps(periods: Iterable[int]) -> list[int]:
    steps = sorted({int(k) for k in periods})
    if not steps or steps[0] < 1:
        raise InvalidInputError(f"periods must be positive integers, got {list(periods)}")
    return steps


def forward_returns(close: pd.Series | pd.DataFrame, periods: Iterable[int] = (1, 5, 10)) -> pd.DataFrame:
    """``close[t+k] / close[t] − 1`` per entity, aligned at t (bought at t's close), one column per k (named k).

    k counts steps on the grid of distinct timestamps in ``close``; the last k rows of each entity, and rows whose
    t+k bar is missing, are NaN. A rising price gives a positive return.

    >>> index = pd.MultiIndex.from_product([["a"], pd.date_range("2024-01-01", periods=3, tz="UTC")],
    ...                                    names=["entity_id", "timestamp"])
    >>> forward_returns(pd.Series([100.0, 110.0, 121.0], index=index), periods=(1, 2))[1].round(6).tolist()
    [0.1, 0.1, nan]
    """
    close = _series(close, "close")
    return _forward_returns(close, _steps(periods), Panel(close.index))


def _information_coefficient(
    x: np.ndarray, returns: pd.DataFrame, panel: Panel, method: Method, x_order: np.ndarray | None = None
) -> pd.DataFrame:
    if method == "spearman" and x_order is None:
        x_order = panel.order(x)
    frame = pd.DataFrame(
        {column: _ic_array(x, _floats(returns[column]), panel, method, x_order) for column in returns.columns},
        index=panel.stamps,
    )
    frame.columns.name = "period"
    return frame


def information_coefficient(
    factor: pd.Series | pd.DataFrame, fwd: pd.Series | pd.DataFrame, method: Method = "spearman"
) -> pd.DataFrame:
    """Cross-sectional correlation per timestamp between the factor and each column of forward returns: rank IC
    (``"spearman"``, ties averaged, ranked among complete pairs) or IC (``"pearson"``). Indexed by timestamp, one
    column per period; NaN where fewer than 2 complete pairs or no dispersion.

    >>> ic = information_coefficient(factor, forward_returns(close))   # doctest: +SKIP
    >>> ic[1].rolling(30).mean().plot()                                 # doctest: +SKIP
    """
    factor = _series(factor, "factor")
    returns = _aligned(factor, _periods_frame(fwd))
    return _information_coefficient(_floats(factor), returns, Panel(factor.index), method)


def ic_summary(ic: pd.Series | pd.DataFrame) -> pd.DataFrame:
    """Per period: mean IC, std, ICIR (mean / std), t-stat (``mean / (std / √count)``), share of positive ICs and
    the count of timestamps with an IC.

    >>> ic_summary(information_coefficient(factor, forward_returns(close)))   # doctest: +SKIP
    """
    frame = _periods_frame(ic) if isinstance(ic, pd.Series) else ic
    count = frame.count()
    mean = frame.mean()
    std = frame.std()
    with np.errstate(invalid="ignore", divide="ignore"):
        summary = pd.DataFrame(
            {
                "mean_ic": mean,
                "std_ic": std,
                "icir": mean / std,
                "t_stat": mean / std * np.sqrt(count),
                "positive_share": frame.gt(0).sum() / count,
                "count": count,
            }
        )
    summary.index.name = "period"
    return summary


# --- quantiles, turnover, decay -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuantileReturns:
    """Forward returns by factor quantile.

    ``mean``: quantile × period, the average over timestamps of each bucket's equal-weighted mean return (each
    timestamp counts once). ``by_time``: (timestamp, quantile) × period, those per-timestamp bucket means.
    ``spread``: timestamp × period, top bucket minus bottom bucket.
    """

    mean: pd.DataFrame
    by_time: pd.DataFrame
    spread: pd.DataFrame

    @property
    def mean_spread(self) -> pd.Series:
        """Average top-minus-bottom return per period."""
        return self.spread.mean()


def _quantile_returns(bucket: np.ndarray, returns: pd.DataFrame, q: int, panel: Panel) -> QuantileReturns:
    size = panel.size * q
    by_time = {}
    for column in returns.columns:  # a few periods; each one is a pass of np.bincount over all rows
        y = _floats(returns[column])
        valid = ~(np.isnan(bucket) | np.isnan(y))
        key = panel.time[valid] * q + (bucket[valid].astype(np.intp) - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            by_time[column] = np.bincount(key, y[valid], minlength=size) / np.bincount(key, minlength=size)
    index = pd.MultiIndex.from_product([panel.stamps, pd.RangeIndex(1, q + 1, name="quantile")])
    table = pd.DataFrame(by_time, index=index)
    table.columns.name = "period"
    mean = table.groupby(level="quantile").mean()
    spread = table.xs(q, level="quantile") - table.xs(1, level="quantile")
    return QuantileReturns(mean=mean, by_time=table, spread=spread)


def _check_q(q: int) -> None:
    if q < 1:
        raise InvalidInputError(f"q must be ≥ 1, got {q}")


def quantile_returns(factor: pd.Series | pd.DataFrame, fwd: pd.Series | pd.DataFrame, q: int = 5) -> QuantileReturns:
    """Mean forward return of each factor quantile (:func:`~zvt_crypto.factors.cross_section.quantile_bucket`,
    1 = lowest factor values), per period, overall and per timestamp, and the top − bottom spread.

    >>> result = quantile_returns(factor, forward_returns(close), q=5)   # doctest: +SKIP
    >>> result.mean.plot.bar()                                          # doctest: +SKIP
    """
    _check_q(q)
    factor = _series(factor, "factor")
    returns = _aligned(factor, _periods_frame(fwd))
    panel = Panel(factor.index)
    return _quantile_returns(bucket_numbers(_floats(factor), panel, q), returns, q, panel)


def _turnover(bucket: np.ndarray, which: int, panel: Panel) -> pd.Series:
    member = (bucket == which).astype(np.float64)
    before = panel.shift(member, -1)
    inside = member == 1.0
    groups = panel.time[inside]
    with np.errstate(invalid="ignore", divide="ignore"):
        new = np.bincount(groups, before[inside] != 1.0, minlength=panel.size) / np.bincount(
            groups, minlength=panel.size
        )
    bucketed = np.bincount(panel.time[~np.isnan(bucket)], minlength=panel.size) > 0
    # nothing to compare with at the first timestamp, nor after one without buckets (load_factor's warm-up rows)
    new[0:1] = np.nan
    new[1:][~bucketed[:-1]] = np.nan
    return pd.Series(new, index=panel.stamps, name="turnover")


def factor_turnover(factor: pd.Series | pd.DataFrame, q: int = 5, bucket: int | None = None) -> pd.Series:
    """Per timestamp, the share of the entities in ``bucket`` (default the top quantile q) that were not in it at
    the previous timestamp. NaN at the first timestamp, where the bucket is empty and where the previous timestamp
    has no buckets (e.g. the all-NaN warm-up rows of ``load_factor``). A factor whose ranking never
    changes has turnover 0; one whose ranking reverses every step has 1.

    >>> factor_turnover(factor, q=5).mean()   # doctest: +SKIP
    """
    _check_q(q)
    factor = _series(factor, "factor")
    which = q if bucket is None else bucket
    if not 1 <= which <= q:
        raise InvalidInputError(f"bucket must be in 1..{q}, got {bucket}")
    panel = Panel(factor.index)
    return _turnover(bucket_numbers(_floats(factor), panel, q), which, panel)


def _rank_autocorrelation(x: np.ndarray, lag: int, panel: Panel, x_order: np.ndarray | None = None) -> pd.Series:
    if lag < 1:
        raise InvalidInputError(f"lag must be ≥ 1, got {lag}")
    earlier = panel.shift(x, -lag)
    return pd.Series(_ic_array(x, earlier, panel, "spearman", x_order), index=panel.stamps,
                     name="rank_autocorrelation")


def rank_autocorrelation(factor: pd.Series | pd.DataFrame, lag: int = 1) -> pd.Series:
    """Per timestamp, the Spearman correlation between the factor and the same entities' factor ``lag`` timestamps
    earlier (among entities present at both). Near 1: a slow factor (low turnover); near 0: it reshuffles.

    >>> rank_autocorrelation(factor).mean()   # doctest: +SKIP
    """
    factor = _series(factor, "factor")
    return _rank_autocorrelation(_floats(factor), lag, Panel(factor.index))


def ic_decay(
    factor: pd.Series | pd.DataFrame, close: pd.Series | pd.DataFrame, max_lag: int = 10, method: Method = "spearman"
) -> pd.DataFrame:
    """:func:`ic_summary` of the factor against forward returns at horizons 1..max_lag (index ``horizon``): how fast
    the predictive power fades.

    >>> ic_decay(factor, close, max_lag=10)["mean_ic"].plot.bar()   # doctest: +SKIP
    """
    if max_lag < 1:
        raise InvalidInputError(f"max_lag must be ≥ 1, got {max_lag}")
    summary = ic_summary(information_coefficient(factor, forward_returns(close, range(1, max_lag + 1)), method))
    summary.index.name = "horizon"
    return summary


# --- tear sheet ---------------------------------------------------------------------------------------------------


@dataclass
class TearSheet:
    """Every table of :func:`tear_sheet`; :meth:`figures` draws them, :meth:`to_html` writes one HTML file."""

    periods: tuple[int, ...]
    q: int
    method: str
    ic: pd.DataFrame
    ic_summary: pd.DataFrame
    quantiles: QuantileReturns
    turnover: pd.Series
    rank_autocorrelation: pd.Series
    decay: pd.DataFrame

    def figures(self, rolling: int = 30) -> dict[str, Figure]:
        """Plotly figures: IC per timestamp with rolling means, mean return by quantile, cumulative quantile
        returns (shortest period, compounded per step), turnover with rank autocorrelation, and IC decay."""
        import plotly.graph_objects as go  # lazily: plotly takes a while to import

        first = self.periods[0]
        ic = go.Figure()
        ic.add_bar(x=self.ic.index, y=self.ic[first], name=f"IC, {first} step(s)", opacity=0.5)
        for period in self.periods:
            ic.add_scatter(x=self.ic.index, y=self.ic[period].rolling(rolling, min_periods=1).mean(), mode="lines",
                           name=f"{rolling}-step mean, {period} step(s)")
        ic.update_layout(title=f"{'Rank IC' if self.method == 'spearman' else 'IC'} per timestamp",
                         yaxis_title="correlation")

        bars = go.Figure()
        for period in self.periods:
            bars.add_bar(x=self.quantiles.mean.index, y=self.quantiles.mean[period], name=f"{period} step(s)")
        bars.update_layout(title="Mean forward return by factor quantile", xaxis_title="quantile (1 = lowest factor)",
                           yaxis_title="mean forward return", barmode="group")

        # per-step equivalent of the shortest period, so overlapping k-step returns do not compound k times
        step = self.quantiles.by_time[first].unstack("quantile")
        growth = (1.0 + step.fillna(0.0)) ** (1.0 / first)
        cumulative = go.Figure()
        for quantile in step.columns:
            cumulative.add_scatter(x=step.index, y=growth[quantile].cumprod(), mode="lines", name=f"Q{quantile}")
        cumulative.update_layout(title=f"Cumulative return by quantile (equal weight, rebalanced every step, "
                                       f"from {first}-step returns, no costs)", yaxis_title="growth of 1")

        turnover = go.Figure()
        turnover.add_scatter(x=self.turnover.index, y=self.turnover, mode="lines", name="top-quantile turnover")
        turnover.add_scatter(x=self.rank_autocorrelation.index, y=self.rank_autocorrelation, mode="lines",
                             name="rank autocorrelation (lag 1)")
        turnover.update_layout(title="Factor turnover", yaxis_title="share / correlation")

        decay = go.Figure()
        decay.add_bar(x=self.decay.index, y=self.decay["mean_ic"], name="mean IC")
        decay.update_layout(title="IC decay", xaxis_title="horizon (steps)", yaxis_title="mean IC")
        return {"ic": ic, "quantile_returns": bars, "cumulative": cumulative, "turnover": turnover, "decay": decay}

    def to_html(self, path: str | Path, rolling: int = 30) -> Path:
        """Write the summary tables and every figure into one self-contained HTML file (plotly.js embedded once, so
        it opens offline). Returns the path."""
        path = Path(path)
        parts = [
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Factor tear sheet</title></head><body>",
            "<h1>Factor tear sheet</h1><h2>IC summary</h2>",
            self.ic_summary.to_html(float_format=lambda value: f"{value:.4f}"),
            "<h2>Mean forward return by quantile</h2>",
            self.quantiles.mean.to_html(float_format=lambda value: f"{value:.6f}"),
        ]
        for position, figure in enumerate(self.figures(rolling).values()):
            parts.append(figure.to_html(full_html=False, include_plotlyjs=position == 0))
        parts.append("</body></html>")
        path.write_text("\n".join(parts), encoding="utf-8")
        return path


def tear_sheet(
    factor: pd.Series | pd.DataFrame,
    close: pd.Series | pd.DataFrame,
    periods: Iterable[int] = (1, 5, 10),
    q: int = 5,
    *,
    method: Method = "spearman",
    max_lag: int = 10,
) -> TearSheet:
    """IC per period and its summary, quantile returns, top-quantile turnover, rank autocorrelation and IC decay of
    ``factor`` against forward returns of ``close`` (both indexed ``(entity_id, timestamp)``).

    >>> sheet = tear_sheet(factor, bars["close"], periods=(1, 5), q=5)   # doctest: +SKIP
    >>> sheet.ic_summary.loc[1, "icir"]                                  # doctest: +SKIP
    >>> sheet.to_html("factor.html")                                     # doctest: +SKIP
    """
    factor = _series(factor, "factor")
    close = _series(close, "close")
    _check_q(q)
    if max_lag < 1:
        raise InvalidInputError(f"max_lag must be ≥ 1, got {max_lag}")
    steps = _steps(periods)
    horizons = sorted(set(steps) | set(range(1, max_lag + 1)))
    panel = Panel(factor.index)
    same = close.index.equals(factor.index)
    fwd = _aligned(factor, _forward_returns(close, horizons, panel if same else Panel(close.index)))
    x = _floats(factor)
    x_order = panel.order(x)  # one sort of the factor serves every IC, the buckets and the autocorrelation
    ic_all = _information_coefficient(x, fwd, panel, method, x_order)
    decay = ic_summary(ic_all[list(range(1, max_lag + 1))])
    decay.index.name = "horizon"
    ic = ic_all[steps]
    bucket = bucket_numbers(x, panel, q, panel.ranks(x, x_order))
    return TearSheet(
        periods=tuple(steps),
        q=q,
        method=method,
        ic=ic,
        ic_summary=ic_summary(ic),
        quantiles=_quantile_returns(bucket, fwd[steps], q, panel),
        turnover=_turnover(bucket, q, panel),
        rank_autocorrelation=_rank_autocorrelation(x, 1, panel, x_order),
        decay=decay,
    )
