"""Momentum indicators: RSI, stochastics, Williams %R, ROC, momentum, CCI, TSI, Ultimate, Awesome, PPO, CMO, BOP.

Bounded oscillators whose denominator is zero (a flat window, no gains and no losses) take their neutral value
(RSI 50, %K 50, Williams %R -50, CCI 0, CMO 0...) instead of NaN or TA-Lib's 0; docstrings say which.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from ta.momentum import PercentagePriceOscillator, ROCIndicator, TSIIndicator

from zvt_crypto.factors.indicators._core import (
    Array,
    check_float,
    check_int,
    check_less,
    columns,
    diff,
    divide,
    frame,
    kernel,
    rolling_deviation,
    rolling_max,
    rolling_mean,
    rolling_min,
    rolling_sum,
    settle_span,
    settle_wilder,
    shift,
    wilder,
)
from zvt_crypto.factors.indicators.spec import indicator


@kernel
def _rsi_kernel(close: Array, window: int) -> tuple[Array, bool]:  # pragma: no cover - compiled
    """:func:`rsi_values` in one pass: the two Wilder averages (``_core._ewm_kernel``'s step) of the gains and
    losses and their ratio; ``(values, False)`` at a NaN (then the composed path decides)."""
    n = len(close)
    out = np.full(n, np.nan)
    alpha = 1.0 / window
    factor = 1.0 - alpha
    total = factor + alpha
    exact = total == 1.0
    gain = loss = 0.0
    for t in range(1, n):
        change = close[t] - close[t - 1]
        if np.isnan(change):
            return out, False
        up = change if change > 0 else 0.0
        down = -change if change < 0 else 0.0
        if t == 1:
            gain, loss = up, down
        else:
            if gain != up:
                gain = factor * gain + alpha * up
                if not exact:
                    gain /= total
            if loss != down:
                loss = factor * loss + alpha * down
                if not exact:
                    loss /= total
        if t >= window:
            both = gain + loss
            out[t] = 100.0 * (gain / both if both != 0 else 0.5)
    return out, True


def rsi_values(close: Array, window: int) -> Array:
    close = np.ascontiguousarray(close, dtype=np.float64)
    values, done = _rsi_kernel(close, window)
    if done:
        return values
    change = diff(close)
    gain = wilder(np.where(change > 0, change, 0.0) + 0.0 * change, window)  # keeps the first bar NaN
    loss = wilder(np.where(change < 0, -change, 0.0) + 0.0 * change, window)
    return 100.0 * divide(gain, gain + loss, 0.5)


@indicator(outputs=("rsi",), warmup=lambda window: 1 + settle_wilder(window), category="momentum")
def rsi(bars: pd.DataFrame, window: int = 14) -> pd.DataFrame:
    """Relative strength index (Wilder).

    (``ta``'s RSIIndicator returns 100 when there are neither gains nor losses; here that is 50.)

    Parameters:
        window: Wilder smoothing period (integer >= 1, default 14).

    Formula: rsi = 100 G / (G + L), G, L = Wilder averages (alpha = 1/window) of the close's gains and losses
    (50 when both are 0)

    TA-Lib: RSI(timeperiod=window) (SMA seed: equal after the warm-up; TA-Lib gives 0 when G + L = 0).
    """
    window = check_int("window", window)
    (close,) = columns(bars, "close")
    return frame(bars, rsi=rsi_values(close, window))


def stochastic(value: Array, high: Array, low: Array, window: int) -> Array:
    """Raw %K: where ``value`` sits in the ``window``-bar range, 0-100 (50 when the range is 0)."""
    highest = rolling_max(high, window)
    lowest = rolling_min(low, window)
    return 100.0 * divide(value - lowest, highest - lowest, 0.5)


@indicator(outputs=("k", "d"), warmup=lambda window, smooth_k, smooth_d: window + smooth_k + smooth_d,
           category="momentum")
def stoch(bars: pd.DataFrame, window: int = 14, smooth_k: int = 1, smooth_d: int = 3) -> pd.DataFrame:
    """Stochastic oscillator %K / %D (smooth_k = 1: the fast stochastic; 3: the slow one).

    Parameters:
        window: high/low look-back (integer >= 1, default 14).
        smooth_k: SMA window applied to the raw %K (integer >= 1, default 1).
        smooth_d: SMA window of %D over %K (integer >= 1, default 3).

    Formula: raw = 100 (close - LL) / (HH - LL) over window (50 when HH = LL); k = SMA(raw, smooth_k);
    d = SMA(k, smooth_d)

    TA-Lib: STOCH(fastk_period=window, slowk_period=smooth_k, slowd_period=smooth_d) -> (k, d).
    """
    window = check_int("window", window)
    smooth_k = check_int("smooth_k", smooth_k)
    smooth_d = check_int("smooth_d", smooth_d)
    high, low, close = columns(bars, "high", "low", "close")
    k = rolling_mean(stochastic(close, high, low, window), smooth_k)
    return frame(bars, k=k, d=rolling_mean(k, smooth_d))


@indicator(outputs=("k", "d"),
           warmup=lambda window, stoch_window, smooth_k, smooth_d: (1 + settle_wilder(window) + stoch_window
                                                                    + smooth_k + smooth_d),
           category="momentum")
def stochrsi(bars: pd.DataFrame, window: int = 14, stoch_window: int = 14, smooth_k: int = 3,
             smooth_d: int = 3) -> pd.DataFrame:
    """Stochastic RSI, 0-100 (the charting convention 14/14/3/3).

    Parameters:
        window: RSI period (integer >= 1, default 14).
        stoch_window: stochastic look-back over the RSI (integer >= 1, default 14).
        smooth_k: SMA window of %K (integer >= 1, default 3).
        smooth_d: SMA window of %D (integer >= 1, default 3).

    Formula: r = RSI(close, window); raw = 100 (r - min r) / (max r - min r) over stoch_window (50 if flat);
    k = SMA(raw, smooth_k); d = SMA(k, smooth_d)

    TA-Lib: STOCHRSI(timeperiod=window, fastk_period=stoch_window, fastd_period=smooth_d) returns the raw %K
    (no smoothing) as fastk: it equals k with smooth_k=1 (after the RSI warm-up).
    """
    window = check_int("window", window)
    stoch_window = check_int("stoch_window", stoch_window)
    smooth_k = check_int("smooth_k", smooth_k)
    smooth_d = check_int("smooth_d", smooth_d)
    (close,) = columns(bars, "close")
    r = rsi_values(close, window)
    k = rolling_mean(stochastic(r, r, r, stoch_window), smooth_k)
    return frame(bars, k=k, d=rolling_mean(k, smooth_d))


@indicator(outputs=("williams_r",), warmup=lambda window: window, category="momentum")
def williams_r(bars: pd.DataFrame, window: int = 14) -> pd.DataFrame:
    """Williams %R, -100 (at the low) to 0 (at the high).

    Parameters:
        window: look-back (integer >= 1, default 14).

    Formula: williams_r = -100 (HH - close) / (HH - LL) over window (-50 when HH = LL)

    TA-Lib: WILLR(timeperiod=window).
    """
    window = check_int("window", window)
    high, low, close = columns(bars, "high", "low", "close")
    highest = rolling_max(high, window)
    return frame(bars, williams_r=-100.0 * divide(highest - close, highest - rolling_min(low, window), 0.5))


@indicator(outputs=("roc",), warmup=lambda window: window + 1, category="momentum")
def roc(bars: pd.DataFrame, window: int = 10) -> pd.DataFrame:
    """Rate of change of the close in percent (``ta.momentum.ROCIndicator``).

    Parameters:
        window: look-back (integer >= 1, default 10).

    Formula: roc = 100 (close_t - close_{t-window}) / close_{t-window}

    TA-Lib: ROC(timeperiod=window).
    """
    window = check_int("window", window)
    columns(bars, "close")
    return frame(bars, roc=ROCIndicator(bars["close"].astype("float64"), window).roc().to_numpy())


@indicator(outputs=("mom",), warmup=lambda window: window + 1, category="momentum")
def mom(bars: pd.DataFrame, window: int = 10) -> pd.DataFrame:
    """Momentum: the close's change over window bars.

    Parameters:
        window: look-back (integer >= 1, default 10).

    Formula: mom = close_t - close_{t-window}

    TA-Lib: MOM(timeperiod=window).
    """
    window = check_int("window", window)
    (close,) = columns(bars, "close")
    return frame(bars, mom=diff(close, window))


@indicator(outputs=("cci",), warmup=lambda window, constant: window, category="momentum")
def cci(bars: pd.DataFrame, window: int = 20, constant: float = 0.015) -> pd.DataFrame:
    """Commodity channel index (Lambert). ``ta``'s uses a per-window Python callback; this is vectorised.

    Parameters:
        window: look-back (integer >= 1, default 20).
        constant: scaling constant (number > 0, default 0.015).

    Formula: tp = (high + low + close) / 3; cci = (tp - SMA(tp)) / (constant * MD), MD = mean |tp_i - SMA(tp)_t|
    over the window (0 when MD = 0)

    TA-Lib: CCI(timeperiod=window) for constant=0.015.
    """
    window = check_int("window", window)
    constant = check_float("constant", constant)
    high, low, close = columns(bars, "high", "low", "close")
    tp = (high + low + close) / 3.0
    mean = rolling_mean(tp, window)
    deviation = rolling_deviation(tp, window, mean, 1) / window
    return frame(bars, cci=divide(tp - mean, constant * deviation, 0.0))


@indicator(outputs=("tsi",), warmup=lambda slow, fast: 1 + settle_span(slow) + settle_span(fast),
           category="momentum")
def tsi(bars: pd.DataFrame, slow: int = 25, fast: int = 13) -> pd.DataFrame:
    """True strength index (Blau) (``ta.momentum.TSIIndicator``).

    Parameters:
        slow: first EMA span (integer >= 1, default 25).
        fast: second EMA span (integer >= 1, default 13).

    Formula: tsi = 100 EMA(EMA(dc, slow), fast) / EMA(EMA(|dc|, slow), fast), dc = close_t - close_{t-1}

    TA-Lib: TSI(firstperiod=slow, secondperiod=fast) (equal after the warm-up).
    """
    slow = check_int("slow", slow)
    fast = check_int("fast", fast)
    columns(bars, "close")
    value = TSIIndicator(bars["close"].astype("float64"), window_slow=slow, window_fast=fast).tsi()
    return frame(bars, tsi=value.to_numpy())


@indicator(outputs=("ultimate",), warmup=lambda short, medium, long: long + 1, category="momentum")
def ultimate(bars: pd.DataFrame, short: int = 7, medium: int = 14, long: int = 28) -> pd.DataFrame:
    """Ultimate oscillator (Williams), 0-100.

    Parameters:
        short: short window (integer >= 1, default 7).
        medium: medium window (integer > short, default 14).
        long: long window (integer > medium, default 28).

    Formula: bp = close - min(low, prev close); tr = max(high, prev close) - min(low, prev close);
    a_n = sum bp / sum tr over n bars (0.5 if sum tr = 0); ultimate = 100 (4 a_short + 2 a_medium + a_long) / 7

    TA-Lib: ULTOSC(timeperiod1=short, timeperiod2=medium, timeperiod3=long).
    """
    short = check_int("short", short)
    medium = check_int("medium", medium)
    long = check_int("long", long)
    check_less("short", short, "medium", medium)
    check_less("medium", medium, "long", long)
    high, low, close = columns(bars, "high", "low", "close")
    previous = shift(close)
    floor = np.minimum(low, previous)
    bp = close - floor
    tr = np.maximum(high, previous) - floor

    def average(window: int) -> Array:
        return divide(rolling_sum(bp, window), rolling_sum(tr, window), 0.5)

    value = 100.0 * (4.0 * average(short) + 2.0 * average(medium) + average(long)) / 7.0
    return frame(bars, ultimate=value)


@indicator(outputs=("awesome",), warmup=lambda fast, slow: slow, category="momentum")
def awesome(bars: pd.DataFrame, fast: int = 5, slow: int = 34) -> pd.DataFrame:
    """Awesome oscillator (Williams): difference of two SMAs of the median price.

    Parameters:
        fast: fast SMA window (integer >= 1, default 5).
        slow: slow SMA window (integer > fast, default 34).

    Formula: median = (high + low) / 2; awesome = SMA(median, fast) - SMA(median, slow)

    TA-Lib: AO(fastperiod=fast, slowperiod=slow).
    """
    fast = check_int("fast", fast)
    slow = check_int("slow", slow)
    check_less("fast", fast, "slow", slow)
    high, low = columns(bars, "high", "low")
    median = (high + low) / 2.0
    return frame(bars, awesome=rolling_mean(median, fast) - rolling_mean(median, slow))


@indicator(outputs=("ppo", "signal", "hist"),
           warmup=lambda fast, slow, signal: settle_span(slow) + settle_span(signal), category="momentum")
def ppo(bars: pd.DataFrame, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """Percentage price oscillator: MACD as a percentage of the slow EMA (``ta``'s PercentagePriceOscillator).

    Parameters:
        fast: fast EMA span (integer >= 1, default 12).
        slow: slow EMA span (integer > fast, default 26).
        signal: signal EMA span (integer >= 1, default 9).

    Formula: ppo = 100 (EMA(close, fast) - EMA(close, slow)) / EMA(close, slow); signal = EMA(ppo, signal);
    hist = ppo - signal

    TA-Lib: PPO(fastperiod, slowperiod, matype=1) -> ppo (TA-Lib's default matype=0 uses SMAs).
    """
    fast = check_int("fast", fast)
    slow = check_int("slow", slow)
    signal = check_int("signal", signal)
    check_less("fast", fast, "slow", slow)
    columns(bars, "close")
    p = PercentagePriceOscillator(bars["close"].astype("float64"), window_slow=slow, window_fast=fast,
                                  window_sign=signal)
    return frame(bars, ppo=p.ppo().to_numpy(), signal=p.ppo_signal().to_numpy(), hist=p.ppo_hist().to_numpy())


@indicator(outputs=("cmo",), warmup=lambda window: window + 1, category="momentum")
def cmo(bars: pd.DataFrame, window: int = 14) -> pd.DataFrame:
    """Chande momentum oscillator (Chande's definition: plain sums over the window), -100 to 100.

    Parameters:
        window: look-back (integer >= 1, default 14).

    Formula: cmo = 100 (sum gains - sum losses) / (sum gains + sum losses) of the close over window bars
    (0 if both are 0)

    TA-Lib: CMOU(timeperiod=window) (TA-Lib's CMO uses Wilder averages instead of sums: it is 2 RSI - 100).
    """
    window = check_int("window", window)
    (close,) = columns(bars, "close")
    change = diff(close)
    gains = rolling_sum(np.where(change > 0, change, 0.0) + 0.0 * change, window)
    losses = rolling_sum(np.where(change < 0, -change, 0.0) + 0.0 * change, window)
    return frame(bars, cmo=100.0 * divide(gains - losses, gains + losses, 0.0))


@indicator(outputs=("bop",), warmup=lambda: 1, category="momentum")
def bop(bars: pd.DataFrame) -> pd.DataFrame:
    """Balance of power: where the close is relative to the open, in units of the bar's range.

    Parameters: none.

    Formula: bop = (close - open) / (high - low) (0 when high = low)

    TA-Lib: BOP.
    """
    open_, high, low, close = columns(bars, "open", "high", "low", "close")
    return frame(bars, bop=divide(close - open_, high - low, 0.0))
