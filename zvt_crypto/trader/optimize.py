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
"""

from __future__ import annotations

import copy
import itertools
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.params import coerce_param
from zvt_crypto.contract.timeutil import iso
from zvt_crypto.trader.fees import FeeSchedule, resolve_fees
from zvt_crypto.trader.metrics import METRIC_KEYS, Annualisation, compute_metrics, dump_json, to_jsonable
from zvt_crypto.trader.settings import BacktestSettings
from zvt_crypto.trader.strategy import Strategy, get_strategy

if TYPE_CHECKING:
    from zvt_crypto.trader.data import MarketData
    from zvt_crypto.trader.overfitting import OverfittingReport
    from zvt_crypto.trader.results import BacktestResult

__all__ = ["METHODS", "TABLE_METRICS", "OptimizeResult", "optimize", "parameter_sets", "parse_grid"]

METHODS = ("grid", "random")
#: the metrics of every trial kept in :attr:`OptimizeResult.trials`
TABLE_METRICS = ("sharpe", "sortino", "calmar", "total_return", "cagr", "max_drawdown", "win_rate", "profit_factor",
                 "n_trades", "exposure_time", "final_equity")
#: metrics that are not numbers (times and durations): not usable as an objective
_NOT_NUMERIC = frozenset({"start", "end", "duration", "max_drawdown_duration", "avg_holding_time",
                          "max_holding_time", "annualisation"})
NUMERIC_METRICS = tuple(key for key in METRIC_KEYS if key not in _NOT_NUMERIC)
DEFAULT_N_ITER = 20
_BATCHES_PER_WORKER = 8

Metric = str | Callable[[Mapping[str, Any]], float]
Grid = Mapping[str, Any]


# ---------------------------------------------------------------------------------------------------------------
# the search space
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Range:
    """A ``(low, high)`` range of random search (bounds included); ``integer`` for integer parameters."""

    low: float
    high: float
    integer: bool


def _strategy_class(strategy: str | type[Strategy]) -> type[Strategy]:
    if isinstance(strategy, Strategy):
        raise InvalidInputError("optimise a strategy class or name, not an instance (its parameters vary)")
    return get_strategy(strategy)


def _unknown(cls: type[Strategy], names: Iterable[str]) -> None:
    defaults = cls.param_defaults()
    unknown = sorted(set(names) - set(defaults))
    if unknown:
        known = ", ".join(f"{k}={v!r}" for k, v in defaults.items()) or "none"
        raise InvalidInputError(f"strategy {cls.label()!r} has no parameter(s) {', '.join(unknown)}; "
                                f"its parameters: {known}")


def _space(cls: type[Strategy], grid: Grid, method: str) -> dict[str, list[Any] | _Range]:
    """The grid with every value coerced to the parameter's type (a ``_Range`` for random ranges)."""
    if method not in METHODS:
        raise InvalidInputError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if not grid:
        raise InvalidInputError(f"give at least one parameter to vary; {cls.label()!r} has "
                                f"{', '.join(cls.param_defaults()) or 'no parameters'}")
    _unknown(cls, grid)
    defaults = cls.param_defaults()
    owner = cls.label()
    space: dict[str, list[Any] | _Range] = {}
    for name, spec in grid.items():
        default = defaults[name]
        if isinstance(spec, tuple) and len(spec) == 2 and all(_is_number(v) for v in spec):
            if method != "random":
                raise InvalidInputError(f"{name}={spec!r} is a (low, high) range: it needs method='random'; give a "
                                        "list of values for a grid search")
            integer = (isinstance(default, int) and not isinstance(default, bool)) or (
                default is None and all(isinstance(v, (int, np.integer)) for v in spec))
            low, high = (coerce_param(owner, name, default, v) if default is not None else v for v in spec)
            if integer and (float(low) != int(low) or float(high) != int(high)):
                raise InvalidInputError(f"{name}: the range {spec!r} needs integer bounds (the parameter is int)")
            if not low <= high:
                raise InvalidInputError(f"{name}: the range {spec!r} is empty (low > high)")
            space[name] = _Range(low, high, integer)
            continue
        if isinstance(spec, (str, bytes)) or not isinstance(spec, Iterable):
            spec = [spec]
        values = [coerce_param(owner, name, default, _plain(v)) for v in spec]
        if not values:
            raise InvalidInputError(f"{name}: the list of values is empty")
        space[name] = list(dict.fromkeys(values))  # duplicates would only repeat trials
    return space


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (JSON, equality)."""
    return value.item() if isinstance(value, np.generic) else value


def _space_size(space: Mapping[str, list[Any] | _Range]) -> float:
    size = 1.0
    for values in space.values():
        if isinstance(values, _Range):
            if not values.integer:
                return math.inf
            size *= values.high - values.low + 1
        else:
            size *= len(values)
    return size


def _draw(space: Mapping[str, list[Any] | _Range], rng: np.random.Generator) -> dict[str, Any]:
    params = {}
    for name, values in space.items():
        if isinstance(values, _Range):
            if values.integer:
                params[name] = int(rng.integers(int(values.low), int(values.high) + 1))
            else:
                params[name] = float(rng.uniform(values.low, values.high))
        else:
            params[name] = values[int(rng.integers(len(values)))]
    return params


def parameter_sets(strategy: str | type[Strategy], grid: Grid, *, method: str = "grid", n_iter: int | None = None,
                   seed: int = 0, constraint: Callable[[dict[str, Any]], bool] | None = None
                   ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The parameter sets a sweep runs (in trial order) and what was skipped: ``{"constraint": n, "invalid": n,
    "reason": first rejection message}``. Grid: every combination in the grid's order; random: ``n_iter``
    distinct seeded draws (all combinations, shuffled, when the space has no more).

    >>> sets, skipped = parameter_sets("sma_cross", {"fast": [5, 20], "slow": [10, 30]})
    >>> sets, skipped["invalid"]
    ([{'fast': 5, 'slow': 10}, {'fast': 5, 'slow': 30}, {'fast': 20, 'slow': 30}], 1)
    """
    cls = _strategy_class(strategy)
    space = _space(cls, grid, method)
    skipped: dict[str, Any] = {"constraint": 0, "invalid": 0, "reason": None}

    def accept(params: dict[str, Any]) -> bool:
        if constraint is not None and not constraint(dict(params)):
            skipped["constraint"] += 1
            return False
        try:
            cls(**params)
        except InvalidInputError as exc:
            skipped["invalid"] += 1
            skipped["reason"] = skipped["reason"] or str(exc)
            return False
        return True

    names = list(space)
    size = _space_size(space)
    if method == "grid":
        combos: Iterator[tuple[Any, ...]] = itertools.product(*space.values())  # type: ignore[arg-type]
        sets = [params for params in (dict(zip(names, combo, strict=True)) for combo in combos) if accept(params)]
    else:
        n_iter = DEFAULT_N_ITER if n_iter is None else int(n_iter)
        if n_iter < 1:
            raise InvalidInputError(f"n_iter must be at least 1, got {n_iter}")
        rng = np.random.default_rng(seed)
        if size <= n_iter:
            full = {name: list(range(int(v.low), int(v.high) + 1)) if isinstance(v, _Range) else v
                    for name, v in space.items()}
            every = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*full.values())]
            sets = [every[k] for k in rng.permutation(len(every)) if accept(every[k])]
        else:
            seen: set[tuple[Any, ...]] = set()
            sets, attempts, budget = [], 0, max(1_000, 100 * n_iter)
            while len(sets) < n_iter and attempts < budget:
                attempts += 1
                params = _draw(space, rng)
                key = tuple(params.values())
                if key in seen:
                    continue
                seen.add(key)
                if accept(params):
                    sets.append(params)
    if not sets:
        why = f"; the strategy says: {skipped['reason']}" if skipped["reason"] else ""
        raise InvalidInputError(f"no parameter set left to try: {skipped['constraint']} rejected by the constraint, "
                                f"{skipped['invalid']} by strategy {cls.label()!r}{why}")
    return sets, skipped


