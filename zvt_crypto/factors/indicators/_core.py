"""Helpers shared by the built-in indicators: parameter checks, exact rolling windows, smoothers and kernels.

Windowed statistics here are computed from each window's own values in a fixed order, never from a running sum
(as pandas' ``rolling().sum()`` / ``mean()`` / ``std()`` do, with compensated add-and-remove), so a value is
bit-identical however much history precedes its window: that is what makes a windowed indicator's warm-up exact.
Rolling max / min are exact anyway. The loops run as numba kernels (bottom of this module), chunk by chunk.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.factors.indicators.spec import converged

Array = np.ndarray


# ---------------------------------------------------------------------------------------------- parameters


def check_int(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]``, else :class:`InvalidInputError` naming ``name``."""
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if ok and value >= minimum and (maximum is None or value <= maximum):
        return int(value)
    allowed = f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
    raise InvalidInputError(f"{name} must be {allowed}, got {value!r}")


def check_float(name: str, value: Any, low: float = 0.0, high: float | None = None, *,
                low_inclusive: bool = False, high_inclusive: bool = True) -> float:
    """``value`` as a finite float in the given interval, else :class:`InvalidInputError` naming ``name``."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if ok and math.isfinite(value):
        above = value >= low if low_inclusive else value > low
        below = high is None or (value <= high if high_inclusive else value < high)
        if above and below:
            return float(value)
    left = "[" if low_inclusive else "("
    right = ")" if high is None or not high_inclusive else "]"
    raise InvalidInputError(f"{name} must be a number in {left}{low}, {'inf' if high is None else high}{right}, "
                            f"got {value!r}")


def check_less(small_name: str, small: int, big_name: str, big: int) -> None:
    if small >= big:
        raise InvalidInputError(f"{small_name} must be < {big_name}, got {small_name}={small}, {big_name}={big}")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidInputError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------- frames


def columns(bars: pd.DataFrame, *names: str) -> list[Array]:
    """The named columns of ``bars`` as float64 arrays (a copy only when the dtype differs)."""
    missing = [name for name in names if name not in bars.columns]
    if missing:
        raise InvalidInputError(f"bars lack the column(s) {', '.join(missing)}; indicators need {', '.join(names)}")
    return [np.asarray(bars[name].to_numpy(), dtype=np.float64) for name in names]


def frame(bars: pd.DataFrame, **outputs: Any) -> pd.DataFrame:
    """The outputs, in keyword order, as float64 columns on the bars' index.

    An array the indicator allocated itself (numpy's, or a numba kernel's: its base is not an ndarray) becomes its
    column as is, unconsolidated: for three 1M-row outputs a copy into one block cost more than the indicator. A
    view of another array (a bars column, a slice of a temporary) or an array given twice is copied, so outputs
    never share memory with the bars or with each other."""
    data: dict[str, Array] = {}
    seen: set[int] = set()
    for name, value in outputs.items():
        fits = isinstance(value, np.ndarray) and value.dtype == np.float64
        array = value if fits else np.asarray(value, dtype=np.float64)  # asarray views a numba array: keep it
        own = (array.ndim == 1 and array.flags.c_contiguous and id(array) not in seen
               and (array.base is None or not isinstance(array.base, np.ndarray)))
        seen.add(id(array))
        data[name] = array if own else array.copy()
    return pd.DataFrame(data, index=bars.index, copy=False)


def shift(x: Array, k: int = 1) -> Array:
    """``x`` delayed by ``k`` bars (NaN for the first ``k``)."""
    out = np.full(len(x), np.nan)
    if 0 < k < len(x):
        out[k:] = x[:-k]
    elif k == 0:
        out[:] = x
    return out


def diff(x: Array, k: int = 1) -> Array:
    return x - shift(x, k)


def divide(num: Array, den: Array, fill: float) -> Array:
    """``num / den``, with ``fill`` where ``den == 0`` (NaN stays NaN)."""
    num, den = np.broadcast_arrays(np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64))
    zero = den == 0
    if not zero.any():
        return num / den
    out = num / np.where(zero, 1.0, den)
    out[zero & ~np.isnan(num)] = fill
    return out


# ---------------------------------------------------------------------------------------------- rolling windows


def rolling_sum(x: Array, window: int) -> Array:
    """Sum of each ``window`` consecutive values (NaN for the first ``window - 1``; NaN if the window has one).

    Each sum adds power-of-two blocks of its own window in a fixed order (O(n log window)), so it is
    bit-identical whatever precedes the window, and about as accurate as pairwise summation.
    """
    return _rolling_sum_kernel(np.ascontiguousarray(x, dtype=np.float64), window, 1.0)


def rolling_mean(x: Array, window: int) -> Array:
    """``rolling_sum(x, window) / window``, the division done chunk by chunk inside the sums' kernel."""
    return _rolling_sum_kernel(np.ascontiguousarray(x, dtype=np.float64), window, float(window))


