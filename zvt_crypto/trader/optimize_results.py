"""The result of a sweep: :class:`OptimizeResult` (the trials ranked, their per-bar returns, the overfitting
statistics), assembled from the trials' outcomes, and its JSON form."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.timeutil import iso
from zvt_crypto.trader.fees import FeeSchedule, resolve_fees
from zvt_crypto.trader.metrics import Annualisation, dump_json, to_jsonable
from zvt_crypto.trader.optimize_space import plain
from zvt_crypto.trader.optimize_trials import as_number
from zvt_crypto.trader.settings import BacktestSettings
from zvt_crypto.trader.strategy import Strategy

if TYPE_CHECKING:
    from zvt_crypto.trader.data import MarketData
    from zvt_crypto.trader.overfitting import OverfittingReport
    from zvt_crypto.trader.results import BacktestResult

__all__ = ["OptimizeResult", "annualisation_of", "assemble", "data_info", "overfitting_dict", "rank",
           "sweep_overfitting"]


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
        return {name: plain(row[name]) for name in self.params}

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
            "data": data_info(data),
            "annualisation": None if self.annualisation is None else vars(self.annualisation),
            "fees": None if self.fees is None else self.fees.to_dict(),
            "seconds": round(self.seconds, 3),
            "best": {"trial": int(self.best["trial"]), "params": self.best_params,
                     "metrics": _row_metrics(self.best, self.params)},
            "trials": [{"trial": int(row["trial"]), "params": self.trial_params(int(row["trial"])),
                        "metrics": _row_metrics(row, self.params)} for _, row in self.trials.iterrows()],
            "overfitting": overfitting_dict(self.overfitting),
        }

    def to_json(self, path: str | Path | None = None) -> str:
        return dump_json(self.to_dict(), path)


def data_info(data: MarketData | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {"exchange": data.exchange, "symbols": data.symbols, "level": data.level, "n_bars": data.n_bars,
            "start": iso(data.index[0]), "end": iso(data.index[-1]), "fingerprint": data.fingerprint}


def _row_metrics(row: pd.Series, params: Sequence[str]) -> dict[str, Any]:
    return to_jsonable({k: as_number(v) for k, v in row.items() if k != "trial" and k not in params})


def overfitting_dict(report: OverfittingReport | None) -> dict[str, Any] | None:
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
        expected_max_sharpe,
        probabilistic_sharpe_ratio,
        probability_of_backtest_overfitting,
        sharpe_moments,
        sharpe_ratio,
    )

    m = np.asarray(returns, dtype=np.float64)
    n = m.shape[1]
    sharpes = np.asarray(sharpe_ratio(m), dtype=float).reshape(-1) if len(m) > 1 else np.full(n, np.nan)
    finite = sharpes[np.isfinite(sharpes)]
    variance = float(np.var(finite, ddof=1)) if len(finite) > 1 else 0.0
    sr0 = expected_max_sharpe(n, variance)
    chosen = m[:, best] if selected is None else np.asarray(selected, dtype=np.float64)
    sr, skew, kurt, n_obs = sharpe_moments(chosen)
    pbo = None
    if n >= 2 and len(m) // n_splits >= 2 and np.isfinite(m).all():
        pbo = probability_of_backtest_overfitting(m, n_splits)
    return OverfittingReport(n_trials=n, n_obs=n_obs, best=best if label is None else label, best_sharpe=sr,
                             expected_max_sharpe=sr0,
                             deflated_sharpe=probabilistic_sharpe_ratio(sr, sr0, n_obs, skew, kurt), pbo=pbo)


# with data the result is never None: callers that pass data need no narrowing
@overload
def annualisation_of(settings: BacktestSettings, data: MarketData) -> Annualisation: ...


@overload
def annualisation_of(settings: BacktestSettings, data: MarketData | None) -> Annualisation | None: ...


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


def assemble(cls: type[Strategy], data: MarketData, sets: list[dict[str, Any]],
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
