"""Helpers shared by the built-in indicators: parameter checks, exact rolling windows, smoothers and kernels.

Windowed statistics here are computed from each window's own values in a fixed order, never from a running sum
(as pandas' ``rolling().sum()`` / ``mean()`` / ``std()`` do, with compensated add-and-remove), so a value is
bit-identical however much history precedes its window: that is what makes a windowed indicator's warm-up exact.
Rolling max / min are exact anyway and use pandas.
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
    """The outputs, in keyword order, as float64 columns on the bars' index."""
    data = {name: np.asarray(value, dtype=np.float64) for name, value in outputs.items()}
    return pd.DataFrame(data, index=bars.index)


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
    n = len(x)
    out = np.full(n, np.nan)
    if n < window:
        return out
    x = np.asarray(x, dtype=np.float64)
    m = n - window + 1
    blocks: dict[int, Array] = {}  # size -> sums of `size` consecutive values, for the bits of `window`
    block, size = x, 1
    while size <= window:
        if window & size:
            blocks[size] = block
        if size * 2 <= window:
            block = block[:-size] + block[size:]
        size *= 2
    total: Array | None = None
    offset = 0
    for size in sorted(blocks, reverse=True):
        term = blocks[size][offset:offset + m]
        total = term.copy() if total is None else total + term
        offset += size
    out[window - 1:] = total
    return out


def rolling_mean(x: Array, window: int) -> Array:
    return rolling_sum(x, window) / window


def rolling_max(x: Array, window: int) -> Array:
    return pd.Series(x).rolling(window, min_periods=window).max().to_numpy()


def rolling_min(x: Array, window: int) -> Array:
    return pd.Series(x).rolling(window, min_periods=window).min().to_numpy()


def _lags(x: Array, window: int) -> tuple[int, Callable[[int], Array]]:
    """The number of full windows and a function giving the j-th value (j = 0 oldest) of every window."""
    m = len(x) - window + 1
    return m, lambda j: x[j:j + m]


def rolling_deviation(x: Array, window: int, center: Array, power: int) -> Array:
    """``sum(|x_i - center_t| ** power)`` over each window (power 1 or 2), summed oldest first."""
    n = len(x)
    out = np.full(n, np.nan)
    if n < window:
        return out
    m, value = _lags(np.asarray(x, dtype=np.float64), window)
    c = center[window - 1:]
    total = np.zeros(m)
    term = np.empty(m)
    for j in range(window):
        np.subtract(value(j), c, out=term)
        if power == 1:
            np.abs(term, out=term)
        else:
            np.multiply(term, term, out=term)
        total += term
    out[window - 1:] = total
    return out


def rolling_std(x: Array, window: int, ddof: int = 0) -> Array:
    """Standard deviation of each window, two-pass (mean first, then squared deviations from it)."""
    mean = rolling_mean(x, window)
    return np.sqrt(rolling_deviation(x, window, mean, 2) / (window - ddof))


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
    """Recursive EMA ``y_t = y_{t-1} + alpha (x_t - y_{t-1})`` seeded with the first non-NaN value;
    NaN until ``min_periods`` values have been seen."""
    series = pd.Series(np.asarray(x, dtype=np.float64))
    return series.ewm(alpha=alpha, adjust=False, min_periods=min_periods).mean().to_numpy()


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