def rolling_max(x: Array, window: int) -> Array:
    """Highest value of each full window (NaN if the window has a NaN), as pandas' ``rolling(window).max()``."""
    return _rolling_extreme_kernel(np.ascontiguousarray(x, dtype=np.float64), window, True)


def rolling_min(x: Array, window: int) -> Array:
    """Lowest value of each full window (NaN if the window has a NaN), as pandas' ``rolling(window).min()``."""
    return _rolling_extreme_kernel(np.ascontiguousarray(x, dtype=np.float64), window, False)


def _lags(x: Array, window: int) -> tuple[int, Callable[[int], Array]]:
    """The number of full windows and a function giving the j-th value (j = 0 oldest) of every window."""
    m = len(x) - window + 1
    return m, lambda j: x[j:j + m]


def rolling_deviation(x: Array, window: int, center: Array, power: int) -> Array:
    """``sum(|x_i - center_t| ** power)`` over each window (power 1 or 2), summed oldest first."""
    return _rolling_deviation_kernel(np.ascontiguousarray(x, dtype=np.float64), window,
                                     np.ascontiguousarray(center, dtype=np.float64), power)


def rolling_std(x: Array, window: int, ddof: int = 0, mean: Array | None = None) -> Array:
    """Standard deviation of each window, two-pass (mean first, then squared deviations from it); ``mean`` is
    ``rolling_mean(x, window)`` when the caller already has it."""
    deviation = rolling_deviation(x, window, rolling_mean(x, window) if mean is None else mean, 2)
    deviation /= window - ddof
    return np.sqrt(deviation, out=deviation)


def weighted_sum(x: Array, weights: Array) -> Array:
    """``sum(weights[j] * x[t - len + 1 + j])``: the newest value gets the last weight."""
    window = len(weights)
    n = len(x)
    out = np.full(n, np.nan)
    if n < window:
        return out
    m, value = _lags(np.asarray(x, dtype=np.float64), window)
    total = np.zeros(m)
    term = np.empty(m)
    for j in range(window):
        np.multiply(value(j), weights[j], out=term)
        total += term
    out[window - 1:] = total
    return out


def wma_values(x: Array, window: int) -> Array:
    """Linearly weighted moving average (weights 1..window, newest heaviest)."""
    weights = np.arange(1, window + 1, dtype=np.float64)
    return weighted_sum(x, weights) / (window * (window + 1) / 2)