def parse_grid(items: Sequence[str], strategy: str | type[Strategy], *, method: str = "grid") -> dict[str, Any]:
    """Command-line grid options as a grid: ``fast=5,10,20`` (values), ``slow=20:60:10`` (20, 30, …, 60: the end
    is included), ``fast=5:20`` (integers 5…20; random search: a range sampled uniformly, floats included).

    >>> parse_grid(["fast=5,10", "slow=20:40:10"], "sma_cross")
    {'fast': [5, 10], 'slow': [20, 30, 40]}
    """
    cls = _strategy_class(strategy)
    defaults = cls.param_defaults()
    grid: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise InvalidInputError(f"bad grid {item!r}: write name=v1,v2,v3 or name=low:high:step, e.g. fast=5,10,20 "
                                    "or slow=20:60:10")
        _unknown(cls, [name])
        if name in grid:
            raise InvalidInputError(f"parameter {name} is given twice in the grid")
        grid[name] = _parse_values(cls.label(), name, defaults[name], text, method)
    return grid


def _parse_values(owner: str, name: str, default: Any, text: str, method: str) -> Any:
    if ":" not in text:
        values = [v.strip() for v in text.split(",")]
        if any(not v for v in values):
            raise InvalidInputError(f"bad grid {name}={text}: an empty value in the list")
        return [coerce_param(owner, name, default, v) for v in values]
    parts = [p.strip() for p in text.split(":")]
    if len(parts) not in (2, 3) or any(not p for p in parts):
        raise InvalidInputError(f"bad grid {name}={text}: a range is low:high or low:high:step")
    if isinstance(default, bool) or isinstance(default, str):
        raise InvalidInputError(f"bad grid {name}={text}: {name} is a {type(default).__name__}; list its values")
    kind = default if default is not None else (0 if all(_int_text(p) for p in parts) else 0.0)
    low, high = (coerce_param(owner, name, kind, p) for p in parts[:2])
    if not low <= high:
        raise InvalidInputError(f"bad grid {name}={text}: the range is empty (low > high)")
    if len(parts) == 2:
        if method == "random":
            return (low, high)
        if isinstance(kind, float):
            raise InvalidInputError(f"bad grid {name}={text}: a float range needs a step for a grid search "
                                    "(low:high:step)")
        return list(range(low, high + 1))
    step = coerce_param(owner, name, kind, parts[2])
    if not step > 0:
        raise InvalidInputError(f"bad grid {name}={text}: the step must be positive")
    if isinstance(kind, int):
        return list(range(low, high + 1, step))
    count = math.floor((high - low) / step + 1e-9) + 1
    return [round(low + k * step, 12) for k in range(count)]


