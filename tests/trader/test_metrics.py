"""Backtest metrics against hand computations and against backtesting.py's own stats on its GOOG data."""

from __future__ import annotations

import doctest
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader import MarketData, run_backtest
from zvt_crypto.trader import metrics as metrics_module
from zvt_crypto.trader.metrics import (
    METRIC_KEYS,
    TRADE_COLUMNS,
    compute_metrics,
    drawdown_series,
    metrics_frame,
    periods_per_year_for,
    to_jsonable,
)

from .conftest import market, ohlc_frame

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def curve(values: list[float], freq: str = "D") -> pd.Series:
    return pd.Series(values, index=pd.date_range(T0, periods=len(values), freq=freq), dtype=float)


def hand_sharpe(returns: list[float], ppy: float, rf_bar: float = 0.0) -> float:
    r = np.array(returns) - rf_bar
    return r.mean() / r.std(ddof=1) * math.sqrt(ppy)


def trades_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(TRADE_COLUMNS))


def test_hand_computed_curve():
    m = compute_metrics(curve([100, 110, 99, 121]), periods_per_year=365)
    returns = [0.1, -0.1, 121 / 99 - 1]
    assert list(m) == list(METRIC_KEYS)
    assert m["start"] == T0 and m["end"] == T0 + pd.Timedelta(days=3)
    assert m["duration"] == pd.Timedelta(days=3)
    assert m["n_bars"] == 4
    assert m["initial_equity"] == 100 and m["final_equity"] == 121 and m["peak_equity"] == 121
    assert m["total_return"] == pytest.approx(0.21)
    assert m["cagr"] == pytest.approx(1.21 ** (365 / 3) - 1)
    assert m["annual_volatility"] == pytest.approx(np.std(returns, ddof=1) * math.sqrt(365))
    assert m["sharpe"] == pytest.approx(hand_sharpe(returns, 365))
    downside = math.sqrt((0.1**2) / 3)  # only the −10 % bar is below 0; averaged over all 3 bars
    assert m["sortino"] == pytest.approx(np.mean(returns) / downside * math.sqrt(365))
    assert m["max_drawdown"] == pytest.approx(-0.1)
    # Peak on day 1 (110), under water on day 2, back above on day 3: 2 days, as backtesting.py counts it.
    assert m["max_drawdown_duration"] == pd.Timedelta(days=2)
    assert m["calmar"] == pytest.approx(m["cagr"] / 0.1)

    dd = drawdown_series(curve([100, 110, 99, 121]))
    assert dd["drawdown"].tolist() == pytest.approx([0, 0, -0.1, 0])
    assert dd["peak"].tolist() == [100, 110, 110, 121]
    assert list(dd["duration"]) == [pd.Timedelta(0), pd.Timedelta(0), pd.Timedelta(days=1), pd.Timedelta(0)]


def test_unrecovered_drawdown_runs_to_the_last_bar_and_longest_spell_wins():
    # Spell 1: peak day 0 (100) → recovered day 3 (105): 3 days. Spell 2: peak day 3 → still under on day 9: 6 days.
    m = compute_metrics(curve([100, 90, 95, 105, 104, 80, 90, 100, 101, 104.9]), periods_per_year=365)
    assert m["max_drawdown"] == pytest.approx(80 / 105 - 1)
    assert m["max_drawdown_duration"] == pd.Timedelta(days=6)
    # A drawdown that starts on the last bar lasts one bar.
    assert compute_metrics(curve([100, 101, 99]), periods_per_year=365)["max_drawdown_duration"] == pd.Timedelta(days=1)


def test_risk_free_rate_is_deannualised_geometrically():
    eq = curve([100, 101, 100.5, 102, 103.5, 103])
    r = (eq.to_numpy()[1:] / eq.to_numpy()[:-1] - 1).tolist()
    rf_bar = 1.05 ** (1 / 365) - 1
    m = compute_metrics(eq, periods_per_year=365, risk_free=0.05)
    assert m["sharpe"] == pytest.approx(hand_sharpe(r, 365, rf_bar))
    excess = np.array(r) - rf_bar
    assert m["sortino"] == pytest.approx(excess.mean() / np.sqrt(np.mean(np.minimum(excess, 0) ** 2)) * math.sqrt(365))


