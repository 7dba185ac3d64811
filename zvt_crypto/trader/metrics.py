"""Backtest result metrics: pure functions of an equity curve, the closed trades and a few totals.

Inputs (all in the quote currency, timestamps UTC):

- ``equity``: portfolio equity at each bar close, on a regular grid of one level (it may start before the first
  trade). A tz-naive index is taken as UTC.
- ``trades``: one row per closed trade, columns :data:`TRADE_COLUMNS` — ``entry_time``, ``exit_time``,
  ``entity_id``, ``side`` ("long"/"short"), ``size`` (> 0, base units), ``entry_price``, ``exit_price``, ``pnl``
  (net of fees and funding), ``fees``, ``funding`` (positive = paid by us), ``return`` (pnl / entry notional).
- ``exposure``: gross position notional / equity at each bar (0 when flat), on the equity's index.
- ``traded_notional``: sum of |fill notional| over all fills; ``fees_paid``; ``funding_paid`` and
  ``funding_received`` (both >= 0).
- ``periods_per_year``: bars per year. Crypto trades 24/7, so a year is 365 days: 1d → 365, 1h → 8760, 1m → 525600.
  Markets with a trading calendar (stocks, FX: no weekend bars) have fewer: daily bars 252 a year, intraday bars as
  many as observed per year. :func:`infer_annualisation` tells them apart from the bar times; the metrics repeat the
  number used (``periods_per_year``) and why (``annualisation``).

Formulas (r_t = per-bar simple return of equity, t = 1..n−1; rf_bar = (1 + risk_free)^(1/periods_per_year) − 1;
years = (end − start) / 365 days):

- ``total_return`` = E_end / E_0 − 1;  ``cagr`` = (E_end / E_0)^(1/years) − 1 (NaN when years = 0).
- ``annual_volatility`` = std(r, ddof=1) · sqrt(periods_per_year).
- ``sharpe`` = mean(r − rf_bar) / std(r − rf_bar, ddof=1) · sqrt(periods_per_year)  (quantstats / empyrical).
- ``sortino`` = mean(r − rf_bar) / sqrt(mean(min(r − rf_bar, 0)²)) · sqrt(periods_per_year)  (quantstats: the
  downside deviation averages over *all* bars, not only the losing ones).
- ``calmar`` = cagr / |max_drawdown|.
- drawdown_t = E_t / max(E_0..E_t) − 1 (≤ 0); ``max_drawdown`` = min_t drawdown_t (e.g. −0.23).
- ``max_drawdown_duration``: the longest time from a peak to the first bar back at or above it (or to the last bar
  when it never recovers) — backtesting.py's convention.
- ``win_rate`` = share of trades with pnl > 0; ``profit_factor`` = Σ pnl⁺ / |Σ pnl⁻| (in currency, not in returns as
  backtesting.py does); ``expectancy`` = mean pnl per trade; ``avg_trade_return`` / ``best_trade_return`` /
  ``worst_trade_return`` = arithmetic mean / max / min of ``return``; ``avg_holding_time`` = mean(exit − entry).
- ``exposure`` = mean of the exposure series over all bars (time-weighted gross leverage); ``exposure_time`` =
  share of bars with a non-zero exposure.
- ``turnover`` = traded_notional / mean(E) / years (two-sided: a round trip of the whole equity counts 2).
- ``benchmark_return`` = B_end / B_0 − 1; ``beta`` = cov(r, b) / var(b) and ``alpha`` = (mean(r − rf_bar) −
  beta · mean(b − rf_bar)) · periods_per_year (annualised Jensen alpha on simple per-bar returns, as quantstats).

Undefined values: a ratio whose denominator is zero (flat equity, no losing bar, no drawdown, no losing trade) is NaN,
never ±inf; a standard deviation below 1e-12 counts as zero. Trade metrics are NaN (``avg_holding_time`` None)
without trades. Total loss: from the first bar whose equity is <= 0 the account is wiped out — the equity used for
returns, drawdowns and ratios is 0 from there on, returns stop at that bar (its return is −1), ``total_return`` and
``cagr`` are −1 and ``max_drawdown`` is −1; ``final_equity`` still reports the raw last value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.timeutil import iso

__all__ = [
    "DAYS_PER_YEAR",
    "METRIC_KEYS",
    "TRADE_COLUMNS",
    "TRADING_DAYS_PER_YEAR",
    "Annualisation",
    "MetricValue",
    "compute_metrics",
    "drawdown_series",
    "infer_annualisation",
    "metrics_frame",
    "periods_per_year_for",
    "to_jsonable",
]

MetricValue: TypeAlias = float | int | str | pd.Timedelta | pd.Timestamp | None

DAYS_PER_YEAR = 365  # crypto trades every day of the year: no 252, no 365.25
TRADING_DAYS_PER_YEAR = 252  # stocks and FX: the usual count of trading days
_YEAR = pd.Timedelta(days=DAYS_PER_YEAR)
_YEAR_MS = DAYS_PER_YEAR * 86_400_000
_DAY_MS = 86_400_000
_WEEK_MS = 7 * _DAY_MS
# backtesting.py's test: a 24/7 market has 2/7 of its bars on Saturdays and Sundays; under 60 % of that means
# the venue closes at weekends (a Sunday-evening FX open, a few stray bars do not make it a 24/7 market)
_WEEKEND_SHARE = 2 / 7 * 0.6
_ZERO_STD = 1e-12

TRADE_COLUMNS = (
    "entry_time",
    "exit_time",
    "entity_id",
    "side",
    "size",
    "entry_price",
    "exit_price",
    "pnl",
    "fees",
    "funding",
    "return",
)

METRIC_KEYS = (
    "start",
    "end",
    "duration",
    "n_bars",
    "initial_equity",
    "final_equity",
    "peak_equity",
    "total_return",
    "cagr",
    "annual_volatility",
    "sharpe",
    "sortino",
    "calmar",
    "periods_per_year",
    "annualisation",
    "max_drawdown",
    "max_drawdown_duration",
    "n_trades",
    "win_rate",
    "profit_factor",
    "gross_profit",
    "gross_loss",
    "expectancy",
    "avg_trade_return",
    "best_trade_return",
    "worst_trade_return",
    "avg_holding_time",
    "max_holding_time",
    "exposure",
    "exposure_time",
    "turnover",
    "fees_paid",
    "funding_paid",
    "funding_received",
    "benchmark_return",
    "alpha",
    "beta",
)

# Keys whose values are fractions (shown as percentages by metrics_frame).
_FRACTION_KEYS = frozenset(
    {
        "total_return",
        "cagr",
        "annual_volatility",
        "max_drawdown",
        "win_rate",
        "avg_trade_return",
        "best_trade_return",
        "worst_trade_return",
        "exposure",
        "exposure_time",
        "benchmark_return",
        "alpha",
    }
)


def periods_per_year_for(bar: Level | str | pd.Timedelta) -> float:
    """Bars per 365-day year for a level (``"1m"`` … ``"1w"``, ccxt style) or a bar length.

    >>> periods_per_year_for("1h"), periods_per_year_for(pd.Timedelta(minutes=1))
    (8760.0, 525600.0)
    """
    td = pd.Timedelta(bar) if isinstance(bar, pd.Timedelta) else pd.Timedelta(Level.parse(bar).ms, unit="ms")
    if td <= pd.Timedelta(0):
        raise InvalidInputError(f"bar length must be positive, got {bar!r}")
    return float(_YEAR / td)


@dataclass(frozen=True)
class Annualisation:
    """How per-bar statistics are annualised: ``periods_per_year`` bars a year, and the ``basis`` (why)."""

    periods_per_year: float
    basis: str

    @classmethod
    def given(cls, periods_per_year: float) -> Annualisation:
        if not (isinstance(periods_per_year, int | float) and math.isfinite(periods_per_year)
                and periods_per_year > 0):
            raise InvalidInputError(f"periods per year must be a positive number, got {periods_per_year!r}")
        return cls(float(periods_per_year), "given")


def infer_annualisation(timestamps_ms: np.ndarray, bar_ms: int) -> Annualisation:
    """Bars per year from the bar open times (UTC epoch ms, increasing) and the bar length.

    Bars on weekends (or too short a span to tell, or weekly bars): a 24/7 market, a 365-day year — 1h bars 8760.
    Bars shorter than a week with (almost) none on Saturdays and Sundays over at least a week: a trading calendar —
    daily bars 252 a year, intraday bars the number observed per year.

    >>> days = np.arange(21) * 86_400_000 + 1_704_067_200_000          # 21 days from Monday 2024-01-01
    >>> infer_annualisation(days, 86_400_000).periods_per_year
    365.0
    >>> weekdays = days[(np.arange(21) % 7) < 5]
    >>> infer_annualisation(weekdays, 86_400_000).periods_per_year
    252.0
    """
    every_day = Annualisation(_YEAR_MS / bar_ms, f"{DAYS_PER_YEAR}-day year (bars every day)")
    times = np.asarray(timestamps_ms, dtype=np.int64)
    if bar_ms >= _WEEK_MS or len(times) < 2 or times[-1] - times[0] < _WEEK_MS:
        return every_day
    weekday = (times // _DAY_MS + 3) % 7  # 1970-01-01 was a Thursday: Monday = 0
    if np.mean(weekday >= 5) > _WEEKEND_SHARE:
        return every_day
    if bar_ms >= _DAY_MS:
        return Annualisation(TRADING_DAYS_PER_YEAR * _DAY_MS / bar_ms,
                             f"{TRADING_DAYS_PER_YEAR} trading days a year (no weekend bars)")
    observed = len(times) / ((times[-1] - times[0] + bar_ms) / _YEAR_MS)
    return Annualisation(observed, "bars per year as observed (no weekend bars)")


def _as_utc_series(values: pd.Series, name: str) -> pd.Series:
    if not isinstance(values, pd.Series):
        raise InvalidInputError(f"{name} must be a pandas Series indexed by timestamps")
    index = values.index
    if not isinstance(index, pd.DatetimeIndex):
        raise InvalidInputError(f"{name} must be indexed by a DatetimeIndex")
    index = (index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")).as_unit("ns")
    if not index.is_monotonic_increasing or not index.is_unique:
        raise InvalidInputError(f"{name} index must be increasing and unique")
    out = pd.Series(np.asarray(values, dtype=float), index=index, name=values.name)
    if out.isna().any():
        raise InvalidInputError(f"{name} contains NaN")
    return out


def _effective_equity(equity: pd.Series) -> tuple[pd.Series, int | None]:
    """Equity with everything from the first bar <= 0 set to 0, and that bar's position (None if never ruined)."""
    ruined = np.flatnonzero(equity.to_numpy() <= 0)
    if len(ruined) == 0:
        return equity, None
    k = int(ruined[0])
    values = equity.to_numpy().copy()
    values[k:] = 0.0
    return pd.Series(values, index=equity.index, name=equity.name), k