def bars_since_extreme(x: Array, window: int, highest: bool) -> Array:
    """Bars since the highest (lowest) value of the last ``window`` values; ties go to the most recent one."""
    n = len(x)
    out = np.full(n, np.nan)
    if n < window:
        return out
    view = np.lib.stride_tricks.sliding_window_view(np.asarray(x, dtype=np.float64), window)[:, ::-1]
    chunk = max(1, 4_000_000 // window)  # bound the temporaries
    for start in range(0, len(view), chunk):
        part = view[start:start + chunk]
        position = part.argmax(axis=1) if highest else part.argmin(axis=1)
        result = position.astype(np.float64)
        result[np.isnan(part).any(axis=1)] = np.nan
        out[window - 1 + start:window - 1 + start + len(part)] = result
    return out


# ---------------------------------------------------------------------------------------------- smoothers


def ema(x: Array, alpha: float, min_periods: int) -> Array:
    """Recursive EMA ``y_t = (1 - alpha) y_{t-1} + alpha x_t`` seeded with the first non-NaN value;
    NaN until ``min_periods`` values have been seen (pandas' ``ewm(adjust=False)``, as a numba kernel)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    values, done = _ewm_kernel(x, float(alpha), int(min_periods))
    if done:
        return values
    return pd.Series(x).ewm(alpha=alpha, adjust=False, min_periods=min_periods).mean().to_numpy()


def ema_span(x: Array, window: int) -> Array:
    """EMA with ``alpha = 2 / (window + 1)``, NaN for the first ``window - 1`` values."""
    return ema(x, 2.0 / (window + 1), window)


def wilder(x: Array, window: int) -> Array:
    """Wilder's smoothing: an EMA with ``alpha = 1 / window``, NaN for the first ``window - 1`` values."""
    return ema(x, 1.0 / window, window)


def settle(alpha: float) -> int:
    """Bars after which an EMA with factor ``alpha`` has forgotten its seed (``converged``; 1 when alpha is 1)."""
    return 1 if alpha >= 1.0 else converged(alpha)


def settle_span(window: int) -> int:
    return settle(2.0 / (window + 1))


def settle_wilder(window: int) -> int:
    return settle(1.0 / window)


def wilder_atr(high: Array, low: Array, close: Array, window: int) -> Array:
    """``wilder(true_range(high, low, close), window)`` in one pass (no NaN after the first bar: else as written)."""
    h, lo, c = (np.ascontiguousarray(a, dtype=np.float64) for a in (high, low, close))
    values, done = _wilder_atr_kernel(h, lo, c, window)
    return values if done else wilder(true_range(h, lo, c), window)


def true_range(high: Array, low: Array, close: Array) -> Array:
    """``max(high, previous close) - min(low, previous close)``; NaN on the first bar."""
    prev = shift(close, 1)
    return np.maximum(high, prev) - np.minimum(low, prev)


# ---------------------------------------------------------------------------------------------- kernels

_COMPILED: dict[Callable[..., Any], Callable[..., Any]] = {}


def kernel(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``function`` (a loop over numpy arrays) compiled by numba on first use, or as plain Python when
    numba is not installed. Nothing is imported or compiled at import time."""

    def call(*args: Any) -> Any:
        compiled = _COMPILED.get(function)
        if compiled is None:
            try:
                import numba
            except ImportError:  # pragma: no cover - numba is a dependency; the fallback keeps it optional
                compiled = function
            else:
                compiled = numba.njit(cache=True, nogil=True)(function)
            _COMPILED[function] = compiled
        return compiled(*args)

    call.__name__ = function.__name__
    call.__doc__ = function.__doc__
    call.python = function  # type: ignore[attr-defined]  # the uncompiled kernel, for tests and debugging
    return call


# The loops below are the hot paths of the windowed and recursive helpers above, as numba kernels: numpy builds a
# window statistic from whole-array temporaries (one 8 MB array per step on 1M bars), and pandas' ewm and rolling
# max/min run generic code; these work chunk by chunk in cache. The window kernels give the same floats as the numpy
# code they replaced (tests/factors/indicators/test_kernels.py keeps that code as the reference).

CHUNK = 2048  # outputs per chunk: the chunk's temporaries (a few x (chunk + window) floats) stay in L1/L2


@kernel
def _ewm_kernel(x: Array, alpha: float, min_periods: int) -> tuple[Array, bool]:  # pragma: no cover - compiled
    """pandas' ``Series.ewm(alpha=alpha, adjust=False, min_periods=min_periods).mean()`` for a series whose NaNs
    all lead (the warm-up of an indicator it smooths): its recursion in one loop; the floats agree with pandas'
    to an ulp or so. Returns ``(values, False)`` at the first NaN after a number (pandas decides gaps)."""
    n = len(x)
    out = np.empty(n)
    first = 0
    while first < n and np.isnan(x[first]):
        out[first] = np.nan
        first += 1
    if first == n:
        return out, True
    factor = 1.0 - alpha
    total = factor + alpha  # pandas divides every step by this weight (1.0 for most alphas: then skipped)
    exact = total == 1.0
    minimum = max(min_periods, 1)
    weighted = x[first]
    out[first] = weighted if minimum <= 1 else np.nan
    for i in range(first + 1, n):
        value = x[i]
        if np.isnan(value):
            return out, False
        if weighted != value:
            weighted = factor * weighted + alpha * value
            if not exact:
                weighted /= total
        out[i] = weighted if i - first + 1 >= minimum else np.nan
    return out, True


@kernel
def _rolling_sum_kernel(x: Array, window: int, divisor: float) -> Array:  # pragma: no cover - compiled
    """:func:`rolling_sum`'s power-of-two blocks, built chunk by chunk (the same additions in the same order), each
    sum then divided by ``divisor`` while the chunk is in cache (skipped for 1.0: ``rolling_mean`` passes window)."""
    n = len(x)
    out = np.empty(n)
    out[:window - 1] = np.nan
    if n < window:
        out[:] = np.nan
        return out
    m = n - window + 1
    levels = 1
    while (1 << levels) <= window:
        levels += 1
    blocks = np.empty((levels, CHUNK + window))
    for start in range(0, m, CHUNK):
        count = min(CHUNK, m - start)
        length = count + window - 1
        blocks[0, :length] = x[start:start + length]
        for level in range(1, levels):  # blocks[level][i] = sum of 2**level values from start + i
            size = 1 << (level - 1)
            length -= size
            source, shifted, target = blocks[level - 1], blocks[level - 1, size:], blocks[level]
            for i in range(length):  # plain indexes into views: numba vectorises these, not x[i + size]
                target[i] = source[i] + shifted[i]
        total = out[window - 1 + start:window - 1 + start + count]
        offset = 0
        first = True
        for level in range(levels - 1, -1, -1):  # the biggest block first, as rolling_sum adds them
            size = 1 << level
            if window & size:
                block = blocks[level, offset:offset + count]
                if first:
                    total[:] = block
                    first = False
                else:
                    for i in range(count):
                        total[i] += block[i]
                offset += size
        if divisor != 1.0:
            for i in range(count):
                total[i] /= divisor
    return out


@kernel
def _rolling_deviation_kernel(x: Array, window: int, center: Array, power: int) -> Array:  # pragma: no cover
    """:func:`rolling_deviation` chunk by chunk: each window's terms added oldest first, from 0.0."""
    n = len(x)
    out = np.empty(n)
    out[:min(window - 1, n)] = np.nan
    if n < window:
        return out
    m = n - window + 1
    for start in range(0, m, CHUNK):
        count = min(CHUNK, m - start)
        total = out[window - 1 + start:window - 1 + start + count]
        total[:] = 0.0
        middle = center[window - 1 + start:window - 1 + start + count]
        for j in range(window):
            values = x[start + j:start + j + count]
            if power == 1:
                for i in range(count):
                    total[i] += abs(values[i] - middle[i])
            else:
                for i in range(count):
                    term = values[i] - middle[i]
                    total[i] += term * term
    return out


@kernel
def _rolling_extreme_kernel(x: Array, window: int, highest: bool) -> Array:  # pragma: no cover - compiled
    """Rolling max (min) of full windows, NaN where a window holds a NaN (pandas' ``min_periods=window``).

    van Herk / Gil-Werman, chunk by chunk: running extremes forward and backward within blocks of ``window``
    values; a window spans at most two blocks, so its extreme is that of a backward and a forward run (O(n)
    whatever the window). NaNs are counted apart (a prefix count) and blank every window holding one.
    """
    n = len(x)
    out = np.empty(n)
    out[:min(window - 1, n)] = np.nan
    if n < window:
        return out
    m = n - window + 1
    sign = 1.0 if highest else -1.0
    size = CHUNK + window
    forward = np.empty(size)
    backward = np.empty(size)
    nans = np.zeros(size + 1, dtype=np.int64)
    for start in range(0, m, CHUNK):
        count = min(CHUNK, m - start)
        length = count + window - 1
        segment = x[start:start + length]
        for i in range(length):
            value = sign * segment[i]
            nans[i + 1] = nans[i] + (1 if np.isnan(value) else 0)
            forward[i] = value
            backward[i] = value
        for block in range(0, length, window):
            end = min(block + window, length)
            run = forward[block]
            for i in range(block + 1, end):  # selects, not branches: rising and falling prices mispredict
                value = forward[i]
                run = run if run > value else value
                forward[i] = run
            run = backward[end - 1]
            for i in range(end - 2, block - 1, -1):
                value = backward[i]
                run = run if run > value else value
                backward[i] = run
        target = out[start + window - 1:start + window - 1 + count]
        ahead, after, before = forward[window - 1:], nans[window:], nans[:count]
        for i in range(count):
            a, b = backward[i], ahead[i]
            extreme = sign * (a if a > b else b)
            target[i] = np.nan if after[i] - before[i] else extreme
    return out


@kernel
def _wilder_atr_kernel(high: Array, low: Array, close: Array, window: int) -> tuple[Array, bool]:  # pragma: no cover
    """Wilder's average (alpha = 1/window, pandas' ``ewm(adjust=False)`` recursion) of the true range, NaN on the
    first ``window`` bars; ``(values, False)`` at a NaN after the first bar (the caller then composes the slow way).

    Unlike ``_ewm_kernel`` it does not skip the update when the average equals the new value (pandas does): that
    comparison sits on the recursion's critical path and costs half its speed; the result moves by an ulp at most.
    """
    n = len(close)
    out = np.empty(n)
    out[:min(window, n)] = np.nan
    if n < 2:
        return out, True
    alpha = 1.0 / window
    factor = 1.0 - alpha
    total = factor + alpha
    exact = total == 1.0
    previous, highs, lows = close[:-1], high[1:], low[1:]  # bar t's inputs at index t - 1: plain indexes
    average = 0.0
    for i in range(n - 1):
        h, lo, p = highs[i], lows[i], previous[i]
        if np.isnan(h + lo + p):
            return out, False
        value = (h if h > p else p) - (lo if lo < p else p)
        if i == 0:
            average = value
        else:
            average = factor * average + alpha * value
            if not exact:
                average /= total
        if i + 1 >= window:
            out[i + 1] = average
    return out, True