def test_trade_statistics():
    rows = []
    for i, (pnl, ret, hours, fees, funding) in enumerate(
        [
            (30, 0.03, 10, 1.0, 1.0),
            (-10, -0.01, 20, 1.0, -2.0),
            (20, 0.02, 30, 0.5, 0.5),
            (-20, -0.02, 40, 0.5, 0.0),
            (0, 0.0, 50, 0.0, 0.0),
        ]
    ):
        entry = T0 + pd.Timedelta(hours=100 * i)
        rows.append(
            {
                "entry_time": entry,
                "exit_time": entry + pd.Timedelta(hours=hours),
                "entity_id": "binance_BTC/USDT",
                "side": "long" if i % 2 == 0 else "short",
                "size": 0.01,
                "entry_price": 100_000.0,
                "exit_price": 100_000.0,
                "pnl": float(pnl),
                "fees": fees,
                "funding": funding,
                "return": ret,
            }
        )
    trades = trades_frame(rows)
    eq = curve([1000, 1030, 1020, 1040, 1020, 1020])
    m = compute_metrics(eq, trades, periods_per_year=365)
    assert m["n_trades"] == 5
    assert m["win_rate"] == pytest.approx(2 / 5)  # the break-even trade is not a win
    assert m["gross_profit"] == 50 and m["gross_loss"] == 30
    assert m["profit_factor"] == pytest.approx(50 / 30)
    assert m["expectancy"] == pytest.approx(20 / 5)
    assert m["avg_trade_return"] == pytest.approx(0.004)
    assert m["best_trade_return"] == 0.03 and m["worst_trade_return"] == -0.02
    assert m["avg_holding_time"] == pd.Timedelta(hours=30)
    assert m["max_holding_time"] == pd.Timedelta(hours=50)
    # Totals default to the trades' sums, funding split by sign; the engine's totals win when given.
    assert m["fees_paid"] == pytest.approx(3.0)
    assert m["funding_paid"] == pytest.approx(1.5) and m["funding_received"] == pytest.approx(2.0)
    m2 = compute_metrics(eq, trades, periods_per_year=365, fees_paid=4.0, funding_paid=2.0, funding_received=2.5)
    assert (m2["fees_paid"], m2["funding_paid"], m2["funding_received"]) == (4.0, 2.0, 2.5)

    # Only winners: no losing trade → profit factor undefined (NaN, not inf), like backtesting.py.
    assert math.isnan(compute_metrics(eq, trades.iloc[[0, 2]], periods_per_year=365)["profit_factor"])


@pytest.mark.parametrize("trades", [None, trades_frame([])])
def test_no_trades(trades):
    m = compute_metrics(curve([100, 101, 102]), trades, periods_per_year=365)
    assert m["n_trades"] == 0
    for key in ("win_rate", "profit_factor", "expectancy", "avg_trade_return", "best_trade_return"):
        assert math.isnan(m[key]), key
    assert m["avg_holding_time"] is None and m["max_holding_time"] is None
    assert m["fees_paid"] == 0 and m["funding_paid"] == 0 and m["funding_received"] == 0
    assert to_jsonable(m)["win_rate"] is None


def test_flat_equity_gives_nan_ratios_not_inf():
    m = compute_metrics(curve([1000.0] * 10), exposure=np.zeros(10), periods_per_year=365)
    assert m["total_return"] == 0 and m["cagr"] == 0
    assert m["annual_volatility"] == 0
    for key in ("sharpe", "sortino", "calmar"):
        assert math.isnan(m[key]), key
    assert m["max_drawdown"] == 0 and m["max_drawdown_duration"] == pd.Timedelta(0)
    assert m["exposure"] == 0 and m["exposure_time"] == 0


