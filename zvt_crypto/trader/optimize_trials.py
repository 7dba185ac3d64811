"""Running backtest trials — for optimisation and walk-forward alike: each trial is a :class:`Task` (parameters on a
window of the data), run with :func:`~zvt_crypto.trader.engine.run_backtest` and the sweep's
:class:`~zvt_crypto.trader.settings.BacktestSettings`, in ``n_jobs`` joblib (loky) workers in batches of interleaved
tasks (the data is sent once per batch, without its derived caches) or in this process; a trial yields its table
metrics, its objective and its per-bar returns."""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader.metrics import METRIC_KEYS, compute_metrics
from zvt_crypto.trader.settings import BacktestSettings
from zvt_crypto.trader.strategy import Strategy

if TYPE_CHECKING:
    from zvt_crypto.trader.data import MarketData
    from zvt_crypto.trader.results import BacktestResult

__all__ = ["NUMERIC_METRICS", "TABLE_METRICS", "Metric", "Task", "as_number", "bar_returns", "check_metric",
           "plan_workers", "run_tasks", "score", "window_metrics"]

#: the metrics of every trial kept in :attr:`OptimizeResult.trials`
TABLE_METRICS = ("sharpe", "sortino", "calmar", "total_return", "cagr", "max_drawdown", "win_rate", "profit_factor",
                 "n_trades", "exposure_time", "final_equity")
#: metrics that are not numbers (times and durations): not usable as an objective
_NOT_NUMERIC = frozenset({"start", "end", "duration", "max_drawdown_duration", "avg_holding_time",
                          "max_holding_time", "annualisation"})
NUMERIC_METRICS = tuple(key for key in METRIC_KEYS if key not in _NOT_NUMERIC)
_BATCHES_PER_WORKER = 8
#: what starting a loky pool costs before its first trial: each worker imports zvt_crypto, pandas and numba and
#: receives the data (≈ 2 s measured on 2 shared cores, where ``--jobs -1`` took 4.5 s for 2.3 s of trials)
POOL_START_S = 2.0

Metric = str | Callable[[Mapping[str, Any]], float]


def check_metric(metric: Metric) -> str:
    """The objective's column name; a string must be a numeric backtest metric."""
    if callable(metric):
        name = getattr(metric, "__name__", "")
        return name if name.isidentifier() and name not in TABLE_METRICS else "objective"
    if metric not in NUMERIC_METRICS:
        raise InvalidInputError(f"unknown metric {metric!r}; use one of {', '.join(NUMERIC_METRICS)}")
    return metric


@dataclass(frozen=True)
class Task:
    """One backtest: ``params`` on bars ``start:stop`` of the data, acting from row ``act`` of that window and
    counting equity from there (0: the whole window). ``key`` identifies it to the caller."""

    key: Any
    params: dict[str, Any]
    start: int
    stop: int
    act: int = 0
    returns: bool = True


def bar_returns(equity: np.ndarray) -> np.ndarray:
    """Per-bar simple returns of an equity curve; from the first bar at or below 0 the account is wiped out (that
    bar's return is −1, the later ones 0)."""
    values = np.asarray(equity, dtype=np.float64).copy()
    ruined = np.flatnonzero(values <= 0)
    if len(ruined):
        values[ruined[0]:] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(values[:-1] > 0, values[1:] / values[:-1] - 1.0, 0.0)
    return out


def window_metrics(result: BacktestResult, act: int) -> dict[str, Any]:
    """The metrics of ``result`` counted from row ``act`` on (the bars before it were indicator warm-up: nothing
    traded there, so the run's fee / funding / turnover totals are the window's)."""
    if act == 0:
        return result.metrics
    inputs = result.metric_inputs
    equity = result.equity.iloc[act:]
    totals = {k: inputs[k] for k in ("traded_notional", "fees_paid", "funding_paid", "funding_received")
              if k in inputs}
    benchmark = inputs.get("benchmark")
    return compute_metrics(
        equity["equity"], result.trades, equity["exposure"].fillna(0.0).to_numpy(),
        periods_per_year=inputs.get("periods_per_year") or (result.data.periods_per_year if result.data else 365.0),
        annualisation=inputs.get("annualisation"),
        benchmark=None if benchmark is None else np.asarray(benchmark)[act:], **totals)


def score(metric: Metric, metrics: Mapping[str, Any]) -> float:
    """The objective: ``metrics[metric]``, or ``metric(metrics)`` for a function."""
    value = metric(metrics) if callable(metric) else metrics[metric]
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"the metric gave {value!r}, not a number") from None


