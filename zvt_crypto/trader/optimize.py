"""Parameter optimisation: grid and random search over a strategy's parameters, in parallel, with the overfitting
statistics of every sweep reported by default.

>>> result = optimize("sma_cross", data, {"fast": [5, 10, 20], "slow": range(20, 60, 10)},
...                   constraint=lambda p: p["fast"] < p["slow"], metric="sharpe")   # doctest: +SKIP
>>> result.trials.head()            # every trial's parameters and key metrics, best first   # doctest: +SKIP
>>> result.best_params              # {'fast': 10, 'slow': 40}                                 # doctest: +SKIP
>>> result.overfitting.as_dict()    # deflated Sharpe ratio of the best trial, PBO by CSCV    # doctest: +SKIP

How it works:

- The grid maps parameter names to values: a list / range / array of values (grid and random search), or — random
  search only — a ``(low, high)`` tuple, sampled uniformly (integers for integer parameters, bounds included).
  Every value is coerced to the type of the strategy's default before any backtest runs; an unknown name is an
  error that lists the strategy's parameters.
- Parameter sets the ``constraint`` rejects, or the strategy itself rejects (its ``validate``, e.g. sma_cross's
  fast < slow), are skipped and counted (``n_skipped``).
- Random search is seeded (``seed``), draws ``n_iter`` distinct parameter sets (fewer when the space is smaller).
- Trials run with :func:`~zvt_crypto.trader.engine.run_backtest` in ``n_jobs`` joblib (loky) worker processes, in
  batches of trials (interleaved, so slow and fast parameter sets mix): the data is sent once per batch, not once
  per trial, and its derived caches are left behind. ``n_jobs=1`` runs in this process. The outcome does not depend
  on ``n_jobs``.
- Ranking: by ``metric`` (a key of the backtest metrics, or a function of the metrics dict), highest first
  (``maximize=False``: lowest first); NaN last, ties by trial number.
- Overfitting (:mod:`.overfitting`): the per-bar returns of every trial (from its equity) form a T × N matrix;
  ``overfitting.deflated_sharpe`` is the deflated Sharpe ratio of the best trial (N = the number of trials,
  V = the variance of their per-bar Sharpe ratios) and ``overfitting.pbo`` the probability of backtest
  overfitting by CSCV over that matrix (``n_splits`` blocks; None when the data is too short for 2 bars a block).

This module holds :func:`optimize` and re-exports the parts: :mod:`.optimize_space` (the grid and the parameter
sets), :mod:`.optimize_trials` (running trials in parallel; walk-forward uses it too) and :mod:`.optimize_results`
(:class:`OptimizeResult`, ranking, the overfitting statistics of a sweep).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zvt_crypto.trader.fees import resolve_fees
from zvt_crypto.trader.optimize_results import (
    OptimizeResult,
    annualisation_of,
    assemble,
    rank,
    sweep_overfitting,
)
from zvt_crypto.trader.optimize_space import DEFAULT_N_ITER, METHODS, Grid, parameter_sets, parse_grid, strategy_class
from zvt_crypto.trader.optimize_trials import (
    NUMERIC_METRICS,
    TABLE_METRICS,
    Metric,
    Task,
    bar_returns,
    check_metric,
    run_tasks,
    score,
    window_metrics,
)
from zvt_crypto.trader.settings import BacktestSettings
from zvt_crypto.trader.strategy import Strategy

if TYPE_CHECKING:
    from zvt_crypto.trader.data import MarketData

__all__ = ["DEFAULT_N_ITER", "METHODS", "NUMERIC_METRICS", "TABLE_METRICS", "Grid", "Metric", "OptimizeResult",
           "annualisation_of", "bar_returns", "check_metric", "optimize", "parameter_sets", "parse_grid", "rank",
           "run_tasks", "score", "sweep_overfitting", "window_metrics"]


def optimize(strategy: str | type[Strategy], data: MarketData, grid: Grid, *, method: str = "grid",
             n_iter: int | None = None, seed: int = 0, metric: Metric = "sharpe", maximize: bool = True,
             constraint: Callable[[dict[str, Any]], bool] | None = None, n_jobs: int | None = -1,
             cash: float = 10_000.0, fee: float | tuple[float, float] | None = None, slippage: Any = None,
             leverage: float | list[float] = 1.0, engine: str = "event", n_splits: int = 16,
             check_lookahead: bool = True, progress: bool | None = None, settings: BacktestSettings | None = None,
             **options: Any) -> OptimizeResult:
    """Backtest every parameter set of ``grid`` (``method="grid"``) or ``n_iter`` seeded random ones
    (``method="random"``, default 20) on ``data`` and rank them by ``metric``; see the module docstring.

    Args:
        strategy: a registered name or a Strategy subclass.
        grid: ``{name: values}``; values a list / range / array, or (random search) a ``(low, high)`` tuple.
        metric: a numeric key of the backtest metrics (``sharpe``, ``total_return``, ``calmar`` …) or a function
            of the metrics dict (e.g. ``lambda m: m["cagr"] / -m["max_drawdown"]``); ``maximize=False`` ranks the
            lowest first.
        constraint: ``params -> bool``; parameter sets it rejects are skipped (e.g. ``lambda p: p["fast"] <
            p["slow"]``).
        n_jobs: worker processes (joblib loky; -1: every CPU, 1: this process).
        cash, fee, slippage, leverage, engine, options: as :func:`run_backtest` (``maintenance_margin``,
            ``liquidation_fee``, ``risk``, ``periods_per_year``).
        settings: those as one :class:`~zvt_crypto.trader.settings.BacktestSettings`, passed to every trial
            (then leave them out).
        n_splits: CSCV blocks of the PBO.
        check_lookahead: check the strategy's indicators for look-ahead on the sweep's first trial (the check
            recomputes every indicator on half the data; once catches indicator code that looks ahead, and the
            other trials then run at full speed — check a suspicious parameter set with ``run_backtest``).
        progress: a progress bar on stderr (None: when stderr is a terminal).

    >>> result = optimize("sma_cross", data, {"fast": [5, 10], "slow": [20, 40]}, n_jobs=1)  # doctest: +SKIP
    >>> result.best_params, result.overfitting.deflated_sharpe                                # doctest: +SKIP
    """
    started = time.perf_counter()
    cls = strategy_class(strategy)
    metric_name = check_metric(metric)
    settings = BacktestSettings.from_arguments(settings, options, cash=cash, fee=fee, slippage=slippage,
                                               leverage=leverage, engine=engine)
    resolve_fees(data.specs, settings.fee, exchange=data.exchange)  # an unknown fee fails here, not in every worker
    sets, skipped = parameter_sets(cls, grid, method=method, n_iter=n_iter, seed=seed, constraint=constraint)
    tasks = [Task(k, params, 0, data.n_bars) for k, params in enumerate(sets)]
    done = run_tasks(cls, data, tasks, settings=settings, metric=metric, metric_name=metric_name, n_jobs=n_jobs,
                     check_lookahead=check_lookahead, progress=progress, label=f"{cls.label()} {method} search",
                     maximize=maximize)
    return assemble(cls, data, sets, done, names=list(grid), metric_name=metric_name, maximize=maximize,
                     method=method, skipped=skipped, settings=settings, n_splits=n_splits,
                     seconds=time.perf_counter() - started)
