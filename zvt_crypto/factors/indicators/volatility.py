"""Volatility indicators: true range, ATR, NATR, Bollinger bands, Keltner and Donchian channels, Ulcer index,
standard deviation."""

from __future__ import annotations

import numpy as np
import pandas as pd
from ta.volatility import DonchianChannel

from zvt_crypto.factors.indicators._core import (
    CHUNK,
    Array,
    check_choice,
    check_float,
    check_int,
    columns,
    divide,
    ema_span,
    frame,
    kernel,
    rolling_max,
    rolling_mean,
    rolling_std,
    settle_span,
    settle_wilder,
    true_range,
    wilder_atr,
)
from zvt_crypto.factors.indicators.spec import indicator


def atr_values(high: Array, low: Array, close: Array, window: int) -> Array:
    return wilder_atr(high, low, close, window)


@indicator(outputs=("trange",), warmup=lambda: 2, category="volatility")
def trange(bars: pd.DataFrame) -> pd.DataFrame:
    """True range: the bar's range extended to the previous close (NaN on the first bar).

    Parameters: none.

    Formula: trange = max(high, close_{t-1}) - min(low, close_{t-1})

    TA-Lib: TRANGE.
    """
    high, low, close = columns(bars, "high", "low", "close")
    return frame(bars, trange=true_range(high, low, close))


@indicator(outputs=("atr",), warmup=lambda window: 1 + settle_wilder(window), category="volatility")
def atr(bars: pd.DataFrame, window: int = 14) -> pd.DataFrame:
    """Average true range (Wilder). Vectorised (``ta``'s AverageTrueRange loops over rows in Python).

    Parameters:
        window: Wilder smoothing period (integer >= 1, default 14).

    Formula: atr = Wilder average (alpha = 1/window) of the true range, seeded with the first true range

    TA-Lib: ATR(timeperiod=window) (SMA seed: equal after the warm-up).
    """
    window = check_int("window", window)
    high, low, close = columns(bars, "high", "low", "close")
    return frame(bars, atr=atr_values(high, low, close, window))


@indicator(outputs=("natr",), warmup=lambda window: 1 + settle_wilder(window), category="volatility")
def natr(bars: pd.DataFrame, window: int = 14) -> pd.DataFrame:
    """Normalised average true range: ATR as a percentage of the close.

    Parameters:
        window: Wilder smoothing period (integer >= 1, default 14).

    Formula: natr = 100 ATR(window) / close

    TA-Lib: NATR(timeperiod=window) (equal after the warm-up).
    """
    window = check_int("window", window)
    high, low, close = columns(bars, "high", "low", "close")
    return frame(bars, natr=100.0 * atr_values(high, low, close, window) / close)


def _bands(close: Array, window: int, multiplier: float) -> tuple[Array, Array, Array]:
    close = np.ascontiguousarray(close, dtype=np.float64)
    middle = rolling_mean(close, window)
    upper, lower = _bands_kernel(close, window, middle, multiplier)
    return upper, middle, lower


@kernel
def _bands_kernel(close: Array, window: int, middle: Array,
                  multiplier: float) -> tuple[Array, Array]:  # pragma: no cover - compiled
    """``middle +- multiplier * rolling_std(close, window, mean=middle)`` chunk by chunk: the same operations
    (squared deviations summed oldest first from 0.0, / window, sqrt, * multiplier) without a temporary array."""
    n = len(close)
    upper = np.empty(n)
    lower = np.empty(n)
    upper[:min(window - 1, n)] = np.nan
    lower[:min(window - 1, n)] = np.nan
    if n < window:
        return upper, lower
    m = n - window + 1
    total = np.empty(CHUNK)
    for start in range(0, m, CHUNK):
        count = min(CHUNK, m - start)
        total[:count] = 0.0
        center = middle[window - 1 + start:window - 1 + start + count]
        j = 0
        while j + 4 <= window:  # four terms per pass, added in the same order: fewer loads and stores of total
            a, b = close[start + j:start + j + count], close[start + j + 1:start + j + 1 + count]
            c, d = close[start + j + 2:start + j + 2 + count], close[start + j + 3:start + j + 3 + count]
            for i in range(count):
                ta, tb, tc, td = a[i] - center[i], b[i] - center[i], c[i] - center[i], d[i] - center[i]
                total[i] = (((total[i] + ta * ta) + tb * tb) + tc * tc) + td * td
            j += 4
        while j < window:
            values = close[start + j:start + j + count]
            for i in range(count):
                term = values[i] - center[i]
                total[i] += term * term
            j += 1
        high = upper[window - 1 + start:window - 1 + start + count]
        low = lower[window - 1 + start:window - 1 + start + count]
        for i in range(count):
            width = np.sqrt(total[i] / window) * multiplier
            high[i] = center[i] + width
            low[i] = center[i] - width
    return upper, lower


@indicator(outputs=("upper", "middle", "lower"), warmup=lambda window, multiplier: window, category="volatility")
def bbands(bars: pd.DataFrame, window: int = 20, multiplier: float = 2.0) -> pd.DataFrame:
    """Bollinger bands: SMA of the close +- a multiple of the population standard deviation.

    Parameters:
        window: look-back (integer >= 1, default 20).
        multiplier: band width in standard deviations (number > 0, default 2.0).

    Formula: middle = SMA(close, window); sd = sqrt(mean((close_i - middle)^2)) over the window (ddof 0, as
    Bollinger and TA-Lib); upper / lower = middle +- multiplier * sd

    TA-Lib: BBANDS(timeperiod=window, nbdevup=multiplier, nbdevdn=multiplier, matype=0). The deviation is
    computed in two passes (TA-Lib: sum of squares minus squared sum), so it is the more accurate of the two.
    """
    window = check_int("window", window)
    multiplier = check_float("multiplier", multiplier)
    (close,) = columns(bars, "close")
    upper, middle, lower = _bands(close, window, multiplier)
    return frame(bars, upper=upper, middle=middle, lower=lower)