def _int_text(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------------------------
# running trials (in worker processes)
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Task:
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


def _run_batch(strategy: str | type[Strategy], data: MarketData, tasks: Sequence[_Task], settings: BacktestSettings,
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
        row = {key: _number(metrics[key]) for key in TABLE_METRICS}
        row[metric_name] = score(metric, metrics)
        equity = result.equity["equity"].to_numpy()[task.act:]
        out.append((task.key, row, bar_returns(equity) if task.returns else None))
    return out


def _number(value: Any) -> float:
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


def run_tasks(strategy: str | type[Strategy], data: MarketData, tasks: Sequence[_Task], *,
              settings: BacktestSettings, metric: Metric, metric_name: str, n_jobs: int | None = -1,
              check_lookahead: bool = True, progress: bool | None = None, label: str = "backtests"
              ) -> dict[Any, tuple[dict[str, float], np.ndarray | None]]:
    """Run backtest tasks, in ``n_jobs`` loky workers (batches of interleaved tasks) or in this process."""
    workers = min(_workers(n_jobs), len(tasks))
    results: dict[Any, tuple[dict[str, float], np.ndarray | None]] = {}
    with _Progress(progress, len(tasks), label) as advance:
        if workers <= 1:
            for task in tasks:
                for key, row, returns in _run_batch(strategy, data, [task], settings, metric, metric_name,
                                                    check_lookahead and not results):
                    results[key] = (row, returns)
                advance(1)
            return results
        from joblib import Parallel, delayed

        n_batches = min(len(tasks), workers * _BATCHES_PER_WORKER)
        batches = [list(tasks[k::n_batches]) for k in range(n_batches)]
        lean = _lean(data)
        with Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered") as parallel:
            calls = (delayed(_run_batch)(strategy, lean, batch, settings, metric, metric_name,
                                         check_lookahead and k == 0) for k, batch in enumerate(batches))
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


# ---------------------------------------------------------------------------------------------------------------
# the result
# ---------------------------------------------------------------------------------------------------------------
@dataclass(eq=False)
class OptimizeResult:
    """One sweep. ``trials``: a row per trial (``trial`` number, the parameters, :data:`TABLE_METRICS` and the
    objective), best first; ``returns``: the per-bar returns of every trial (bars × trial numbers);
    ``overfitting``: the deflated Sharpe ratio of the best trial and the PBO (CSCV) of the sweep."""

    strategy: str
    metric: str
    maximize: bool
    method: str
    params: list[str]
    trials: pd.DataFrame
    returns: pd.DataFrame
    overfitting: OverfittingReport | None
    n_skipped: dict[str, Any]
    settings: BacktestSettings
    seconds: float
    param_sets: list[dict[str, Any]] = field(default_factory=list, repr=False)
    data: MarketData | None = field(default=None, repr=False)
    strategy_class: type[Strategy] | None = field(default=None, repr=False)

    @property
    def n_trials(self) -> int:
        return len(self.trials)

    @property
    def best(self) -> pd.Series:
        """The best trial's row."""
        return self.trials.iloc[0]

    @property
    def best_params(self) -> dict[str, Any]:
        return self.trial_params(int(self.trials["trial"].iloc[0]))

    def trial_params(self, trial: int) -> dict[str, Any]:
        """The parameter set of trial number ``trial`` (with its exact types)."""
        if self.param_sets:
            return dict(self.param_sets[trial])
        row = self.trials.set_index("trial").loc[trial]
        return {name: _plain(row[name]) for name in self.params}

    @property
    def best_value(self) -> float:
        return float(self.trials.iloc[0][self.metric])

    @property
    def fees(self) -> FeeSchedule | None:
        """The fee rates every trial charged and where they came from."""
        if self.data is None:
            return None
        return resolve_fees(self.data.specs, self.settings.fee, exchange=self.data.exchange)

    @property
    def annualisation(self) -> Annualisation | None:
        """Bars per year the trials' Sharpe / Sortino / volatility use, and why."""
        return annualisation_of(self.settings, self.data)

    def best_result(self) -> BacktestResult:
        """The best parameter set backtested again on the sweep's data (a full :class:`BacktestResult`)."""
        from zvt_crypto.trader.engine import run_backtest

        if self.data is None:
            raise InvalidInputError("this result has no data to run on")
        return run_backtest(self.strategy_class or self.strategy, self.data, params=self.best_params,
                            settings=self.settings)

    def top(self, n: int = 10) -> pd.DataFrame:
        return self.trials.head(n)

    def __repr__(self) -> str:
        report = self.overfitting
        extra = ""
        if report is not None:
            pbo = "n/a" if report.pbo is None else f"{report.pbo.pbo:.2f}"
            extra = f", deflated Sharpe {report.deflated_sharpe:.3f}, PBO {pbo}"
        return (f"<OptimizeResult {self.strategy} {self.method} search, {self.n_trials} trials: best "
                f"{self.best_params} {self.metric} {self.best_value:.4g}{extra}>")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: settings, ``best`` (trial, params, metrics), every trial, ``overfitting``, ``skipped``."""
        data = self.data
        return {
            "strategy": self.strategy,
            "method": self.method,
            "metric": self.metric,
            "maximize": self.maximize,
            "n_trials": self.n_trials,
            "skipped": self.n_skipped,
            "settings": self.settings.to_dict(),
            "data": _data_info(data),
            "annualisation": None if self.annualisation is None else vars(self.annualisation),
            "fees": None if self.fees is None else self.fees.to_dict(),
            "seconds": round(self.seconds, 3),
            "best": {"trial": int(self.best["trial"]), "params": self.best_params,
                     "metrics": _row_metrics(self.best, self.params)},
            "trials": [{"trial": int(row["trial"]), "params": self.trial_params(int(row["trial"])),
                        "metrics": _row_metrics(row, self.params)} for _, row in self.trials.iterrows()],
            "overfitting": _overfitting_dict(self.overfitting),
        }

    def to_json(self, path: str | Path | None = None) -> str:
        return dump_json(self.to_dict(), path)


def _data_info(data: MarketData | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {"exchange": data.exchange, "symbols": data.symbols, "level": data.level, "n_bars": data.n_bars,
            "start": iso(data.index[0]), "end": iso(data.index[-1]), "fingerprint": data.fingerprint}


def _row_metrics(row: pd.Series, params: Sequence[str]) -> dict[str, Any]:
    return to_jsonable({k: _number(v) for k, v in row.items() if k != "trial" and k not in params})


def _overfitting_dict(report: OverfittingReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    out = report.as_dict()
    out["pbo_n_splits"] = None if report.pbo is None else report.pbo.n_splits
    out["pbo_n_combinations"] = None if report.pbo is None else report.pbo.n_combinations
    return out


def sweep_overfitting(returns: np.ndarray, best: int, *, label: int | str | None = None, n_splits: int = 16,
                      selected: np.ndarray | None = None) -> OverfittingReport:
    """Overfitting statistics of a sweep's T × N per-bar ``returns``: DSR of column ``best`` (or of ``selected``
    returns, e.g. a walk-forward's stitched out-of-sample returns) against N trials with the variance of the
    columns' per-bar Sharpe ratios; PBO by CSCV with ``n_splits`` blocks (None when T < 2·n_splits or N < 2)."""
    from zvt_crypto.trader.overfitting import (  # scipy: imported when needed
        OverfittingReport,
        _moments,
        expected_max_sharpe,
        probabilistic_sharpe_ratio,
        probability_of_backtest_overfitting,
        sharpe_ratio,
    )

    m = np.asarray(returns, dtype=np.float64)
    n = m.shape[1]
    sharpes = np.asarray(sharpe_ratio(m), dtype=float).reshape(-1) if len(m) > 1 else np.full(n, np.nan)
    finite = sharpes[np.isfinite(sharpes)]
    variance = float(np.var(finite, ddof=1)) if len(finite) > 1 else 0.0
    sr0 = expected_max_sharpe(n, variance)
    chosen = m[:, best] if selected is None else np.asarray(selected, dtype=np.float64)
    sr, skew, kurt, n_obs = _moments(chosen)
    pbo = None
    if n >= 2 and len(m) // n_splits >= 2 and np.isfinite(m).all():
        pbo = probability_of_backtest_overfitting(m, n_splits)
    return OverfittingReport(n_trials=n, n_obs=n_obs, best=best if label is None else label, best_sharpe=sr,
                             expected_max_sharpe=sr0,
                             deflated_sharpe=probabilistic_sharpe_ratio(sr, sr0, n_obs, skew, kurt), pbo=pbo)


# ---------------------------------------------------------------------------------------------------------------
# optimize
# ---------------------------------------------------------------------------------------------------------------
def check_metric(metric: Metric) -> str:
    """The objective's column name; a string must be a numeric backtest metric."""
    if callable(metric):
        name = getattr(metric, "__name__", "")
        return name if name.isidentifier() and name not in TABLE_METRICS else "objective"
    if metric not in NUMERIC_METRICS:
        raise InvalidInputError(f"unknown metric {metric!r}; use one of {', '.join(NUMERIC_METRICS)}")
    return metric


def annualisation_of(settings: BacktestSettings, data: MarketData | None) -> Annualisation | None:
    """The ``periods_per_year`` setting when given, else what the data's bar times imply."""
    given = settings.periods_per_year
    if given is not None:
        return Annualisation.given(given)
    return None if data is None else data.annualisation


def rank(table: pd.DataFrame, metric: str, maximize: bool) -> pd.DataFrame:
    """Trials best first: by ``metric`` (NaN last), ties by trial number."""
    return table.sort_values([metric, "trial"], ascending=[not maximize, True], na_position="last",
                             kind="mergesort").reset_index(drop=True)


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
    cls = _strategy_class(strategy)
    metric_name = check_metric(metric)
    settings = BacktestSettings.from_arguments(settings, options, cash=cash, fee=fee, slippage=slippage,
                                               leverage=leverage, engine=engine)
    resolve_fees(data.specs, settings.fee, exchange=data.exchange)  # an unknown fee fails here, not in every worker
    sets, skipped = parameter_sets(cls, grid, method=method, n_iter=n_iter, seed=seed, constraint=constraint)
    tasks = [_Task(k, params, 0, data.n_bars) for k, params in enumerate(sets)]
    done = run_tasks(cls, data, tasks, settings=settings, metric=metric, metric_name=metric_name, n_jobs=n_jobs,
                     check_lookahead=check_lookahead, progress=progress, label=f"{cls.label()} {method} search")
    return _assemble(cls, data, sets, done, names=list(grid), metric_name=metric_name, maximize=maximize,
                     method=method, skipped=skipped, settings=settings, n_splits=n_splits,
                     seconds=time.perf_counter() - started)


def _assemble(cls: type[Strategy], data: MarketData, sets: list[dict[str, Any]],
              done: Mapping[Any, tuple[dict[str, float], np.ndarray | None]], *, names: list[str], metric_name: str,
              maximize: bool, method: str, skipped: dict[str, Any], settings: BacktestSettings, n_splits: int,
              seconds: float, key: Callable[[int], Any] = lambda k: k) -> OptimizeResult:
    rows = []
    for k, params in enumerate(sets):
        row, _ = done[key(k)]
        rows.append({"trial": k, **params, **row})
    table = rank(pd.DataFrame(rows), metric_name, maximize)
    columns = {k: done[key(k)][1] for k in range(len(sets))}
    returns = pd.DataFrame(columns, index=data.index[1:]) if columns else pd.DataFrame(index=data.index[1:])
    best = int(table["trial"].iloc[0])
    report = sweep_overfitting(returns.to_numpy(), best, n_splits=n_splits)
    return OptimizeResult(strategy=cls.label(), metric=metric_name, maximize=maximize, method=method,
                          params=names, trials=table, returns=returns, overfitting=report, n_skipped=skipped,
                          settings=settings, seconds=seconds, param_sets=sets, data=data,
                          strategy_class=cls)

