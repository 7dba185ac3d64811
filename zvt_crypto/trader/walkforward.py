"""Walk-forward analysis: optimise on a training window, trade the winner on the following test window, roll on.

>>> wf = walk_forward("sma_cross", data, {"fast": [5, 10, 20], "slow": [30, 60]}, train="90d", test="30d")
...                                                                                 # doctest: +SKIP
>>> wf.folds[["test_start", "test_end", "fast", "slow", "is_sharpe", "oos_sharpe"]]   # doctest: +SKIP
>>> wf.metrics["sharpe"], wf.efficiency, wf.overfitting.as_dict()                   # doctest: +SKIP

Windows (``train``, ``test``, ``step``, ``warmup``): a number of bars, or a duration (``"90d"``, ``"12h"``,
``"4w"``) turned into bars of the data's level. Folds are laid out from the end of the data: the last test window
ends at the last bar and each earlier one ``step`` bars before (``step`` defaults to ``test``: test windows meet
without overlap; a larger step leaves gaps, a smaller one is refused). The train window is the ``train`` bars before
each test window (``anchored=True``: every bar from the data's start).

Honest out-of-sample runs: each fold's test run reads the ``warmup`` bars before its test window (default: the
train window's length) so the indicators are warm, but the strategy acts no earlier than the close of the bar just
before the window (:func:`run_backtest`'s ``start``), so every out-of-sample fill is inside the test window, and its
equity is counted from that close (= the initial cash). The folds' curves are stitched into one: each fold starts
from the previous fold's final equity (positions still open at a fold's end are marked at its last close — the
next fold starts flat). Per fold: the parameters chosen, their in-sample (train) metric and their out-of-sample
metric; for the stitched curve: the metrics (:func:`compute_metrics`), the walk-forward efficiency (stitched
out-of-sample metric / mean in-sample metric; NaN when that mean is not positive), and the overfitting statistics:
the deflated Sharpe ratio of the stitched out-of-sample returns (against every trial of the grid run on the whole
data) and the PBO (CSCV) of that full-data sweep (:attr:`WalkForwardResult.full`).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.timeutil import iso, iso_texts
from zvt_crypto.trader.fees import resolve_fees
from zvt_crypto.trader.metrics import compute_metrics, dump_json, to_jsonable
from zvt_crypto.trader.optimize_results import (
    OptimizeResult,
    annualisation_of,
    assemble,
    data_info,
    overfitting_dict,
    rank,
    sweep_overfitting,
)
from zvt_crypto.trader.optimize_space import Grid, parameter_sets, strategy_class
from zvt_crypto.trader.optimize_trials import Metric, Task, bar_returns, check_metric, run_tasks, score, window_metrics
from zvt_crypto.trader.settings import BacktestSettings

if TYPE_CHECKING:
    from zvt_crypto.trader.data import MarketData
    from zvt_crypto.trader.overfitting import OverfittingReport
    from zvt_crypto.trader.results import BacktestResult
    from zvt_crypto.trader.strategy import Strategy

__all__ = ["FoldWindow", "WalkForwardResult", "fold_windows", "walk_forward", "window_bars"]

WindowLike: TypeAlias = int | str | timedelta | pd.Timedelta


def window_bars(value: WindowLike, data: MarketData, what: str = "window") -> int:
    """``value`` in bars of ``data``: an int (bars), digits (``"500"``), or a duration (``"90d"``, ``"12h"``,
    ``timedelta(days=90)``) divided by the bar length (rounded down).

    >>> from zvt_crypto.trader.data import MarketData
    >>> frame = pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0},
    ...                      index=pd.date_range("2024-01-01", periods=3, freq="h"))
    >>> window_bars("2d", MarketData.from_frame(frame, level="1h"))
    48
    """
    if isinstance(value, bool):
        raise InvalidInputError(f"{what}: {value!r} is not a number of bars or a duration")
    if isinstance(value, (int, np.integer)):
        bars = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        bars = int(value.strip())
    else:
        try:
            span = _duration(value)
        except (TypeError, ValueError):
            raise InvalidInputError(f"{what}: cannot read {value!r} as bars or a duration; write e.g. 500, 90d, "
                                    "12h or 4w") from None
        if span is pd.NaT:
            raise InvalidInputError(f"{what}: {value!r} is not a duration")
        bars = int(span // pd.Timedelta(milliseconds=data.bar_ms))
    if bars < 1:
        raise InvalidInputError(f"{what}: {value!r} is less than one bar ({pd.Timedelta(milliseconds=data.bar_ms)})")
    return bars


_UNITS = {"m": "min", "min": "min", "h": "h", "d": "D", "w": "W", "s": "s"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")


def _duration(value: str | timedelta | pd.Timedelta) -> pd.Timedelta:
    """``"90d"``, ``"12h"``, ``"4w"``, ``"30m"`` (minutes) or anything ``pd.Timedelta`` reads."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match and match.group(2).lower() in _UNITS:
            return pd.Timedelta(float(match.group(1)), unit=_UNITS[match.group(2).lower()])
    return pd.Timedelta(value)


