"""Trend indicators: moving averages, MACD, ADX, Aroon, Ichimoku, Parabolic SAR, TRIX, Vortex, Mass index, STC, DPO.

Conventions (see the package docstring): EMAs are ``pandas`` ``ewm(adjust=False)`` recursions seeded with the
first value and shown from their ``window``-th bar; TA-Lib seeds with the SMA of the first ``window`` values,
so the two agree once the seed is forgotten (the warm-up).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from ta.trend import STCIndicator

from zvt_crypto.factors.indicators._core import (
    Array,
    bars_since_extreme,
    check_float,
    check_int,
    check_less,
    columns,
    divide,
    ema_span,
    frame,
    kernel,
    rolling_max,
    rolling_mean,
    rolling_min,
    rolling_sum,
    settle,
    settle_span,
    settle_wilder,
    shift,
    true_range,
    wilder,
    wma_values,
)
from zvt_crypto.factors.indicators.spec import indicator


@indicator(outputs=("sma",), warmup=lambda window: window, category="trend")
def sma(bars: pd.DataFrame, window: int = 20) -> pd.DataFrame:
    """Simple moving average of the close.

    Parameters:
        window: bars averaged (integer >= 1, default 20).

    Formula: sma_t = (close_{t-window+1} + ... + close_t) / window

    TA-Lib: SMA(timeperiod=window).
    """
    window = check_int("window", window)
    (close,) = columns(bars, "close")
    return frame(bars, sma=rolling_mean(close, window))


@indicator(outputs=("ema",), warmup=lambda window: settle_span(window), category="trend")
def ema(bars: pd.DataFrame, window: int = 20) -> pd.DataFrame:
    """Exponential moving average of the close (as ``ta.trend.EMAIndicator``, in a numba kernel).

    Parameters:
        window: span; alpha = 2 / (window + 1) (integer >= 1, default 20).

    Formula: ema_t = ema_{t-1} + alpha * (close_t - ema_{t-1}), seeded with the first close, NaN for window-1 bars

    TA-Lib: EMA(timeperiod=window) (seeded with an SMA: equal after the warm-up).
    """
    window = check_int("window", window)
    (close,) = columns(bars, "close")
    return frame(bars, ema=ema_span(close, window))


@indicator(outputs=("wma",), warmup=lambda window: window, category="trend")
def wma(bars: pd.DataFrame, window: int = 9) -> pd.DataFrame:
    """Linearly weighted moving average of the close.

    Parameters:
        window: bars averaged (integer >= 1, default 9).

    Formula: wma_t = sum_{j=1..window} j * close_{t-window+j} / (window * (window + 1) / 2)

    TA-Lib: WMA(timeperiod=window).
    """
    window = check_int("window", window)
    (close,) = columns(bars, "close")
    return frame(bars, wma=wma_values(close, window))


@indicator(outputs=("hma",), warmup=lambda window: window + math.isqrt(window), category="trend")
def hma(bars: pd.DataFrame, window: int = 9) -> pd.DataFrame:
    """Hull moving average of the close.

    Parameters:
        window: length (integer >= 2, default 9).

    Formula: hma = WMA(2 * WMA(close, window // 2) - WMA(close, window), isqrt(window))

    TA-Lib: HMA(timeperiod=window).
    """
    window = check_int("window", window, minimum=2)
    (close,) = columns(bars, "close")
    raw = 2.0 * wma_values(close, window // 2) - wma_values(close, window)
    return frame(bars, hma=wma_values(raw, math.isqrt(window)))


@indicator(outputs=("dema",), warmup=lambda window: 2 * settle_span(window), category="trend")
def dema(bars: pd.DataFrame, window: int = 20) -> pd.DataFrame:
    """Double exponential moving average of the close.

    Parameters:
        window: EMA span (integer >= 1, default 20).

    Formula: dema = 2 * e1 - e2, e1 = EMA(close, window), e2 = EMA(e1, window)

    TA-Lib: DEMA(timeperiod=window) (equal after the warm-up).
    """
    window = check_int("window", window)
    (close,) = columns(bars, "close")
    e1 = ema_span(close, window)
    e2 = ema_span(e1, window)
    return frame(bars, dema=2.0 * e1 - e2)


@indicator(outputs=("tema",), warmup=lambda window: 3 * settle_span(window), category="trend")
def tema(bars: pd.DataFrame, window: int = 20) -> pd.DataFrame:
    """Triple exponential moving average of the close.

    Parameters:
        window: EMA span (integer >= 1, default 20).

    Formula: tema = 3 * e1 - 3 * e2 + e3, e1 = EMA(close), e2 = EMA(e1), e3 = EMA(e2)

    TA-Lib: TEMA(timeperiod=window) (equal after the warm-up).
    """
    window = check_int("window", window)
    (close,) = columns(bars, "close")
    e1 = ema_span(close, window)
    e2 = ema_span(e1, window)
    e3 = ema_span(e2, window)
    return frame(bars, tema=3.0 * e1 - 3.0 * e2 + e3)


def _trima_windows(window: int) -> tuple[int, int]:
    return ((window + 1) // 2, (window + 1) // 2) if window % 2 else (window // 2, window // 2 + 1)


@indicator(outputs=("trima",), warmup=lambda window: window, category="trend")
def trima(bars: pd.DataFrame, window: int = 20) -> pd.DataFrame:
    """Triangular moving average of the close: an SMA of an SMA.

    Parameters:
        window: total length (integer >= 1, default 20).

    Formula: trima = SMA(SMA(close, a), b); a = b = (window + 1) // 2 if odd, else a = window / 2, b = a + 1

    TA-Lib: TRIMA(timeperiod=window).
    """
    window = check_int("window", window)
    (close,) = columns(bars, "close")
    first, second = _trima_windows(window)
    return frame(bars, trima=rolling_mean(rolling_mean(close, first), second))


@kernel
def _kama_kernel(close: Array, window: int, fast: float, slow: float) -> Array:  # pragma: no cover - compiled
    n = len(close)
    out = np.full(n, np.nan)
    if n <= window:
        return out
    value = close[window - 1]
    for t in range(window, n):
        change = abs(close[t] - close[t - window])
        path = 0.0
        for i in range(t - window + 1, t + 1):
            path += abs(close[i] - close[i - 1])
        efficiency = 1.0 if path <= change else change / path
        smoothing = efficiency * (fast - slow) + slow
        smoothing *= smoothing
        value = value + smoothing * (close[t] - value)
        out[t] = value
    return out


@indicator(outputs=("kama",), warmup=lambda window, fast, slow: window + settle((2.0 / (slow + 1)) ** 2),
           category="trend")
def kama(bars: pd.DataFrame, window: int = 10, fast: int = 2, slow: int = 30) -> pd.DataFrame:
    """Kaufman adaptive moving average of the close (numba kernel; ``ta``'s is a Python loop).

    Parameters:
        window: efficiency-ratio window (integer >= 1, default 10).
        fast: span of the fastest EMA (integer >= 1, default 2).
        slow: span of the slowest EMA (integer > fast, default 30).

    Formula: er = |close_t - close_{t-window}| / sum|close_i - close_{i-1}| (1 if the path is 0);
    sc = (er * (2/(fast+1) - 2/(slow+1)) + 2/(slow+1))^2; kama_t = kama_{t-1} + sc * (close_t - kama_{t-1}),
    seeded with close_{window-1}

    TA-Lib: KAMA(timeperiod=window) for fast=2, slow=30 (same seed: equal from the first value).
    """
    window = check_int("window", window)
    fast = check_int("fast", fast)
    slow = check_int("slow", slow)
    check_less("fast", fast, "slow", slow)
    (close,) = columns(bars, "close")
    return frame(bars, kama=_kama_kernel(close, window, 2.0 / (fast + 1), 2.0 / (slow + 1)))


@indicator(outputs=("t3",), warmup=lambda window, vfactor: 6 * settle_span(window), category="trend")
def t3(bars: pd.DataFrame, window: int = 5, vfactor: float = 0.7) -> pd.DataFrame:
    """Tillson T3: six chained EMAs combined with the volume factor.

    Parameters:
        window: EMA span (integer >= 1, default 5).
        vfactor: volume factor a (number in [0, 1], default 0.7).

    Formula: e1..e6 = EMA chain of close; t3 = -a^3 e6 + (3a^2 + 3a^3) e5 - (6a^2 + 3a + 3a^3) e4
    + (1 + 3a + a^3 + 3a^2) e3

    TA-Lib: T3(timeperiod=window, vfactor=vfactor) (equal after the warm-up).
    """
    window = check_int("window", window)
    a = check_float("vfactor", vfactor, 0.0, 1.0, low_inclusive=True)
    (close,) = columns(bars, "close")
    e = [close]
    for _ in range(6):
        e.append(ema_span(e[-1], window))
    c1 = -a * a * a
    c2 = 3 * a * a + 3 * a * a * a
    c3 = -6 * a * a - 3 * a - 3 * a * a * a
    c4 = 1 + 3 * a + a * a * a + 3 * a * a
    return frame(bars, t3=c1 * e[6] + c2 * e[5] + c3 * e[4] + c4 * e[3])


@indicator(outputs=("macd", "signal", "hist"),
           warmup=lambda fast, slow, signal: settle_span(slow) + settle_span(signal), category="trend")
def macd(bars: pd.DataFrame, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """Moving average convergence/divergence of the close (as ``ta.trend.MACD``, in one numba pass).

    Parameters:
        fast: fast EMA span (integer >= 1, default 12).
        slow: slow EMA span (integer > fast, default 26).
        signal: signal EMA span (integer >= 1, default 9).

    Formula: macd = EMA(close, fast) - EMA(close, slow); signal = EMA(macd, signal); hist = macd - signal

    TA-Lib: MACD(fastperiod, slowperiod, signalperiod) (SMA seeds: equal after the warm-up).
    """
    fast = check_int("fast", fast)
    slow = check_int("slow", slow)
    signal = check_int("signal", signal)
    check_less("fast", fast, "slow", slow)
    (close,) = columns(bars, "close")
    close = np.ascontiguousarray(close)
    line, signal_line, hist, done = _macd_kernel(close, fast, slow, signal)
    if not done:  # a NaN inside the closes: the EMAs' gap rule is pandas'
        line = ema_span(close, fast) - ema_span(close, slow)
        signal_line = ema_span(line, signal)
        hist = line - signal_line
    return frame(bars, macd=line, signal=signal_line, hist=hist)


@kernel
def _macd_kernel(close: Array, fast: int, slow: int,
                 signal: int) -> tuple[Array, Array, Array, bool]:  # pragma: no cover - compiled
    """MACD's three EMAs (``_core._ewm_kernel``'s step, alpha = 2 / (span + 1)) in one pass: the line from bar
    slow - 1, the signal (seeded with the first line value) from bar slow + signal - 2. ``done`` is False at a
    NaN close. Without pandas' skip of the update when the average equals the new value: that comparison sits on
    the recursions' critical path (see ``_core._wilder_atr_kernel``)."""
    n = len(close)
    line = np.full(n, np.nan)
    signal_line = np.full(n, np.nan)
    hist = np.full(n, np.nan)
    alphas = np.array([2.0 / (fast + 1), 2.0 / (slow + 1), 2.0 / (signal + 1)])
    factors = 1.0 - alphas
    exact = factors + alphas == 1.0
    if n == 0:
        return line, signal_line, hist, True
    quick = close[0]
    slow_average = close[0]
    smoothed = 0.0
    if np.isnan(quick):
        return line, signal_line, hist, False
    for t in range(n):
        value = close[t]
        if np.isnan(value):
            return line, signal_line, hist, False
        if t > 0:
            quick = factors[0] * quick + alphas[0] * value
            if not exact[0]:
                quick /= factors[0] + alphas[0]
            slow_average = factors[1] * slow_average + alphas[1] * value
            if not exact[1]:
                slow_average /= factors[1] + alphas[1]
        if t >= slow - 1:
            difference = quick - slow_average
            line[t] = difference
            if t == slow - 1:
                smoothed = difference
            else:
                smoothed = factors[2] * smoothed + alphas[2] * difference
                if not exact[2]:
                    smoothed /= factors[2] + alphas[2]
            if t >= slow + signal - 2:
                signal_line[t] = smoothed
                hist[t] = difference - smoothed
    return line, signal_line, hist, True


def directional_movement(high: Array, low: Array) -> tuple[Array, Array]:
    """+DM and -DM: the larger of the up-move and down-move when positive, else 0 (NaN on the first bar)."""
    up = high - shift(high)
    down = shift(low) - low
    nan_first = 0.0 * up
    plus = np.where((up > down) & (up > 0), up, 0.0) + nan_first
    minus = np.where((down > up) & (down > 0), down, 0.0) + nan_first
    return plus, minus


@indicator(outputs=("adx", "plus_di", "minus_di"), warmup=lambda window: 1 + 2 * settle_wilder(window),
           category="trend")
def adx(bars: pd.DataFrame, window: int = 14) -> pd.DataFrame:
    """Average directional index with the directional indicators (Wilder).

    Parameters:
        window: Wilder smoothing period (integer >= 1, default 14).

    Formula: plus_di = 100 W(+DM) / W(TR), minus_di = 100 W(-DM) / W(TR) (W = Wilder average, alpha = 1/window);
    dx = 100 |plus_di - minus_di| / (plus_di + minus_di) (0 when both are 0); adx = W(dx)

    TA-Lib: ADX, PLUS_DI, MINUS_DI(timeperiod=window) (equal after the warm-up).
    """
    window = check_int("window", window)
    high, low, close = (np.ascontiguousarray(a) for a in columns(bars, "high", "low", "close"))
    adx_line, plus_di, minus_di, done = _adx_kernel(high, low, close, window)
    if done:
        return frame(bars, adx=adx_line, plus_di=plus_di, minus_di=minus_di)
    plus_dm, minus_dm = directional_movement(high, low)  # a NaN inside the bars: pandas' gap rule
    atr = wilder(true_range(high, low, close), window)
    plus_di = 100.0 * divide(wilder(plus_dm, window), atr, 0.0)
    minus_di = 100.0 * divide(wilder(minus_dm, window), atr, 0.0)
    dx = 100.0 * divide(np.abs(plus_di - minus_di), plus_di + minus_di, 0.0)
    return frame(bars, adx=wilder(dx, window), plus_di=plus_di, minus_di=minus_di)


@kernel
def _adx_kernel(high: Array, low: Array, close: Array,
                window: int) -> tuple[Array, Array, Array, bool]:  # pragma: no cover - compiled
    """:func:`adx` in one pass: Wilder averages (``_core._ewm_kernel``'s step) of the true range and of +DM and
    -DM from bar 1, the DIs from bar ``window``, the ADX (Wilder average of DX) from bar ``2 window - 1``.
    ``done`` is False at a NaN (then the composed path decides)."""
    n = len(close)
    adx_line = np.full(n, np.nan)
    plus_di = np.full(n, np.nan)
    minus_di = np.full(n, np.nan)
    alpha = 1.0 / window
    factor = 1.0 - alpha
    total = factor + alpha
    exact = total == 1.0
    if n > 0 and (np.isnan(high[0]) or np.isnan(low[0])):
        return adx_line, plus_di, minus_di, False
    tr = plus = minus = adx = 0.0
    for t in range(1, n):
        previous = close[t - 1]
        if np.isnan(high[t]) or np.isnan(low[t]) or np.isnan(previous):
            return adx_line, plus_di, minus_di, False
        top = high[t] if high[t] > previous else previous
        bottom = low[t] if low[t] < previous else previous
        range_ = top - bottom
        up = high[t] - high[t - 1]
        down = low[t - 1] - low[t]
        plus_move = up if up > down and up > 0 else 0.0
        minus_move = down if down > up and down > 0 else 0.0
        if t == 1:
            tr, plus, minus = range_, plus_move, minus_move
        else:
            if tr != range_:
                tr = factor * tr + alpha * range_
                if not exact:
                    tr /= total
            if plus != plus_move:
                plus = factor * plus + alpha * plus_move
                if not exact:
                    plus /= total
            if minus != minus_move:
                minus = factor * minus + alpha * minus_move
                if not exact:
                    minus /= total
        if t < window:
            continue
        p = 100.0 * (plus / tr if tr != 0 else 0.0)
        m = 100.0 * (minus / tr if tr != 0 else 0.0)
        plus_di[t] = p
        minus_di[t] = m
        both = p + m
        dx = 100.0 * (abs(p - m) / both if both != 0 else 0.0)
        if t == window:
            adx = dx
        elif adx != dx:
            adx = factor * adx + alpha * dx
            if not exact:
                adx /= total
        if t >= 2 * window - 1:
            adx_line[t] = adx
    return adx_line, plus_di, minus_di, True


@indicator(outputs=("up", "down", "osc"), warmup=lambda window: window + 1, category="trend")
def aroon(bars: pd.DataFrame, window: int = 25) -> pd.DataFrame:
    """Aroon up / down / oscillator: how recent the highest high and lowest low of the last window+1 bars are.

    Parameters:
        window: look-back; window + 1 bars are searched, ties go to the newest (integer >= 1, default 25).

    Formula: up = 100 (window - bars since highest high) / window; down = same with the lowest low; osc = up - down

    TA-Lib: AROON(timeperiod=window) -> (down, up), AROONOSC(timeperiod=window).
    """
    window = check_int("window", window)
    high, low = columns(bars, "high", "low")
    up = 100.0 * (window - bars_since_extreme(high, window + 1, highest=True)) / window
    down = 100.0 * (window - bars_since_extreme(low, window + 1, highest=False)) / window
    return frame(bars, up=up, down=down, osc=up - down)


@indicator(outputs=("conversion", "base", "span_a", "span_b"),
           warmup=lambda conversion_window, base_window, span_b_window: max(conversion_window, base_window,
                                                                              span_b_window),
           category="trend")
def ichimoku(bars: pd.DataFrame, conversion_window: int = 9, base_window: int = 26,
             span_b_window: int = 52) -> pd.DataFrame:
    """Ichimoku cloud lines, each stored at the bar it is computed from (no forward displacement).

    Charts plot span_a and span_b ``base_window`` bars ahead (the cloud) and the lagging span ``base_window``
    bars back; here nothing is shifted, so every value uses bars up to its own only. The cloud a chart shows at
    bar t is span_a / span_b at bar t - base_window (a causal ``shift(base_window)``). The lagging span is the
    close itself and is not an output.

    Parameters:
        conversion_window: Tenkan-sen window (integer >= 1, default 9).
        base_window: Kijun-sen window (integer >= 1, default 26).
        span_b_window: Senkou span B window (integer >= 1, default 52).

    Formula: conversion = (HH + LL)/2 over conversion_window; base = same over base_window;
    span_a = (conversion + base) / 2; span_b = (HH + LL)/2 over span_b_window
    """
    conversion_window = check_int("conversion_window", conversion_window)
    base_window = check_int("base_window", base_window)
    span_b_window = check_int("span_b_window", span_b_window)
    high, low = columns(bars, "high", "low")

    def mid(window: int) -> Array:
        return (rolling_max(high, window) + rolling_min(low, window)) / 2.0

    conversion, base = mid(conversion_window), mid(base_window)
    return frame(bars, conversion=conversion, base=base, span_a=(conversion + base) / 2.0, span_b=mid(span_b_window))


@kernel
def _psar_kernel(high: Array, low: Array, step: float, maximum: float) -> Array:  # pragma: no cover - compiled
    n = len(high)
    out = np.full(n, np.nan)
    if n < 2:
        return out
    up = high[1] - high[0]
    down = low[0] - low[1]
    long = not (down > 0.0 and down > up)
    if long:
        extreme = high[1]
        sar = low[0]
    else:
        extreme = low[1]
        sar = high[0]
    af = step
    new_high = high[1]
    new_low = low[1]
    for t in range(1, n):
        prev_high = new_high
        prev_low = new_low
        new_high = high[t]
        new_low = low[t]
        if long:
            if new_low <= sar:  # reverse to short: the SAR jumps to the extreme point
                long = False
                sar = max(extreme, prev_high, new_high)
                out[t] = sar
                af = step
                extreme = new_low
                sar = max(sar + af * (extreme - sar), prev_high, new_high)
            else:
                out[t] = sar
                if new_high > extreme:
                    extreme = new_high
                    af = min(af + step, maximum)
                sar = min(sar + af * (extreme - sar), prev_low, new_low)
        elif new_high >= sar:  # reverse to long
            long = True
            sar = min(extreme, prev_low, new_low)
            out[t] = sar
            af = step
            extreme = new_high
            sar = min(sar + af * (extreme - sar), prev_low, new_low)
        else:
            out[t] = sar
            if new_low < extreme:
                extreme = new_low
                af = min(af + step, maximum)
            sar = max(sar + af * (extreme - sar), prev_high, new_high)
    return out


@indicator(outputs=("psar",), warmup=lambda step, maximum: None, category="trend")
def psar(bars: pd.DataFrame, step: float = 0.02, maximum: float = 0.2) -> pd.DataFrame:
    """Parabolic stop-and-reverse (Wilder), path-dependent: needs the whole history (numba kernel).

    The first trend is short when bar 1's -DM is positive, else long (TA-Lib's rule); the SAR starts at bar 0's
    low (long) or high (short). ``ta``'s version is a per-row pandas loop (minutes on 100k bars).

    Parameters:
        step: acceleration factor increment and start (number in (0, maximum], default 0.02).
        maximum: acceleration factor cap (number in (0, 1], default 0.2).

    Formula: sar_{t+1} = sar_t + af (ep - sar_t), ep = extreme point of the trend, af += step at each new ep
    (capped); kept outside the last two bars' range; reverses to ep when price crosses it

    TA-Lib: SAR(acceleration=step, maximum=maximum) (same algorithm: equal from the first value).
    """
    maximum = check_float("maximum", maximum, 0.0, 1.0)
    step = check_float("step", step, 0.0, maximum)
    high, low = columns(bars, "high", "low")
    return frame(bars, psar=_psar_kernel(high, low, step, maximum))


@kernel
def _supertrend_kernel(high: Array, low: Array, close: Array, window: int,
                       multiplier: float) -> tuple[Array, Array]:  # pragma: no cover - compiled
    n = len(close)
    line = np.full(n, np.nan)
    direction = np.full(n, np.nan)
    if n <= window:
        return line, direction
    atr = 0.0
    for t in range(1, n):
        previous = close[t - 1]
        tr = max(high[t] - low[t], abs(previous - high[t]), abs(previous - low[t]))
        if t < window:
            atr += tr
            continue
        if t == window:  # seed: the mean of the first window true ranges
            atr = (atr + tr) / window
        else:  # Wilder smoothing, in TA-Lib's order of operations
            atr = (atr * (window - 1) + tr) / window
        median = (high[t] + low[t]) / 2.0
        band = multiplier * atr
        upper, lower = median + band, median - band
        if t == window:
            final_upper, final_lower, up = upper, lower, True
        else:
            if upper < final_upper or close[t - 1] > final_upper:
                final_upper = upper
            if lower > final_lower or close[t - 1] < final_lower:
                final_lower = lower
            if up and close[t] < final_lower:
                up = False
            elif not up and close[t] > final_upper:
                up = True
        line[t] = final_lower if up else final_upper
        direction[t] = 1.0 if up else -1.0
    return line, direction


@indicator(outputs=("supertrend", "direction"), warmup=lambda window, multiplier: None, category="trend")
def supertrend(bars: pd.DataFrame, window: int = 10, multiplier: float = 3.0) -> pd.DataFrame:
    """SuperTrend: an ATR trailing band below (uptrend) or above (downtrend) price that flips on a close across.

    Path-dependent: needs the whole history (numba kernel).

    The ATR here is seeded with the mean of the first ``window`` true ranges (as TA-Lib), and the first trend is
    up, so the line equals TA-Lib's from its first value.

    Parameters:
        window: ATR period (integer >= 1, default 10).
        multiplier: ATR multiple (number > 0, default 3.0).

    Formula: basic = (high + low)/2 +- multiplier * ATR; the upper band only falls and the lower only rises
    unless the previous close was beyond it; direction flips to -1 when close < lower band, to +1 when
    close > upper band; supertrend = lower band when direction = +1, else upper band

    TA-Lib: SUPERTREND(timeperiod=window, multiplier=multiplier) -> (supertrend, direction).
    """
    window = check_int("window", window)
    multiplier = check_float("multiplier", multiplier)
    high, low, close = columns(bars, "high", "low", "close")
    line, direction = _supertrend_kernel(high, low, close, window, multiplier)
    return frame(bars, supertrend=line, direction=direction)


@indicator(outputs=("trix",), warmup=lambda window: 1 + 3 * settle_span(window), category="trend")
def trix(bars: pd.DataFrame, window: int = 15) -> pd.DataFrame:
    """TRIX: one-bar rate of change of a triple EMA of the close, in percent.

    (``ta``'s TRIXIndicator fills the first previous value with the mean of the whole series: not causal.)

    Parameters:
        window: EMA span (integer >= 1, default 15).

    Formula: e3 = EMA(EMA(EMA(close))); trix = 100 (e3_t - e3_{t-1}) / e3_{t-1}

    TA-Lib: TRIX(timeperiod=window) (equal after the warm-up).
    """
    window = check_int("window", window)
    (close,) = columns(bars, "close")
    e3 = ema_span(ema_span(ema_span(close, window), window), window)
    previous = shift(e3)
    return frame(bars, trix=100.0 * (e3 - previous) / previous)


@indicator(outputs=("plus", "minus"), warmup=lambda window: window + 1, category="trend")
def vortex(bars: pd.DataFrame, window: int = 14) -> pd.DataFrame:
    """Vortex indicator VI+ / VI-.

    (``ta``'s VortexIndicator fills the first previous close with the mean of the whole series: not causal.)

    Parameters:
        window: summing window (integer >= 1, default 14).

    Formula: plus = sum|high_t - low_{t-1}| / sum TR; minus = sum|low_t - high_{t-1}| / sum TR, over window bars

    TA-Lib: VORTEX(timeperiod=window) -> (plus, minus).
    """
    window = check_int("window", window)
    high, low, close = columns(bars, "high", "low", "close")
    tr = rolling_sum(true_range(high, low, close), window)
    plus = rolling_sum(np.abs(high - shift(low)), window)
    minus = rolling_sum(np.abs(low - shift(high)), window)
    return frame(bars, plus=divide(plus, tr, 0.0), minus=divide(minus, tr, 0.0))


@indicator(outputs=("mass_index",), warmup=lambda fast, slow: 2 * settle_span(fast) + slow, category="trend")
def mass_index(bars: pd.DataFrame, fast: int = 9, slow: int = 25) -> pd.DataFrame:
    """Mass index (Dorsey): sum of the ratio of a single to a double EMA of the high-low range.

    Parameters:
        fast: EMA span (integer >= 1, default 9).
        slow: summing window (integer >= 1, default 25).

    Formula: e1 = EMA(high - low, fast); e2 = EMA(e1, fast); mass_index = sum(e1 / e2) over slow bars

    TA-Lib: MASSI(fastperiod=fast, slowperiod=slow) (equal after the warm-up).
    """
    fast = check_int("fast", fast)
    slow = check_int("slow", slow)
    high, low = columns(bars, "high", "low")
    e1 = ema_span(high - low, fast)
    e2 = ema_span(e1, fast)
    return frame(bars, mass_index=rolling_sum(divide(e1, e2, 1.0), slow))


@indicator(outputs=("stc",),
           warmup=lambda fast, slow, cycle, smooth1, smooth2: (settle_span(slow) + settle_span(smooth1)
                                                                + settle_span(smooth2) + 2 * cycle),
           category="trend")
def stc(bars: pd.DataFrame, fast: int = 23, slow: int = 50, cycle: int = 10, smooth1: int = 3,
        smooth2: int = 3) -> pd.DataFrame:
    """Schaff trend cycle (``ta.trend.STCIndicator``): a double stochastic of the MACD line, 0-100.

    Parameters:
        fast: fast EMA span (integer >= 1, default 23).
        slow: slow EMA span (integer > fast, default 50).
        cycle: stochastic window (integer >= 1, default 10).
        smooth1: EMA span of the first stochastic (integer >= 1, default 3).
        smooth2: EMA span of the second stochastic (integer >= 1, default 3).

    Formula: m = EMA(close, fast) - EMA(close, slow); k = 100 (m - LL(m)) / (HH(m) - LL(m)) over cycle;
    d = EMA(k, smooth1); kd = same stochastic of d; stc = EMA(kd, smooth2)
    """
    fast = check_int("fast", fast)
    slow = check_int("slow", slow)
    cycle = check_int("cycle", cycle)
    smooth1 = check_int("smooth1", smooth1)
    smooth2 = check_int("smooth2", smooth2)
    check_less("fast", fast, "slow", slow)
    columns(bars, "close")
    value = STCIndicator(bars["close"].astype("float64"), window_slow=slow, window_fast=fast, cycle=cycle,
                         smooth1=smooth1, smooth2=smooth2).stc()
    return frame(bars, stc=value.to_numpy())


@indicator(outputs=("dpo",), warmup=lambda window: window + 1, category="trend")
def dpo(bars: pd.DataFrame, window: int = 20) -> pd.DataFrame:
    """Detrended price oscillator, causal form: an older close minus the current SMA.

    The centred form (close minus the SMA displaced window/2 + 1 bars into the future) looks ahead and is not
    offered; this is the same difference stored window/2 + 1 bars later.

    Parameters:
        window: SMA window (integer >= 1, default 20).

    Formula: dpo_t = close_{t - (window // 2 + 1)} - SMA(close, window)_t

    TA-Lib: DPO(timeperiod=window).
    """
    window = check_int("window", window)
    (close,) = columns(bars, "close")
    return frame(bars, dpo=shift(close, window // 2 + 1) - rolling_mean(close, window))
