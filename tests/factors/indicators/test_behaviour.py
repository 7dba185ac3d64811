"""Indicator-specific behaviour: definitions without a TA-Lib counterpart checked against plain formulas, edge
cases (flat prices, zero volume), the session VWAP, the shared helpers and the pure-Python kernel fallback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tests.factors.indicators.data import random_bars, real_bars
from zvt_crypto.factors import indicators
from zvt_crypto.factors.indicators import INDICATORS, _core, trend

REQUIRED = {"sma": ("sma",), "ema": ("ema",), "rsi": ("rsi",), "macd": ("macd", "signal", "hist"),
            "bbands": ("upper", "middle", "lower"), "atr": ("atr",), "vwap": ("vwap",), "obv": ("obv",),
            "mfi": ("mfi",), "stoch": ("k", "d"), "adx": ("adx", "plus_di", "minus_di")}


def test_library_size_and_required_names() -> None:
    assert len(INDICATORS) >= 40
    for name, outputs in REQUIRED.items():
        assert INDICATORS[name].outputs == outputs
    assert {spec.category for spec in INDICATORS.values()} == {"trend", "momentum", "volatility", "volume"}
    assert indicators.INDICATORS is INDICATORS and indicators.indicator and indicators.Indicator
    assert {name for name, spec in INDICATORS.items() if spec.cumulative} == {"obv", "ad", "vpt"}


# ---------------------------------------------------------------------------------------------- plain formulas


def test_ichimoku_lines_are_not_displaced() -> None:
    bars = real_bars("GOOG")
    result = INDICATORS["ichimoku"](bars)
    high, low = bars["high"], bars["low"]

    def mid(window: int) -> pd.Series:
        return (high.rolling(window).max() + low.rolling(window).min()) / 2

    assert_allclose(result["conversion"], mid(9), rtol=1e-15)
    assert_allclose(result["base"], mid(26), rtol=1e-15)
    assert_allclose(result["span_a"], (mid(9) + mid(26)) / 2, rtol=1e-15)
    assert_allclose(result["span_b"], mid(52), rtol=1e-15)


def test_ulcer_index_by_hand() -> None:
    close = real_bars("GOOG")["close"]
    highest = close.rolling(14).max()
    drawdown = 100 * (close - highest) / highest
    expected = np.sqrt((drawdown**2).rolling(14).mean())
    assert_allclose(INDICATORS["ulcer"](real_bars("GOOG"))["ulcer"], expected, rtol=1e-9)


def test_ease_of_movement_by_hand() -> None:
    bars = real_bars("GOOG")
    midpoint = (bars["high"] + bars["low"]) / 2
    emv = midpoint.diff() * (bars["high"] - bars["low"]) * 1e8 / bars["volume"]
    assert_allclose(INDICATORS["eom"](bars)["eom"], emv.rolling(14).mean(), rtol=1e-9)


def test_bollinger_percent_b_and_bandwidth() -> None:
    bars = real_bars("EURUSD")
    bands = INDICATORS["bbands"](bars)
    result = INDICATORS["bb_percent"](bars)
    width = bands["upper"] - bands["lower"]
    assert_allclose(result["percent_b"], (bars["close"] - bands["lower"]) / width, rtol=1e-12)
    assert_allclose(result["bandwidth"], width / bands["middle"], rtol=1e-12)


def test_stc_is_ta_stc() -> None:
    from ta.trend import STCIndicator

    bars = real_bars("GOOG")
    assert_allclose(INDICATORS["stc"](bars)["stc"], STCIndicator(bars["close"]).stc(), rtol=1e-15)


def test_keltner_default_averages_the_close() -> None:
    bars = real_bars("GOOG")
    result = INDICATORS["keltner"](bars)
    atr = INDICATORS["atr"](bars, window=10)["atr"]
    ema = INDICATORS["ema"](bars, window=20)["ema"]
    assert_allclose(result["middle"], ema, rtol=1e-15)
    assert_allclose((result["upper"] - result["middle"])[19:], 2 * atr[19:], rtol=1e-9)


# ---------------------------------------------------------------------------------------------- edge cases


def _flat(n: int = 60) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC", unit="ms", name="timestamp")
    return pd.DataFrame({"open": 10.0, "high": 10.0, "low": 10.0, "close": 10.0, "volume": 0.0}, index=index)


@pytest.mark.parametrize(("name", "output", "neutral"), [
    ("rsi", "rsi", 50.0), ("stoch", "k", 50.0), ("stoch", "d", 50.0), ("williams_r", "williams_r", -50.0),
    ("cci", "cci", 0.0), ("mfi", "mfi", 50.0), ("cmo", "cmo", 0.0), ("bop", "bop", 0.0), ("cmf", "cmf", 0.0),
    ("bb_percent", "percent_b", 0.5), ("ultimate", "ultimate", 50.0), ("stochrsi", "k", 50.0),
    ("adx", "plus_di", 0.0), ("adx", "adx", 0.0), ("vortex", "plus", 0.0), ("eom", "eom", 0.0),
    ("vwap", "vwap", 10.0), ("vwma", "vwma", 10.0), ("obv", "obv", 0.0), ("atr", "atr", 0.0),
])
def test_flat_prices_give_the_neutral_value(name: str, output: str, neutral: float) -> None:
    values = INDICATORS[name](_flat())[output].to_numpy()
    assert_array_equal(values[-10:], neutral)


def test_obv_ignores_an_unchanged_close() -> None:
    bars = random_bars(5, seed=2)
    bars["close"] = [10.0, 11.0, 11.0, 10.0, 10.0]
    bars["volume"] = [1.0, 2.0, 4.0, 8.0, 16.0]
    assert_array_equal(INDICATORS["obv"](bars)["obv"], [1.0, 3.0, 3.0, -5.0, -5.0])


def test_aroon_ties_go_to_the_newest_bar() -> None:
    bars = random_bars(6, seed=2)
    bars["high"] = [5.0, 7.0, 7.0, 6.0, 6.0, 7.0]
    # 4-bar windows: the newer of the two 7s is 1, then 2 bars old; then a new 7
    assert_array_equal(INDICATORS["aroon"](bars, window=3)["up"].to_numpy()[3:], [200 / 3, 100 / 3, 100.0])


# ---------------------------------------------------------------------------------------------- session VWAP


def test_vwap_restarts_each_utc_day_and_week() -> None:
    bars = random_bars(6 * 24 * 4 + 5, seed=5, freq="15min")
    bars.index = bars.index + pd.Timedelta(days=3, hours=13)  # Thursday 13:00: the first sessions are partial
    tp = (bars["high"] + bars["low"] + bars["close"]) / 3
    daily = INDICATORS["vwap"](bars)["vwap"]
    for _, session in bars.groupby(bars.index.floor("D")):
        weights = session["volume"]
        price = tp[session.index]
        expected = (price * weights).cumsum() / weights.cumsum()
        expected = expected.where(weights.cumsum() > 0, price)
        assert_allclose(daily[session.index], expected, rtol=1e-12)
    weekly = INDICATORS["vwap"](bars, anchor="1w")["vwap"]
    monday = bars.index[(bars.index.day_of_week == 0) & (bars.index.hour == 0) & (bars.index.minute == 0)]
    assert len(monday) == 1 and weekly[monday[0]] == tp[monday[0]]
    assert (weekly.index < monday[0]).sum() > 96  # the week spans several days before that reset


def test_vwap_does_not_depend_on_the_index_unit() -> None:
    bars = random_bars(3000, seed=6)
    nanos = bars.copy()
    nanos.index = nanos.index.as_unit("ns")
    assert_array_equal(INDICATORS["vwap"](bars)["vwap"], INDICATORS["vwap"](nanos)["vwap"])


# ---------------------------------------------------------------------------------------------- helpers


def test_rolling_sum_is_exact_per_window() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(100.0, 5.0, 2_000)
    for window in (1, 2, 3, 7, 20, 64, 100):
        sums = _core.rolling_sum(x, window)
        assert np.isnan(sums[: window - 1]).all()
        reference = np.array([np.sum(x[i - window + 1:i + 1]) for i in range(window - 1, len(x))])
        assert_allclose(sums[window - 1:], reference, rtol=1e-14)
        # the same bits whatever precedes the window
        assert_array_equal(_core.rolling_sum(x[537:], window)[window - 1:], sums[537 + window - 1:])


def test_rolling_sum_propagates_nan_only_to_windows_that_hold_it() -> None:
    x = np.arange(10.0)
    x[4] = np.nan
    sums = _core.rolling_sum(x, 3)
    assert np.isnan(sums[[0, 1, 4, 5, 6]]).all() and sums[3] == 6.0 and sums[7] == 18.0


def test_bars_since_extreme_spans_chunks() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=50_000)
    result = _core.bars_since_extreme(x, 500, highest=True)  # 8000 rows per chunk
    i = 40_123
    window = x[i - 499:i + 1]
    assert result[i] == 499 - int(np.flatnonzero(window == window.max())[-1])


@pytest.mark.parametrize(("kernel", "arguments"), [
    (trend._psar_kernel, ("high", "low", 0.02, 0.2)),
    (trend._kama_kernel, ("close", 10, 2 / 3, 2 / 31)),
    (trend._supertrend_kernel, ("high", "low", "close", 10, 3.0)),
])
def test_kernels_run_without_numba(kernel, arguments) -> None:  # type: ignore[no-untyped-def]
    bars = real_bars("GOOG")
    args = tuple(bars[a].to_numpy() if isinstance(a, str) else a for a in arguments)
    assert_array_equal(np.asarray(kernel.python(*args)), np.asarray(kernel(*args)))