@dataclass(frozen=True)
class FoldWindow:
    """Row positions of one fold: train ``train_start:train_stop``, test ``test_start:test_stop``."""

    fold: int
    train_start: int
    train_stop: int
    test_start: int
    test_stop: int


def fold_windows(n_bars: int, train: int, test: int, step: int | None = None, *, anchored: bool = False
                 ) -> list[FoldWindow]:
    """Folds laid out from the end (see the module docstring).

    >>> [(w.train_start, w.test_start, w.test_stop) for w in fold_windows(10, 4, 2)]
    [(0, 4, 6), (2, 6, 8), (4, 8, 10)]
    """
    step = test if step is None else step
    if train < 2 or test < 2:
        raise InvalidInputError(f"the train and test windows need at least 2 bars each, got train {train}, "
                                f"test {test}")
    if step < test:
        raise InvalidInputError(f"step ({step} bars) is shorter than the test window ({test} bars): test windows "
                                "would overlap")
    if train + test > n_bars:
        raise InvalidInputError(f"the windows do not fit the data: train {train} + test {test} = {train + test} "
                                f"bars, the data has {n_bars}")
    n_folds = (n_bars - train - test) // step + 1
    head = n_bars - train - test - (n_folds - 1) * step  # bars before the first train window (rolling)
    out = []
    for k in range(n_folds):
        test_start = head + train + k * step
        out.append(FoldWindow(k, 0 if anchored else test_start - train, test_start, test_start, test_start + test))
    return out