@indicator(outputs=("percent_b", "bandwidth"), warmup=lambda window, multiplier: window, category="volatility")
def bb_percent(bars: pd.DataFrame, window: int = 20, multiplier: float = 2.0) -> pd.DataFrame:
    """Bollinger %B and bandwidth.

    Parameters:
        window: look-back (integer >= 1, default 20).
        multiplier: band width in standard deviations (number > 0, default 2.0).

    Formula: percent_b = (close - lower) / (upper - lower) (0.5 when the bands touch);
    bandwidth = (upper - lower) / middle
    """
    window = check_int("window", window)
    multiplier = check_float("multiplier", multiplier)
    (close,) = columns(bars, "close")
    upper, middle, lower = _bands(close, window, multiplier)
    width = upper - lower
    return frame(bars, percent_b=divide(close - lower, width, 0.5), bandwidth=divide(width, middle, 0.0))


_PRICES = ("close", "typical")


@indicator(outputs=("upper", "middle", "lower"),
           warmup=lambda window, atr_window, multiplier, price: max(settle_span(window), 1 + settle_wilder(atr_window)),
           category="volatility")
def keltner(bars: pd.DataFrame, window: int = 20, atr_window: int = 10, multiplier: float = 2.0,
            price: str = "close") -> pd.DataFrame:
    """Keltner channel, modern form: an EMA +- a multiple of the ATR.

    (``ta``'s KeltnerChannel defaults to Keltner's original SMA-of-typical-price form.)

    Parameters:
        window: EMA span of the middle line (integer >= 1, default 20).
        atr_window: ATR period (integer >= 1, default 10).
        multiplier: ATR multiple (number > 0, default 2.0).
        price: the averaged price, "close" or "typical" = (high + low + close) / 3 (default "close").

    Formula: middle = EMA(price, window); upper / lower = middle +- multiplier * ATR(atr_window)

    TA-Lib: KC(timeperiod=window, atrperiod=atr_window, nbdev=multiplier) with price="typical" (equal after the
    warm-up).
    """
    window = check_int("window", window)
    atr_window = check_int("atr_window", atr_window)
    multiplier = check_float("multiplier", multiplier)
    price = check_choice("price", price, _PRICES)
    high, low, close = columns(bars, "high", "low", "close")
    middle = ema_span(close if price == "close" else (high + low + close) / 3.0, window)
    width = multiplier * atr_values(high, low, close, atr_window)
    return frame(bars, upper=middle + width, middle=middle, lower=middle - width)


@indicator(outputs=("upper", "middle", "lower"), warmup=lambda window: window, category="volatility")
def donchian(bars: pd.DataFrame, window: int = 20) -> pd.DataFrame:
    """Donchian channel: highest high, lowest low and their midpoint (``ta.volatility.DonchianChannel``).

    Parameters:
        window: look-back, including the current bar (integer >= 1, default 20).

    Formula: upper = max(high) over window; lower = min(low) over window; middle = lower + (upper - lower) / 2

    TA-Lib: DONCHIAN(timeperiod=window).
    """
    window = check_int("window", window)
    columns(bars, "high", "low", "close")
    channel = DonchianChannel(bars["high"].astype("float64"), bars["low"].astype("float64"),
                              bars["close"].astype("float64"), window=window)
    return frame(bars, upper=channel.donchian_channel_hband().to_numpy(),
                 middle=channel.donchian_channel_mband().to_numpy(),
                 lower=channel.donchian_channel_lband().to_numpy())


@indicator(outputs=("ulcer",), warmup=lambda window: 2 * window, category="volatility")
def ulcer(bars: pd.DataFrame, window: int = 14) -> pd.DataFrame:
    """Ulcer index (Martin): root-mean-square percentage drawdown from the rolling high close.

    Vectorised (``ta``'s UlcerIndex uses a per-window Python callback).

    Parameters:
        window: look-back of both the high and the mean (integer >= 1, default 14).

    Formula: dd = 100 (close - max(close over window)) / max(close over window); ulcer = sqrt(SMA(dd^2, window))
    """
    window = check_int("window", window)
    (close,) = columns(bars, "close")
    highest = rolling_max(close, window)
    drawdown = 100.0 * (close - highest) / highest
    return frame(bars, ulcer=np.sqrt(rolling_mean(drawdown * drawdown, window)))


@indicator(outputs=("stddev",), warmup=lambda window: window, category="volatility")
def stddev(bars: pd.DataFrame, window: int = 20) -> pd.DataFrame:
    """Population standard deviation of the close (two-pass).

    Parameters:
        window: look-back (integer >= 2, default 20).

    Formula: stddev = sqrt(mean((close_i - SMA(close))^2)) over the window (ddof 0)

    TA-Lib: STDDEV(timeperiod=window, nbdev=1).
    """
    window = check_int("window", window, minimum=2)
    (close,) = columns(bars, "close")
    return frame(bars, stddev=rolling_std(close, window))