def _run_batch(strategy: str | type[Strategy], data: MarketData, tasks: Sequence[Task], settings: BacktestSettings,
               metric: Metric, metric_name: str, check_lookahead: bool) -> list[tuple[Any, dict[str, float],
                                                                                         np.ndarray | None]]:
    """Run ``tasks`` (in a worker): per task its key, table metrics and objective, and its per-bar returns."""
    from zvt_crypto.trader.engine import run_backtest

    windows: dict[tuple[int, int], MarketData] = {}
    checked: set[tuple[int, int]] = set()
    out = []
    for task in tasks:
        span = (task.start, task.stop)
        if span not in windows:
            windows[span] = data if span == (0, data.n_bars) else data.window(*span)
        result = run_backtest(strategy, windows[span], params=task.params, start=task.act,
                              check_lookahead=check_lookahead and span not in checked, settings=settings)
        checked.add(span)
        metrics = window_metrics(result, task.act)
        row = {key: as_number(metrics[key]) for key in TABLE_METRICS}
        row[metric_name] = score(metric, metrics)
        equity = result.equity["equity"].to_numpy()[task.act:]
        out.append((task.key, row, bar_returns(equity) if task.returns else None))
    return out


def as_number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _lean(data: MarketData) -> MarketData:
    """A shallow copy without the derived caches (index, filled closes, fingerprint): less to send to workers."""
    lean = copy.copy(data)
    for name in ("index", "close_filled", "fingerprint", "bar_ms"):
        lean.__dict__.pop(name, None)
    return lean


def _workers(n_jobs: int | None) -> int:
    from joblib import cpu_count

    if n_jobs is None or n_jobs == 0:
        return 1
    if n_jobs < 0:
        return max(1, cpu_count() + 1 + n_jobs)
    return int(n_jobs)


def plan_workers(max_workers: int, n_tasks: int, task_seconds: float, start_seconds: float = POOL_START_S) -> int:
    """How many workers finish ``n_tasks`` trials of ``task_seconds`` each soonest, at most ``max_workers``: one
    (this process, no pool) unless starting a pool (``start_seconds``) is repaid by the trials it runs in parallel.

    >>> plan_workers(8, 12, 0.05), plan_workers(2, 200, 0.5), plan_workers(8, 0, 1.0)
    (1, 2, 1)
    """
    best, best_seconds = 1, n_tasks * task_seconds
    for workers in range(2, min(max_workers, n_tasks) + 1):
        seconds = start_seconds + math.ceil(n_tasks / workers) * task_seconds
        if seconds < best_seconds:
            best, best_seconds = workers, seconds
    return best


def run_tasks(strategy: str | type[Strategy], data: MarketData, tasks: Sequence[Task], *,
              settings: BacktestSettings, metric: Metric, metric_name: str, n_jobs: int | None = -1,
              check_lookahead: bool = True, progress: bool | None = None, label: str = "backtests"
              ) -> dict[Any, tuple[dict[str, float], np.ndarray | None]]:
    """Run backtest tasks, in ``n_jobs`` loky workers (batches of interleaved tasks) or in this process.

    ``n_jobs`` < 0 (the default, -1: every CPU) sizes the pool from the work: the first trials run here and time
    a trial (the second one, without the first's look-ahead check and compilation), and :func:`plan_workers` starts
    a pool only when it pays — so the default is never much slower than ``n_jobs=1``. A positive ``n_jobs`` is
    taken as given."""
    workers = min(_workers(n_jobs), len(tasks))
    results: dict[Any, tuple[dict[str, float], np.ndarray | None]] = {}
    pending = list(tasks)
    with _Progress(progress, len(tasks), label) as advance:

        def run_here(task: Task) -> float:
            started = time.perf_counter()
            for key, row, returns in _run_batch(strategy, data, [task], settings, metric, metric_name,
                                                check_lookahead and not results):
                results[key] = (row, returns)
            advance(1)
            return time.perf_counter() - started

        if workers > 1 and n_jobs is not None and n_jobs < 0:
            seconds = [run_here(pending.pop(0)) for _ in range(min(2, len(pending)))]
            workers = plan_workers(workers, len(pending), seconds[-1])
        if workers <= 1 or not pending:
            for task in pending:
                run_here(task)
            return results
        from joblib import Parallel, delayed

        n_batches = min(len(pending), workers * _BATCHES_PER_WORKER)
        batches = [pending[k::n_batches] for k in range(n_batches)]
        lean = _lean(data)
        check_first = check_lookahead and not results
        with Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered") as parallel:
            calls = (delayed(_run_batch)(strategy, lean, batch, settings, metric, metric_name,
                                         check_first and k == 0) for k, batch in enumerate(batches))
            for done in parallel(calls):
                for key, row, returns in done:
                    results[key] = (row, returns)
                advance(len(done))
    return results


class _Progress:
    """A rich progress bar on stderr (``progress=None``: only when stderr is a terminal); yields ``advance(n)``."""

    def __init__(self, enabled: bool | None, total: int, label: str) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total, self.label = total, label
        self.bar: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda n: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