@dataclass(eq=False)
class WalkForwardResult:
    """A walk-forward analysis (see the module docstring). ``folds``: a row per fold (windows as UTC times,
    parameters chosen, ``is_<metric>``, ``oos_<metric>``, out-of-sample return and trades); ``equity``: the
    stitched out-of-sample curve (``equity``, ``exposure``); ``trades``: the out-of-sample trades (``fold``
    column); ``metrics``: of the stitched curve; ``full``: the grid run on the whole data (for the PBO)."""

    strategy: str
    metric: str
    maximize: bool
    method: str
    params: list[str]
    folds: pd.DataFrame
    equity: pd.DataFrame
    trades: pd.DataFrame
    metrics: dict[str, Any]
    is_mean: float
    efficiency: float
    overfitting: OverfittingReport
    full: OptimizeResult
    windows: list[FoldWindow]
    settings: BacktestSettings
    spans: dict[str, Any]
    seconds: float
    fold_trials: list[pd.DataFrame] = field(default_factory=list, repr=False)
    fold_results: list[BacktestResult] = field(default_factory=list, repr=False)

    @property
    def returns(self) -> pd.Series:
        """Per-bar returns of the stitched out-of-sample curve."""
        values = self.equity["equity"].to_numpy()
        return pd.Series(bar_returns(values), index=self.equity.index[1:], name="returns")

    @property
    def oos_metric(self) -> float:
        return float(score(self.metric, self.metrics)) if self.metric in self.metrics else math.nan

    def __repr__(self) -> str:
        pbo = "n/a" if self.overfitting.pbo is None else f"{self.overfitting.pbo.pbo:.2f}"
        return (f"<WalkForwardResult {self.strategy} {len(self.folds)} folds: out-of-sample {self.metric} "
                f"{self.oos_metric:.4g}, in-sample mean {self.is_mean:.4g}, efficiency {self.efficiency:.3g}, "
                f"deflated Sharpe {self.overfitting.deflated_sharpe:.3f}, PBO {pbo}>")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: windows, folds, stitched metrics and equity, efficiency, overfitting, the full sweep."""
        folds = []
        for _, row in self.folds.iterrows():
            record = {key: row[key] for key in ("fold", "train_start", "train_end", "test_start", "test_end")}
            for key in ("train_start", "train_end", "test_start", "test_end"):
                record[key] = iso(row[key])
            record["fold"] = int(record["fold"])
            record["params"] = row["params"]
            record.update(to_jsonable({key: float(row[key]) for key in
                                       (f"is_{self.metric}", f"oos_{self.metric}", "oos_return", "efficiency")}))
            record["oos_trades"] = int(row["oos_trades"])
            folds.append(record)
        stamps = iso_texts(self.equity.index)
        return {
            "strategy": self.strategy, "method": self.method, "metric": self.metric, "maximize": self.maximize,
            "windows": self.spans, "settings": self.settings.to_dict(), "data": data_info(self.full.data),
            "seconds": round(self.seconds, 3), "folds": folds, "metrics": to_jsonable(self.metrics),
            "in_sample_mean": _finite(self.is_mean), "efficiency": _finite(self.efficiency),
            "overfitting": overfitting_dict(self.overfitting),
            "equity": [{"timestamp": t, "equity": _finite(v)}
                       for t, v in zip(stamps, self.equity["equity"].to_numpy(), strict=True)],
            "full_sweep": self.full.to_dict(),
        }

    def to_json(self, path: str | Path | None = None) -> str:
        return dump_json(self.to_dict(), path)


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def walk_forward(strategy: str | type[Strategy], data: MarketData, grid: Grid, *, train: WindowLike,
                 test: WindowLike, step: WindowLike | None = None, anchored: bool = False,
                 warmup: WindowLike | None = None, method: str = "grid", n_iter: int | None = None, seed: int = 0,
                 metric: Metric = "sharpe", maximize: bool = True,
                 constraint: Callable[[dict[str, Any]], bool] | None = None, n_jobs: int | None = -1,
                 cash: float = 10_000.0, fee: float | tuple[float, float] | None = None, slippage: Any = None,
                 leverage: float | list[float] = 1.0, engine: str = "event", n_splits: int = 16,
                 check_lookahead: bool = True, progress: bool | None = None, settings: BacktestSettings | None = None,
                 **options: Any) -> WalkForwardResult:
    """Walk-forward analysis of ``strategy`` over ``grid`` (see the module docstring); the search arguments are
    :func:`~zvt_crypto.trader.optimize.optimize`'s. Every backtest of the sweeps (each fold's train window and the
    whole data) runs in one pool of ``n_jobs`` workers; the out-of-sample runs (one per fold) run here.

    >>> wf = walk_forward("sma_cross", data, {"fast": [5, 10], "slow": [30, 60]}, train=2000, test=500,
    ...                   engine="vectorised")                                           # doctest: +SKIP
    """
    from zvt_crypto.trader.engine import run_backtest
    from zvt_crypto.trader.results import buy_and_hold

    started = time.perf_counter()
    cls = strategy_class(strategy)
    metric_name = check_metric(metric)
    settings = BacktestSettings.from_arguments(settings, options, cash=cash, fee=fee, slippage=slippage,
                                               leverage=leverage, engine=engine)
    resolve_fees(data.specs, settings.fee, exchange=data.exchange)  # an unknown fee fails here, not in every worker
    spans = {"train": window_bars(train, data, "train"), "test": window_bars(test, data, "test")}
    spans["step"] = spans["test"] if step is None else window_bars(step, data, "step")
    spans["warmup"] = spans["train"] if warmup is None else window_bars(warmup, data, "warmup")
    try:
        windows = fold_windows(data.n_bars, spans["train"], spans["test"], spans["step"], anchored=anchored)
    except InvalidInputError as exc:
        asked = f"train={train!r}, test={test!r}" + ("" if step is None else f", step={step!r}")
        raise InvalidInputError(f"{exc} ({_describe(data)}; asked {asked})") from None
    sets, skipped = parameter_sets(cls, grid, method=method, n_iter=n_iter, seed=seed, constraint=constraint)

    tasks = [Task(("full", k), params, 0, data.n_bars) for k, params in enumerate(sets)]
    for w in windows:
        tasks += [Task((w.fold, k), params, w.train_start, w.train_stop, returns=False)
                  for k, params in enumerate(sets)]
    done = run_tasks(cls, data, tasks, settings=settings, metric=metric, metric_name=metric_name, n_jobs=n_jobs,
                     check_lookahead=check_lookahead, progress=progress,
                     label=f"{cls.label()} walk-forward ({len(windows)} folds)", maximize=maximize)
    full = assemble(cls, data, sets, done, names=list(grid), metric_name=metric_name, maximize=maximize,
                     method=method, skipped=skipped, settings=settings, n_splits=n_splits, seconds=0.0,
                     key=lambda k: ("full", k))

    rows: list[dict[str, Any]] = []
    fold_trials: list[pd.DataFrame] = []
    fold_results: list[BacktestResult] = []
    pieces: list[pd.Series] = []
    exposures: list[pd.Series] = []
    trades: list[pd.DataFrame] = []
    totals = dict.fromkeys(("traded_notional", "fees_paid", "funding_paid", "funding_received"), 0.0)
    level = settings.cash
    index = data.index
    for w in windows:
        table = rank(pd.DataFrame([{"trial": k, **params, **done[(w.fold, k)][0]} for k, params in enumerate(sets)]),
                     metric_name, maximize)
        fold_trials.append(table)
        best = dict(sets[int(table["trial"].iloc[0])])
        in_sample = float(table[metric_name].iloc[0])
        read_from = max(0, w.test_start - max(1, spans["warmup"]))
        act = w.test_start - 1 - read_from  # the close before the test window: decisions there fill inside it
        result = run_backtest(cls, data.window(read_from, w.test_stop), params=best, start=act,
                              check_lookahead=check_lookahead, settings=settings)
        inputs = result.metric_inputs
        for key in totals:
            totals[key] += float(inputs.get(key) or 0.0)
        metrics = window_metrics(result, act)
        fold_results.append(result)
        curve = result.equity.iloc[act:]
        scaled = curve["equity"] / float(curve["equity"].iloc[0]) * level
        exposure = curve["exposure"]
        if pieces and scaled.index[0] == pieces[-1].index[-1]:
            scaled, exposure = scaled.iloc[1:], exposure.iloc[1:]
        pieces.append(scaled)
        exposures.append(exposure)
        level = float(scaled.iloc[-1]) if len(scaled) else level
        trades.append(result.trades.assign(fold=w.fold))
        out_of_sample = score(metric, metrics)
        rows.append({"fold": w.fold, "train_start": index[w.train_start], "train_end": index[w.train_stop - 1],
                     "test_start": index[w.test_start], "test_end": index[w.test_stop - 1], "params": best, **best,
                     f"is_{metric_name}": in_sample, f"oos_{metric_name}": out_of_sample,
                     "oos_return": float(metrics["total_return"]), "oos_trades": int(metrics["n_trades"]),
                     "efficiency": _ratio(out_of_sample, in_sample)})

    stitched = pd.concat(pieces).rename("equity")
    exposure = pd.concat(exposures).fillna(0.0)
    rows_of = index.get_indexer(stitched.index)
    benchmark = buy_and_hold(data, settings.cash)[rows_of]
    oos_trades = pd.concat(trades, ignore_index=True) if trades else pd.DataFrame()
    annual = annualisation_of(settings, data)
    metrics = compute_metrics(stitched, oos_trades, exposure.to_numpy(), periods_per_year=annual.periods_per_year,
                              annualisation=annual.basis, benchmark=benchmark, **totals)
    folds = pd.DataFrame(rows)
    is_values = folds[f"is_{metric_name}"].to_numpy(dtype=float)
    is_mean = float(np.nanmean(is_values)) if np.isfinite(is_values).any() else math.nan
    stitched_value = score(metric, metrics)
    efficiency = stitched_value / is_mean if is_mean > 0 and math.isfinite(stitched_value) else math.nan
    best_full = int(full.trials["trial"].iloc[0])
    report = sweep_overfitting(full.returns.to_numpy(), best_full, label="walk-forward out-of-sample",
                               n_splits=n_splits, selected=bar_returns(stitched.to_numpy()))
    return WalkForwardResult(
        strategy=cls.label(), metric=metric_name, maximize=maximize, method=method, params=list(grid), folds=folds,
        equity=pd.DataFrame({"equity": stitched, "exposure": exposure}), trades=oos_trades, metrics=metrics,
        is_mean=is_mean, efficiency=efficiency, overfitting=report, full=full, windows=windows,
        settings=settings, spans={**spans, "anchored": anchored}, seconds=time.perf_counter() - started,
        fold_trials=fold_trials, fold_results=fold_results)


def _ratio(num: float, den: float) -> float:
    return num / den if math.isfinite(num) and math.isfinite(den) and den > 0 else math.nan


def _describe(data: MarketData) -> str:
    level = f"{data.level} " if data.level else ""
    return f"{level}bars {iso(data.index[0])} … {iso(data.index[-1])}"