def test_one_bar():
    m = compute_metrics(curve([500.0]), periods_per_year=8760)
    assert m["duration"] == pd.Timedelta(0)
    assert m["total_return"] == 0 and m["max_drawdown"] == 0
    for key in ("cagr", "annual_volatility", "sharpe", "sortino", "calmar", "turnover"):
        assert math.isnan(m[key]), key
    json.dumps(to_jsonable(m), allow_nan=False)


@pytest.mark.parametrize("values", [[100, 50, 0, 10], [100, 50, -20, 30]])
def test_total_loss(values):
    m = compute_metrics(curve(values), periods_per_year=365)
    assert m["total_return"] == -1 and m["cagr"] == -1
    assert m["max_drawdown"] == -1
    assert m["final_equity"] == values[-1]  # raw value kept
    # Returns stop at the ruin bar, whose return is −100 %.
    assert m["sharpe"] == pytest.approx(hand_sharpe([-0.5, -1.0], 365))
    assert m["max_drawdown_duration"] == pd.Timedelta(days=3)  # never recovered: peak day 0 → last bar
    assert m["calmar"] == pytest.approx(-1.0)
    assert drawdown_series(curve(values))["equity"].tolist() == [100, 50, 0, 0]


def test_annualisation_daily_vs_hourly_bars():
    values = [100, 102, 101, 104, 103, 107, 106, 108]
    daily = compute_metrics(curve(values, "D"), periods_per_year=periods_per_year_for("1d"), traded_notional=500)
    hourly = compute_metrics(curve(values, "h"), periods_per_year=periods_per_year_for("1h"), traded_notional=500)
    assert periods_per_year_for("1d") == 365 and periods_per_year_for("1h") == 8760
    assert periods_per_year_for("1m") == 525_600 and periods_per_year_for(pd.Timedelta("4h")) == 2190
    with pytest.raises(InvalidInputError):
        periods_per_year_for("1M")  # a month in ccxt, not a supported level
    assert daily["total_return"] == pytest.approx(hourly["total_return"]) == pytest.approx(0.08)
    assert hourly["sharpe"] / daily["sharpe"] == pytest.approx(math.sqrt(24))
    assert hourly["annual_volatility"] / daily["annual_volatility"] == pytest.approx(math.sqrt(24))
    assert daily["cagr"] == pytest.approx(1.08 ** (365 / 7) - 1)
    assert hourly["cagr"] == pytest.approx(1.08 ** (8760 / 7) - 1)
    assert hourly["turnover"] / daily["turnover"] == pytest.approx(24)
    # Peak 102 on bar 1, recovered on bar 3 (104): two bars of each size.
    assert daily["max_drawdown_duration"] == pd.Timedelta(days=2)
    assert hourly["max_drawdown_duration"] == pd.Timedelta(hours=2)


def test_exposure_and_turnover():
    eq = curve([100, 100, 104, 102, 102])
    m = compute_metrics(
        eq, exposure=pd.Series([0, 1.0, 1.0, 0.5, 0], index=eq.index), periods_per_year=365, traded_notional=400.0
    )
    assert m["exposure"] == pytest.approx(0.5)  # time-weighted mean gross leverage
    assert m["exposure_time"] == pytest.approx(3 / 5)
    assert m["turnover"] == pytest.approx(400 / np.mean([100, 100, 104, 102, 102]) / (4 / 365))
    # A short position's exposure counts by its size too.
    m = compute_metrics(eq, exposure=np.array([0, -1.0, -1.0, 0, 0]), periods_per_year=365)
    assert m["exposure"] == pytest.approx(0.4) and m["exposure_time"] == pytest.approx(0.4)


