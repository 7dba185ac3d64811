"""The numba kernels behind the indicators give what the numpy / pandas code they replaced gave.

The references below are that code (``_core`` before the kernels, and the indicators' composed formulas): window
statistics must be bit-identical (a windowed value may not depend on the history before its window), recursions
equal to round-off, NaN warm-ups identical, and a NaN inside the bars must take the composed (pandas) path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tests.factors.indicators.data import random_bars
from zvt_crypto.factors.indicators import INDICATORS, _core
from zvt_crypto.factors.indicators.momentum import _rsi_kernel
from zvt_crypto.factors.indicators.trend import _adx_kernel, _macd_kernel
from zvt_crypto.factors.indicators.volatility import _bands_kernel
from zvt_crypto.factors.indicators.volume import _money_flows, _obv_kernel

# ---------------------------------------------------------------------------------------------- references


def reference_rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    n = len(x)
    out = np.full(n, np.nan)
    if n < window:
        return out
    m = n - window + 1
    blocks: dict[int, np.ndarray] = {}
    block, size = x, 1
    while size <= window:
        if window & size:
            blocks[size] = block
        if size * 2 <= window:
            block = block[:-size] + block[size:]
        size *= 2
    total: np.ndarray | None = None
    offset = 0
    for size in sorted(blocks, reverse=True):
        term = blocks[size][offset:offset + m]
        total = term.copy() if total is None else total + term
        offset += size
    out[window - 1:] = total
    return out


def reference_rolling_deviation(x: np.ndarray, window: int, center: np.ndarray, power: int) -> np.ndarray:
    n = len(x)
    out = np.full(n, np.nan)
    if n < window:
        return out
    m = n - window + 1
    c = center[window - 1:]
    total = np.zeros(m)
    for j in range(window):
        term = x[j:j + m] - c
        total += np.abs(term) if power == 1 else term * term
    out[window - 1:] = total
    return out


def reference_ewm(x: np.ndarray, alpha: float, min_periods: int) -> np.ndarray:
    return pd.Series(x).ewm(alpha=alpha, adjust=False, min_periods=min_periods).mean().to_numpy()


def series(n: int, seed: int, *, nans: str = "none", flat: bool = False) -> np.ndarray:
    """A random walk of length n: with leading / interior NaNs, and with a flat stretch (ties)."""
    x = np.random.default_rng(seed).normal(size=n).cumsum() + 100.0
    if flat and n > 100:
        x[40:90] = x[40]
    if nans in ("leading", "both") and n > 5:
        x[:3] = np.nan
    if nans in ("interior", "both") and n > 10:
        x[n // 2] = np.nan
    return x


LENGTHS = [0, 1, 2, 5, 50, 2 * _core.CHUNK + 7, 3 * _core.CHUNK + 2999]  # across chunk boundaries
WINDOWS = [1, 2, 3, 4, 7, 8, 14, 20, 33, 64, 3000]  # 3000 > CHUNK: a window spans chunks
NANS = ["none", "leading", "both"]


# ---------------------------------------------------------------------------------------------- window kernels


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("nans", NANS)
def test_window_kernels_are_bit_identical_to_the_numpy_code(n: int, nans: str) -> None:
    x = series(n, seed=n, nans=nans, flat=True)
    for window in WINDOWS:
        expected_sum = reference_rolling_sum(x, window)
        assert_array_equal(_core.rolling_sum(x, window), expected_sum, err_msg=f"sum {window}")
        assert_array_equal(_core.rolling_mean(x, window), expected_sum / window, err_msg=f"mean {window}")
        rolling = pd.Series(x).rolling(window, min_periods=window)
        assert_array_equal(_core.rolling_max(x, window), rolling.max().to_numpy(), err_msg=f"max {window}")
        assert_array_equal(_core.rolling_min(x, window), rolling.min().to_numpy(), err_msg=f"min {window}")
        mean = expected_sum / window
        for power in (1, 2):
            assert_array_equal(_core.rolling_deviation(x, window, mean, power),
                               reference_rolling_deviation(x, window, mean, power), err_msg=f"dev {window}")
        expected_std = np.sqrt(reference_rolling_deviation(x, window, mean, 2) / window)
        assert_array_equal(_core.rolling_std(x, window), expected_std, err_msg=f"std {window}")


@pytest.mark.parametrize("n", LENGTHS)
def test_bollinger_kernel_is_the_composed_bands(n: int) -> None:
    x = series(n, seed=3, nans="leading")
    for window, multiplier in [(1, 2.0), (5, 1.5), (20, 2.0), (3000, 3.0)]:
        middle = _core.rolling_mean(x, window)
        width = multiplier * _core.rolling_std(x, window)
        upper, lower = _bands_kernel(x, window, middle, multiplier)
        assert_array_equal(upper, middle + width)
        assert_array_equal(lower, middle - width)


# ---------------------------------------------------------------------------------------------- recursions


@pytest.mark.parametrize("n", [0, 1, 2, 30, 5000])
@pytest.mark.parametrize("nans", NANS)
def test_ewm_kernel_is_pandas_ewm(n: int, nans: str) -> None:
    """Equal to round-off with the same NaNs; a NaN inside the series (``both``) goes through pandas itself."""
    x = series(n, seed=11, nans=nans, flat=True)
    for window in (1, 2, 3, 14, 26, 50):
        for alpha in (2.0 / (window + 1), 1.0 / window):
            ours, expected = _core.ema(x, alpha, window), reference_ewm(x, alpha, window)
            assert_array_equal(np.isnan(ours), np.isnan(expected))
            if nans == "both":
                assert_array_equal(ours, expected)
            assert_allclose(ours, expected, rtol=1e-13, atol=0)


def composed(name: str, bars: pd.DataFrame) -> dict[str, np.ndarray]:
    """The ten hot indicators as they were composed before their kernels (pandas ewm, numpy ops)."""
    h, lo, c, v = (bars[k].to_numpy() for k in ("high", "low", "close", "volume"))
    prev = _core.shift(c)
    tr = np.maximum(h, prev) - np.minimum(lo, prev)
    if name == "rsi":
        change = _core.diff(c)
        gain = reference_ewm(np.where(change > 0, change, 0.0) + 0.0 * change, 1 / 14, 14)
        loss = reference_ewm(np.where(change < 0, -change, 0.0) + 0.0 * change, 1 / 14, 14)
        return {"rsi": 100.0 * _core.divide(gain, gain + loss, 0.5)}
    if name == "atr":
        return {"atr": reference_ewm(tr, 1 / 14, 14)}
    if name == "adx":
        up, down = h - _core.shift(h), _core.shift(lo) - lo
        plus = np.where((up > down) & (up > 0), up, 0.0) + 0.0 * up
        minus = np.where((down > up) & (down > 0), down, 0.0) + 0.0 * up
        atr = reference_ewm(tr, 1 / 14, 14)
        plus_di = 100.0 * _core.divide(reference_ewm(plus, 1 / 14, 14), atr, 0.0)
        minus_di = 100.0 * _core.divide(reference_ewm(minus, 1 / 14, 14), atr, 0.0)
        dx = 100.0 * _core.divide(np.abs(plus_di - minus_di), plus_di + minus_di, 0.0)
        return {"adx": reference_ewm(dx, 1 / 14, 14), "plus_di": plus_di, "minus_di": minus_di}
    if name == "macd":
        from ta.trend import MACD

        m = MACD(pd.Series(c), window_slow=26, window_fast=12, window_sign=9)
        return {"macd": m.macd().to_numpy(), "signal": m.macd_signal().to_numpy(), "hist": m.macd_diff().to_numpy()}
    if name == "ema":
        from ta.trend import EMAIndicator

        return {"ema": EMAIndicator(pd.Series(c), 20).ema_indicator().to_numpy()}
    if name == "obv":
        direction = np.sign(_core.diff(c))
        direction[:1] = 1.0
        return {"obv": np.cumsum(direction * v)}
    if name == "mfi":
        tp = (h + lo + c) / 3.0
        previous = _core.shift(tp)
        change = tp - previous
        change[np.abs(change) <= 1e-14 * (np.abs(tp) + np.abs(previous))] = 0.0
        flow = tp * v + 0.0 * change
        positive = reference_rolling_sum(np.where(change > 0, flow, 0.0) + 0.0 * change, 14)
        negative = reference_rolling_sum(np.where(change < 0, flow, 0.0) + 0.0 * change, 14)
        return {"mfi": 100.0 * _core.divide(positive, positive + negative, 0.5)}
    raise AssertionError(name)


FUSED = ["rsi", "atr", "adx", "macd", "ema", "obv", "mfi"]
EXACT = {"obv", "mfi"}  # running sums and window sums: the same additions, so the same floats


@pytest.mark.parametrize("name", FUSED)
@pytest.mark.parametrize("gap", [False, True], ids=["clean", "nan-inside"])
def test_fused_indicators_equal_their_composed_formulas(name: str, gap: bool) -> None:
    bars = random_bars(3_000, seed=5, tick=0.5)  # a coarse tick: flat bars and ties
    if gap:  # a NaN inside the bars: the recursions take pandas' gap rule, as before the kernels
        bars = bars.copy()
        bars.iloc[1_500, :4] = np.nan
    ours = INDICATORS[name](bars)
    for output, expected in composed(name, bars).items():
        actual = ours[output].to_numpy()
        assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{name}.{output} NaN positions")
        if name in EXACT or (gap and name in {"rsi", "atr", "adx"}):
            assert_array_equal(actual, expected, err_msg=f"{name}.{output}")
        else:
            scale = np.nanmax(np.abs(expected))
            assert_allclose(actual, expected, rtol=1e-12, atol=1e-13 * scale, err_msg=f"{name}.{output}")


@pytest.mark.parametrize("n", [0, 1, 2, 3, 40])
def test_fused_kernels_on_short_inputs(n: int) -> None:
    bars = random_bars(max(n, 1), seed=2).iloc[:n]
    for name in [*FUSED, "bbands", "stoch", "sma"]:
        result = INDICATORS[name](bars)
        assert len(result) == n
        for output, expected in (composed(name, bars) if name in FUSED else {}).items():
            assert_array_equal(np.isnan(result[output].to_numpy()), np.isnan(expected), err_msg=f"{name}.{output}")


def test_python_fallbacks_equal_the_compiled_kernels() -> None:
    """Without numba the kernels run as plain Python: the same results (small input: it is slow)."""
    bars = random_bars(300, seed=8, tick=0.5)
    h, lo, c, v = (np.ascontiguousarray(bars[k].to_numpy()) for k in ("high", "low", "close", "volume"))
    x = series(300, seed=8, nans="leading", flat=True)
    mean = _core.rolling_mean(x, 14)
    cases = [
        (_core._rolling_sum_kernel, (x, 14, 1.0)), (_core._rolling_sum_kernel, (x, 14, 14.0)),
        (_core._rolling_deviation_kernel, (x, 14, mean, 2)),
        (_core._rolling_extreme_kernel, (x, 14, True)), (_core._rolling_extreme_kernel, (x, 5, False)),
        (_core._ewm_kernel, (x, 2 / 15, 14)), (_core._wilder_atr_kernel, (h, lo, c, 14)),
        (_rsi_kernel, (c, 14)), (_adx_kernel, (h, lo, c, 14)), (_macd_kernel, (c, 12, 26, 9)),
        (_obv_kernel, (c, v)), (_money_flows, (h, lo, c, v)), (_bands_kernel, (x, 20, mean, 2.0)),
    ]
    for kernel, args in cases:
        compiled, python = kernel(*args), getattr(kernel, "python")(*args)  # noqa: B009 - set by kernel()
        for a, b in zip(compiled if isinstance(compiled, tuple) else (compiled,),
                        python if isinstance(python, tuple) else (python,), strict=True):
            assert_array_equal(a, b, err_msg=kernel.__name__)


# ---------------------------------------------------------------------------------------------- warm-ups and frames


def first_value(values: np.ndarray) -> int:
    valid = ~np.isnan(values)
    return int(np.argmax(valid)) if valid.any() else len(values)


WARMUPS = {  # the bar of each output's first value, by the indicators' definitions (default parameters)
    "sma": {"sma": 19}, "ema": {"ema": 19}, "rsi": {"rsi": 14},
    "macd": {"macd": 25, "signal": 33, "hist": 33}, "bbands": {"upper": 19, "middle": 19, "lower": 19},
    "atr": {"atr": 14}, "stoch": {"k": 13, "d": 15}, "adx": {"adx": 27, "plus_di": 14, "minus_di": 14},
    "obv": {"obv": 0}, "mfi": {"mfi": 14},
}


@pytest.mark.parametrize("name", sorted(WARMUPS))
def test_the_ten_keep_their_nan_warmups(name: str) -> None:
    result = INDICATORS[name](random_bars(500, seed=9))
    for output, first in WARMUPS[name].items():
        values = result[output].to_numpy()
        assert first_value(values) == first, (name, output)
        assert not np.isnan(values[first:]).any(), (name, output)


def test_frame_never_shares_memory_with_the_bars_or_between_outputs() -> None:
    bars = random_bars(50, seed=1)
    close = bars["close"].to_numpy()
    computed = close * 2.0
    result = _core.frame(bars, a=close, b=computed, c=computed, d=close[::1])
    columns = [result[name].to_numpy() for name in result.columns]
    for i, column in enumerate(columns):
        assert not np.shares_memory(column, close)
        for other in columns[i + 1:]:
            assert not np.shares_memory(column, other)
    assert_array_equal(result["c"].to_numpy(), computed)