def drawdown_series(equity: pd.Series) -> pd.DataFrame:
    """Drawdown of an equity curve at each bar.

    Columns: ``equity`` (0 from the first bar <= 0 on: total loss), ``peak`` (running maximum), ``drawdown`` =
    equity / peak − 1 (≤ 0; −1 after a total loss) and ``duration`` = time since the last bar at the peak (0 at a
    new peak or on recovery; :func:`compute_metrics`' ``max_drawdown_duration`` also counts the recovery bar).

    >>> idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    >>> drawdown_series(pd.Series([100.0, 110.0, 99.0, 121.0], index=idx))["drawdown"].round(3).tolist()
    [0.0, 0.0, -0.1, 0.0]
    """
    eq = _as_utc_series(equity, "equity")
    if len(eq) and eq.iloc[0] <= 0:
        raise InvalidInputError("initial equity must be positive")
    eff, _ = _effective_equity(eq)
    values = eff.to_numpy()
    peak = np.maximum.accumulate(values) if len(values) else values
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, values / peak - 1.0, 0.0)
    dd = np.minimum(dd, 0.0)
    times = eff.index.asi8
    # Last bar at the peak, as of each bar (the first bar is always one: its drawdown is 0).
    peak_ns = np.maximum.accumulate(np.where(dd >= 0, times, np.iinfo(np.int64).min)) if len(times) else times
    return pd.DataFrame(
        {
            "equity": values,
            "peak": peak,
            "drawdown": dd,
            "duration": pd.to_timedelta(times - peak_ns, unit="ns"),
        },
        index=eff.index,
    )