def test_benchmark_alpha_beta():
    rng = np.random.default_rng(3)
    b = rng.normal(0.0005, 0.01, 500)
    r = 0.0002 + 1.5 * b
    idx = pd.date_range(T0, periods=501, freq="h")
    equity = pd.Series(1000 * np.r_[1, np.cumprod(1 + r)], index=idx)
    bench = pd.Series(50_000 * np.r_[1, np.cumprod(1 + b)], index=idx)
    m = compute_metrics(equity, periods_per_year=8760, benchmark=bench)
    assert m["beta"] == pytest.approx(1.5)
    assert m["alpha"] == pytest.approx(0.0002 * 8760)
    assert m["benchmark_return"] == pytest.approx(np.prod(1 + b) - 1)
    none = compute_metrics(equity, periods_per_year=8760)
    assert all(math.isnan(none[k]) for k in ("benchmark_return", "alpha", "beta"))


def test_json_and_display():
    eq = curve([100, 110, 99, 121])
    m = compute_metrics(eq, periods_per_year=365)
    j = to_jsonable(m)
    text = json.dumps(j, allow_nan=False)
    assert json.loads(text)["start"] == "2024-01-01T00:00:00Z"
    assert j["end"] == "2024-01-04T00:00:00Z"
    assert j["duration"] == 3 * 86400.0 and j["max_drawdown_duration"] == 2 * 86400.0
    assert j["avg_holding_time"] is None and j["win_rate"] is None
    assert isinstance(j["n_trades"], int)
    tokyo = to_jsonable({"t": pd.Timestamp("2024-01-01 09:00", tz="Asia/Tokyo"), "x": np.float32("inf")})
    assert tokyo == {"t": "2024-01-01T00:00:00Z", "x": None}

    frame = metrics_frame(m)
    assert frame.index.name == "metric" and list(frame.index) == list(METRIC_KEYS)
    assert frame.loc["total_return", "display"] == "21.00 %"
    assert frame.loc["max_drawdown", "display"] == "-10.00 %"
    assert frame.loc["n_trades", "display"] == "0"
    assert frame.loc["win_rate", "display"] == "—"
    assert frame.loc["max_drawdown_duration", "value"] == pd.Timedelta(days=2)


def test_display_is_for_people_no_exponent_and_no_timedelta_repr() -> None:
    shown = metrics_frame({"initial_equity": 10_000.0, "final_equity": 1_234_567.891, "sharpe": 1.23456,
                           "beta": -0.000123456, "n_bars": 1_000_000,
                           "avg_holding_time": pd.Timedelta("0 days 23:53:28.695000"),
                           "max_drawdown_duration": pd.Timedelta(days=52, hours=4, minutes=10)})["display"]
    assert shown.to_dict() == {"initial_equity": "10,000.00", "final_equity": "1,234,567.89", "sharpe": "1.235",
                               "beta": "-0.0001235", "n_bars": "1,000,000", "avg_holding_time": "23h 53m",
                               "max_drawdown_duration": "52d 4h"}


def test_input_validation_and_naive_index_taken_as_utc():
    naive = pd.Series([100.0, 101.0], index=pd.date_range("2024-01-01", periods=2, freq="D"))
    assert compute_metrics(naive, periods_per_year=365)["start"] == T0
    eq = curve([100, 101, 102])
    with pytest.raises(InvalidInputError):
        compute_metrics(eq, exposure=pd.Series([0, 0, 0.0], index=eq.index + pd.Timedelta("1h")), periods_per_year=365)
    with pytest.raises(InvalidInputError):
        compute_metrics(eq, exposure=np.zeros(2), periods_per_year=365)
    with pytest.raises(InvalidInputError):
        compute_metrics(curve([100, np.nan, 101]), periods_per_year=365)
    with pytest.raises(InvalidInputError):
        compute_metrics(curve([0, 1, 2]), periods_per_year=365)
    with pytest.raises(InvalidInputError):
        compute_metrics(curve([]), periods_per_year=365)
    with pytest.raises(InvalidInputError):
        compute_metrics(eq, periods_per_year=0)
    with pytest.raises(InvalidInputError):
        compute_metrics(pd.Series([1.0, 2.0]), periods_per_year=365)
    with pytest.raises(InvalidInputError):
        compute_metrics(eq.iloc[::-1], periods_per_year=365)


def test_against_backtesting_py_on_goog():
    """backtesting.py's SMA-cross example on its shipped GOOG data, fed through compute_metrics.

    Compared where the definitions agree: return, max drawdown and its duration, win rate, best / worst trade,
    mean trade return (its "Expectancy [%]" is the arithmetic mean of trade returns; our ``expectancy`` is in
    currency), mean trade duration, commissions, buy & hold, and CAGR after converting its 365.25-day years to ours.
    Not compared: its Sharpe / Sortino / Calmar / volatility (geometric mean daily return annualised with 252 or 365
    days, resampled to days), its alpha / beta (log returns, total-return alpha), its profit factor (ratio of summed
    trade *returns*, ours sums pnl in currency), its exposure (counts the entry and exit bars; ours reads the position
    at each bar close).
    """
    backtesting = pytest.importorskip("backtesting")
    from backtesting.lib import crossover
    from backtesting.test import GOOG, SMA

    class SmaCross(backtesting.Strategy):
        n1 = 10
        n2 = 20

        def init(self):
            self.fast = self.I(SMA, self.data.Close, self.n1)
            self.slow = self.I(SMA, self.data.Close, self.n2)

        def next(self):
            if crossover(self.fast, self.slow):
                self.position.close()
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()
                self.sell()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = backtesting.Backtest(GOOG, SmaCross, cash=10_000, commission=0.002, finalize_trades=True).run()
    eq = stats["_equity_curve"]["Equity"]
    bt = stats["_trades"]
    trades = pd.DataFrame(
        {
            "entry_time": bt["EntryTime"],
            "exit_time": bt["ExitTime"],
            "entity_id": "GOOG",
            "side": np.where(bt["Size"] > 0, "long", "short"),
            "size": bt["Size"].abs().astype(float),
            "entry_price": bt["EntryPrice"],
            "exit_price": bt["ExitPrice"],
            "pnl": bt["PnL"],
            "fees": bt["Commission"],
            "funding": 0.0,
            "return": bt["ReturnPct"],
        }
    )
    close = GOOG["Close"].to_numpy()
    warmup = SmaCross.n2 - 1  # first bar with both SMAs: where its buy & hold starts
    bench = pd.Series(np.r_[np.full(warmup, close[warmup]), close[warmup:]], index=GOOG.index)
    m = compute_metrics(eq, trades, periods_per_year=252, benchmark=bench)

    assert m["n_trades"] == stats["# Trades"] > 50
    assert m["total_return"] == pytest.approx(stats["Return [%]"] / 100, rel=1e-12)
    assert m["final_equity"] == pytest.approx(stats["Equity Final [$]"])
    assert m["peak_equity"] == pytest.approx(stats["Equity Peak [$]"])
    assert m["max_drawdown"] == pytest.approx(stats["Max. Drawdown [%]"] / 100, rel=1e-12)
    assert m["max_drawdown_duration"] == stats["Max. Drawdown Duration"]  # daily bars: its ceil to days is exact
    assert m["win_rate"] == pytest.approx(stats["Win Rate [%]"] / 100)
    assert m["best_trade_return"] == pytest.approx(stats["Best Trade [%]"] / 100)
    assert m["worst_trade_return"] == pytest.approx(stats["Worst Trade [%]"] / 100)
    assert m["avg_trade_return"] == pytest.approx(stats["Expectancy [%]"] / 100)
    assert m["avg_holding_time"].ceil("D") == stats["Avg. Trade Duration"]
    assert m["max_holding_time"] == stats["Max. Trade Duration"]
    assert m["fees_paid"] == pytest.approx(stats["Commissions [$]"])
    assert m["benchmark_return"] == pytest.approx(stats["Buy & Hold Return [%]"] / 100)
    assert m["start"] == stats["Start"].tz_localize("UTC") and m["duration"] == stats["Duration"]
    # Same growth over the same span; only the year length differs (365 vs 365.25 days).
    assert m["cagr"] == pytest.approx((1 + stats["CAGR [%]"] / 100) ** (365 / 365.25) - 1, rel=1e-9)
    # Profit factor: ours is Σ pnl⁺ / |Σ pnl⁻| from the trade pnl (its own is on trade returns, so it differs).
    pnl = bt["PnL"]
    assert m["profit_factor"] == pytest.approx(pnl[pnl > 0].sum() / -pnl[pnl < 0].sum())
    assert m["expectancy"] == pytest.approx(pnl.mean())