def _max_drawdown_duration(dd: pd.DataFrame) -> pd.Timedelta:
    """Longest peak → recovery time (to the last bar when not recovered), as backtesting.py counts it."""
    durations = dd["duration"].to_numpy().astype("timedelta64[ns]").astype(np.int64)
    longest = int(durations.max()) if len(durations) else 0  # spells still open at their bar
    under = dd["drawdown"].to_numpy()[:-1] < 0
    if under.any():
        # A spell open at t − 1 and closed at t lasted t − (its peak time): the recovery bar counts.
        times = dd.index.asi8
        peak_ns = times - durations
        longest = max(longest, int((times[1:][under] - peak_ns[:-1][under]).max()))
    return pd.Timedelta(longest, unit="ns")


def _nan_ratio(num: float, den: float) -> float:
    if not np.isfinite(num) or not np.isfinite(den) or den == 0:
        return math.nan
    return float(num / den)


def _return_stats(returns: np.ndarray, periods_per_year: float, rf_bar: float) -> tuple[float, float, float]:
    """(annual volatility, Sharpe, Sortino) of per-bar returns."""
    if len(returns) < 1:
        return math.nan, math.nan, math.nan
    excess = returns - rf_bar
    mean = float(excess.mean())
    sd = float(returns.std(ddof=1)) if len(returns) > 1 else math.nan
    ann = math.sqrt(periods_per_year)
    vol = sd * ann if np.isfinite(sd) else math.nan
    if np.isfinite(sd) and sd < _ZERO_STD:
        sd = 0.0
    sharpe = _nan_ratio(mean, sd) * ann
    downside = float(np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside < _ZERO_STD:
        downside = 0.0
    sortino = _nan_ratio(mean, downside) * ann
    return vol, sharpe, sortino


def _trade_stats(trades: pd.DataFrame | None) -> dict[str, MetricValue]:
    n = 0 if trades is None else len(trades)
    out: dict[str, MetricValue] = {
        "n_trades": int(n),
        "win_rate": math.nan,
        "profit_factor": math.nan,
        "gross_profit": 0.0,
        "gross_loss": 0.0,
        "expectancy": math.nan,
        "avg_trade_return": math.nan,
        "best_trade_return": math.nan,
        "worst_trade_return": math.nan,
        "avg_holding_time": None,
        "max_holding_time": None,
    }
    if trades is None or n == 0:
        return out
    missing = [c for c in ("pnl", "return", "entry_time", "exit_time") if c not in trades.columns]
    if missing:
        raise InvalidInputError(f"trades lack columns {missing}")
    pnl = trades["pnl"].to_numpy(dtype=float)
    ret = trades["return"].to_numpy(dtype=float)
    gross_profit = float(pnl[pnl > 0].sum())
    gross_loss = float(-pnl[pnl < 0].sum())
    held = pd.to_datetime(trades["exit_time"], utc=True) - pd.to_datetime(trades["entry_time"], utc=True)
    out.update(
        win_rate=float((pnl > 0).mean()),
        profit_factor=_nan_ratio(gross_profit, gross_loss),
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        expectancy=float(pnl.mean()),
        avg_trade_return=float(ret.mean()),
        best_trade_return=float(ret.max()),
        worst_trade_return=float(ret.min()),
        avg_holding_time=pd.Timedelta(held.mean()),
        max_holding_time=pd.Timedelta(held.max()),
    )
    return out


def _aligned(values: pd.Series | np.ndarray | None, index: pd.DatetimeIndex, name: str) -> np.ndarray | None:
    if values is None:
        return None
    if isinstance(values, pd.Series):
        series = _as_utc_series(values, name)
        if not series.index.equals(index):
            raise InvalidInputError(f"{name} must be on the equity's index")
        return series.to_numpy()
    arr = np.asarray(values, dtype=float)
    if arr.shape != (len(index),):
        raise InvalidInputError(f"{name} must have one value per equity bar")
    return arr


def compute_metrics(
    equity: pd.Series,
    trades: pd.DataFrame | None = None,
    exposure: pd.Series | np.ndarray | None = None,
    *,
    periods_per_year: float,
    annualisation: str | None = None,
    traded_notional: float = 0.0,
    fees_paid: float | None = None,
    funding_paid: float | None = None,
    funding_received: float | None = None,
    benchmark: pd.Series | np.ndarray | None = None,
    risk_free: float = 0.0,
) -> dict[str, MetricValue]:
    """Backtest metrics (keys :data:`METRIC_KEYS`; formulas in the module docstring).

    ``fees_paid`` / ``funding_paid`` / ``funding_received`` default to the trades' ``fees`` sum and the sums of their
    positive / negative ``funding`` (pass the engine's totals to include still-open positions). Without ``exposure``
    the exposure metrics are NaN; without ``benchmark``, ``benchmark_return`` / ``alpha`` / ``beta`` are NaN.
    ``annualisation`` says where ``periods_per_year`` came from (the :class:`Annualisation` basis; default "given");
    both are in the metrics.

    >>> idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    >>> m = compute_metrics(pd.Series([100.0, 110.0, 99.0, 121.0], index=idx), periods_per_year=365)
    >>> round(m["total_return"], 4), round(m["max_drawdown"], 4), m["max_drawdown_duration"]
    (0.21, -0.1, Timedelta('2 days 00:00:00'))
    """
    eq = _as_utc_series(equity, "equity")
    if len(eq) == 0:
        raise InvalidInputError("equity is empty")
    if not periods_per_year or periods_per_year <= 0:
        raise InvalidInputError("periods_per_year must be positive")
    initial = float(eq.iloc[0])
    if initial <= 0:
        raise InvalidInputError("initial equity must be positive")

    eff, ruin = _effective_equity(eq)
    values = eff.to_numpy()
    # Per-bar returns, stopping at the ruin bar (whose return is −1).
    last = len(values) if ruin is None else ruin + 1
    returns = values[1:last] / values[: last - 1] - 1.0

    start, end = eq.index[0], eq.index[-1]
    duration = end - start
    years = duration / _YEAR
    final_eff = float(values[-1])
    total_return = final_eff / initial - 1.0
    if ruin is not None:
        cagr = -1.0
    elif years > 0:
        cagr = float((final_eff / initial) ** (1.0 / years) - 1.0)
    else:
        cagr = math.nan

    rf_bar = (1.0 + risk_free) ** (1.0 / periods_per_year) - 1.0
    vol, sharpe, sortino = _return_stats(returns, periods_per_year, rf_bar)

    dd = drawdown_series(eq)
    max_dd = float(dd["drawdown"].min())
    calmar = _nan_ratio(cagr, abs(max_dd))

    out: dict[str, MetricValue] = {
        "start": start,
        "end": end,
        "duration": duration,
        "n_bars": len(eq),
        "initial_equity": initial,
        "final_equity": float(eq.iloc[-1]),
        "peak_equity": float(eq.max()),
        "total_return": float(total_return),
        "cagr": cagr,
        "annual_volatility": vol,
        "sharpe": sharpe,
        "sortino": sortino,
        "calmar": calmar,
        "periods_per_year": float(periods_per_year),
        "annualisation": annualisation or "given",
        "max_drawdown": max_dd,
        "max_drawdown_duration": _max_drawdown_duration(dd),
    }
    out.update(_trade_stats(trades))

    expo = _aligned(exposure, eq.index, "exposure")
    if expo is None:
        out["exposure"] = math.nan
        out["exposure_time"] = math.nan
    else:
        expo = np.nan_to_num(np.abs(expo), nan=0.0)
        out["exposure"] = float(expo.mean())
        out["exposure_time"] = float((expo > 0).mean())

    mean_equity = float(values.mean())
    out["turnover"] = float(traded_notional) / mean_equity / years if years > 0 and mean_equity > 0 else math.nan

    listed = trades if trades is not None and len(trades) > 0 else None
    funding = listed["funding"].to_numpy(dtype=float) if listed is not None and "funding" in listed else np.zeros(0)
    if fees_paid is None:
        fees_paid = float(listed["fees"].sum()) if listed is not None and "fees" in listed else 0.0
    if funding_paid is None:
        funding_paid = float(funding[funding > 0].sum())
    if funding_received is None:
        funding_received = float(-funding[funding < 0].sum())
    out["fees_paid"] = float(fees_paid)
    out["funding_paid"] = float(funding_paid)
    out["funding_received"] = float(funding_received)

    out["benchmark_return"] = math.nan
    out["alpha"] = math.nan
    out["beta"] = math.nan
    bench = _aligned(benchmark, eq.index, "benchmark")
    if bench is not None:
        if bench[0] <= 0 or not np.isfinite(bench).all():
            raise InvalidInputError("benchmark must be finite with a positive first value")
        out["benchmark_return"] = float(bench[-1] / bench[0] - 1.0)
        b_ret = bench[1:last] / bench[: last - 1] - 1.0
        if len(returns) > 1:
            var_b = float(np.var(b_ret, ddof=1))
            if var_b >= _ZERO_STD**2:
                beta = float(np.cov(returns, b_ret, ddof=1)[0, 1] / var_b)
                out["beta"] = beta
                out["alpha"] = float(((returns - rf_bar).mean() - beta * (b_ret - rf_bar).mean()) * periods_per_year)
    return {k: out[k] for k in METRIC_KEYS}


def _jsonable_value(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return iso(value)
    if isinstance(value, pd.Timedelta | np.timedelta64):
        td = pd.Timedelta(value)
        return None if td is pd.NaT else td.total_seconds()
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def to_jsonable(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-ready copy: Timedelta → seconds (float), Timestamp → ISO-8601 'Z' string, NaN / ±inf / NaT → None.

    >>> to_jsonable({"duration": pd.Timedelta("1h"), "sharpe": float("nan")})
    {'duration': 3600.0, 'sharpe': None}
    """
    return {k: _jsonable_value(v) for k, v in metrics.items()}


def _display(key: str, value: Any) -> str:
    if value is None or value is pd.NaT:
        return "—"
    if isinstance(value, pd.Timestamp):
        return iso(value)
    if isinstance(value, pd.Timedelta | str):
        return str(value)
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return f"{int(value):d}"
    f = float(value)
    if not math.isfinite(f):
        return "—"
    if key in _FRACTION_KEYS:
        return f"{f * 100:.2f} %"
    return f"{f:,.4g}" if abs(f) < 1e6 else f"{f:,.2f}"


def metrics_frame(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """Display table: one row per metric (index ``metric``), columns ``value`` (raw) and ``display`` (formatted,
    fractions as percentages).

    >>> metrics_frame({"total_return": 0.21, "n_trades": 3})["display"].tolist()
    ['21.00 %', '3']
    """
    rows = {k: (v, _display(k, v)) for k, v in metrics.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["value", "display"], dtype=object)
    frame.index.name = "metric"
    return frame


def dump_json(data: Mapping[str, Any], path: str | Path | None = None) -> str:
    """Compact JSON of a result's ``to_dict()`` (orjson; :func:`to_jsonable` turned NaN into null), written to
    ``path`` (its folder created) when given."""
    from zvt_crypto.trader.export import dumps, write_bytes

    text = dumps(data)
    if path is not None:
        write_bytes(path, text)
    return text.decode()