def test_docstring_examples():
    result = doctest.testmod(metrics_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# --- annualisation: 365 days for 24/7 markets, trading days for calendars with weekends off ------------------------


def _goog() -> pd.DataFrame:
    backtesting = pytest.importorskip("backtesting")
    path = Path(backtesting.__file__).parent / "test" / "GOOG.csv"
    return pd.read_csv(path, index_col=0, parse_dates=True)


@pytest.mark.parametrize("level", [None, "1d"])  # as from_frame infers it, and as load_market_data sets it
def test_daily_stock_bars_annualise_with_252_trading_days(level: str | None) -> None:
    data = MarketData.from_frame(_goog(), symbol="GOOG/USD", level=level)
    assert data.annualisation.periods_per_year == 252
    result = run_backtest("sma_cross", data, params={"fast": 10, "slow": 20}, fee=0.002)
    returns = result.equity["equity"].pct_change().dropna().to_numpy()
    m = result.metrics
    assert m["periods_per_year"] == 252 and "252 trading days" in m["annualisation"]
    assert m["sharpe"] == pytest.approx(hand_sharpe(list(returns), 252), rel=1e-12)
    assert m["annual_volatility"] == pytest.approx(returns.std(ddof=1) * math.sqrt(252), rel=1e-12)
    given = run_backtest("sma_cross", data, params={"fast": 10, "slow": 20}, fee=0.002, periods_per_year=365)
    assert given.metrics["periods_per_year"] == 365 and given.metrics["annualisation"] == "given"
    assert given.metrics["sharpe"] == pytest.approx(m["sharpe"] * math.sqrt(365 / 252), rel=1e-12)
    assert given.settings["periods_per_year"] == 365 and result.settings["periods_per_year"] is None
    assert "252 trading days" in result.summary().loc["annualisation", "display"]


def test_crypto_bars_annualise_with_365_days() -> None:
    rng = np.random.default_rng(5)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 24 * 30)))
    rows = [(c, c * 1.01, c * 0.99, c) for c in close]
    for data in (market(rows, freq="1h"), MarketData.from_frame(ohlc_frame(rows, freq="1h"))):  # level or none
        assert data.annualisation.periods_per_year == 365 * 24
        assert "365-day year" in data.annualisation.basis
    daily = market(rows[:60], freq="1D")
    assert daily.annualisation.periods_per_year == 365


def test_intraday_bars_of_a_trading_calendar_annualise_with_the_observed_count() -> None:
    hours = pd.date_range("2023-01-01", "2023-12-31 23:00", freq="h", tz="UTC")
    session = hours[(hours.day_of_week < 5) & (hours.hour >= 14) & (hours.hour < 23)]  # 9 bars a weekday
    frame = pd.DataFrame({"Open": 1.0, "High": 1.0, "Low": 1.0, "Close": 1.0}, index=session)
    annual = MarketData.from_frame(frame, level="1h").annualisation
    assert annual.periods_per_year == pytest.approx(9 * 5 * 365 / 7, rel=0.01)
    assert "observed" in annual.basis
    # a week or so of a 24/7 market shows no calendar yet: 365 days
    short = MarketData.from_frame(frame.iloc[:30], level="1h").annualisation
    assert short.periods_per_year == 8760
