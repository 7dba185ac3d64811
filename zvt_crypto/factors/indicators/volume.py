"""Volume indicators: OBV, MFI, session VWAP, VWMA, CMF, A/D line, Chaikin oscillator, force index, ease of movement,
volume-price trend, negative volume index, PVO."""

from __future__ import annotations

import numpy as np
import pandas as pd
from ta.momentum import PercentageVolumeOscillator
from ta.volume import AccDistIndexIndicator, ForceIndexIndicator, VolumePriceTrendIndicator

from zvt_crypto.contract.levels import DAY_MS, WEEK_MS
from zvt_crypto.factors.indicators._core import (
    Array,
    check_choice,
    check_float,
    check_int,
    check_less,
    columns,
    diff,
    divide,
    ema_span,
    frame,
    kernel,
    rolling_mean,
    rolling_sum,
    settle_span,
    shift,
)
from zvt_crypto.factors.indicators.spec import indicator


@indicator(outputs=("obv",), warmup=lambda: 1, category="volume", cumulative=("obv",))
def obv(bars: pd.DataFrame) -> pd.DataFrame:
    """On-balance volume: running sum of the volume signed by the close's direction.

    (``ta``'s OnBalanceVolumeIndicator adds the volume when the close is unchanged; here it adds nothing.)

    Parameters: none.

    Formula: obv_t = obv_{t-1} + sign(close_t - close_{t-1}) * volume_t, obv_0 = volume_0

    TA-Lib: OBV.
    """
    close, volume = columns(bars, "close", "volume")
    return frame(bars, obv=_obv_kernel(np.ascontiguousarray(close), np.ascontiguousarray(volume)))


@kernel
def _obv_kernel(close: Array, volume: Array) -> Array:  # pragma: no cover - compiled
    """``cumsum(sign(diff(close)) * volume)`` with the first sign 1, in one pass (the same additions). The sign is
    computed without branches: a rising or falling close is a coin flip the CPU cannot predict."""
    n = len(close)
    out = np.empty(n)
    if n == 0:
        return out
    total = 1.0 * volume[0]
    out[0] = total
    current, previous, volumes = close[1:], close[:-1], volume[1:]
    for i in range(n - 1):
        change = current[i] - previous[i]
        direction = (1.0 if change > 0 else 0.0) - (1.0 if change < 0 else 0.0)
        if np.isnan(change):
            direction = np.nan
        total += direction * volumes[i]
        out[i + 1] = total
    return out


@indicator(outputs=("mfi",), warmup=lambda window: window + 1, category="volume")
def mfi(bars: pd.DataFrame, window: int = 14) -> pd.DataFrame:
    """Money flow index: a volume-weighted RSI of the typical price, 0-100. Vectorised (``ta``'s loops).

    Parameters:
        window: look-back (integer >= 1, default 14).

    Formula: tp = (high + low + close) / 3; flow = tp * volume, positive when tp rises, negative when it falls
    (a change within 1e-14 (|tp_t| + |tp_{t-1}|), the rounding of the mean, is no move, as in TA-Lib);
    mfi = 100 sum positive / (sum positive + sum negative) over window bars (50 when both are 0)

    TA-Lib: MFI(timeperiod=window) (TA-Lib gives 0 when both sums are 0).
    """
    window = check_int("window", window)
    high, low, close, volume = columns(bars, "high", "low", "close", "volume")
    rising, falling = _money_flows(*(np.ascontiguousarray(a) for a in (high, low, close, volume)))
    positive = rolling_sum(rising, window)
    both = rolling_sum(falling, window)
    both += positive  # in place from here: each 1M-bar temporary is 8 MB of fresh pages
    flat = both == 0  # no flow either way (positive is then 0, not NaN): the neutral 50
    np.divide(positive, both, out=both, where=~flat)
    both[flat] = 0.5
    both *= 100.0
    return frame(bars, mfi=both)


@kernel
def _money_flows(high: Array, low: Array, close: Array, volume: Array) -> tuple[Array, Array]:  # pragma: no cover
    """MFI's money flow (tp * volume, tp = (high + low + close) / 3) on bars whose tp rose (first array) or fell
    (second), 0 otherwise; a change within 1e-14 (|tp_t| + |tp_{t-1}|), the rounding of the mean, is no move, as
    in TA-Lib. NaN on the first bar and wherever tp or the flow is NaN."""
    n = len(close)
    rising = np.empty(n)
    falling = np.empty(n)
    for t in range(n):  # the typical prices first, in a loop numba vectorises (the division is the cost)
        falling[t] = (high[t] + low[t] + close[t]) / 3.0
    previous = np.nan
    for t in range(n):
        tp = falling[t]
        change = tp - previous
        if abs(change) <= 1e-14 * (abs(tp) + abs(previous)):
            change = 0.0
        flow = tp * volume[t] + 0.0 * change
        nan = 0.0 * change
        rising[t] = (flow if change > 0 else 0.0) + nan
        falling[t] = (flow if change < 0 else 0.0) + nan
        previous = tp
    return rising, falling


_SESSIONS = {"1d": (DAY_MS, 0), "1w": (WEEK_MS, 4 * DAY_MS)}  # length, anchor (weeks start Monday 00:00 UTC)
_MINUTES = {"1d": 1440, "1w": 7 * 1440}


@indicator(outputs=("vwap",), warmup=lambda anchor: _MINUTES.get(anchor), category="volume")
def vwap(bars: pd.DataFrame, anchor: str = "1d") -> pd.DataFrame:
    """Session VWAP of the typical price, reset at each UTC day (or Monday 00:00 UTC week) from the bar times.

    Warm-up: a session has at most 1440 (1d) or 10080 (1w) bars at the finest level (1m), so that many bars of
    history always reach back to the session start, at any level. (``ta``'s VolumeWeightedAveragePrice is a
    rolling 14-bar window, not a session VWAP.)

    Parameters:
        anchor: session, "1d" (UTC day) or "1w" (UTC week from Monday) (default "1d").

    Formula: vwap_t = sum(tp * volume) / sum(volume) over the bars of t's session up to t, tp = (high+low+close)/3
    (tp itself while the session's volume is 0)

    TA-Lib: VWAP accumulates from the first bar without resets: equal within one session.
    """
    anchor = check_choice("anchor", anchor, tuple(_SESSIONS))
    high, low, close, volume = columns(bars, "high", "low", "close", "volume")
    tp = (high + low + close) / 3.0
    if not len(tp):
        return frame(bars, vwap=tp)
    length, origin = _SESSIONS[anchor]
    times = pd.DatetimeIndex(bars.index).as_unit("ms").asi8
    session = (times - origin) // length
    sums = pd.DataFrame({"pv": tp * volume, "v": volume}).groupby(session, sort=False).cumsum()
    weighted, total = sums["pv"].to_numpy(), sums["v"].to_numpy()
    return frame(bars, vwap=np.where(total == 0, tp, divide(weighted, total, np.nan)))


@indicator(outputs=("vwma",), warmup=lambda window: window, category="volume")
def vwma(bars: pd.DataFrame, window: int = 20) -> pd.DataFrame:
    """Volume-weighted moving average of the close.

    Parameters:
        window: look-back (integer >= 1, default 20).

    Formula: vwma = sum(close * volume) / sum(volume) over window bars (the SMA when the volume is 0)

    TA-Lib: VWMA(timeperiod=window).
    """
    window = check_int("window", window)
    close, volume = columns(bars, "close", "volume")
    total = rolling_sum(volume, window)
    weighted = divide(rolling_sum(close * volume, window), total, np.nan)
    return frame(bars, vwma=np.where(total == 0, rolling_mean(close, window), weighted))


def money_flow_multiplier(high: Array, low: Array, close: Array) -> Array:
    """((close - low) - (high - close)) / (high - low), 0 when high = low."""
    return divide((close - low) - (high - close), high - low, 0.0)


@indicator(outputs=("cmf",), warmup=lambda window: window, category="volume")
def cmf(bars: pd.DataFrame, window: int = 20) -> pd.DataFrame:
    """Chaikin money flow, -1 to 1.

    Parameters:
        window: look-back (integer >= 1, default 20).

    Formula: mfv = volume ((close - low) - (high - close)) / (high - low) (0 when high = low);
    cmf = sum mfv / sum volume over window bars (0 when the volume is 0)

    TA-Lib: CMF(timeperiod=window).
    """
    window = check_int("window", window)
    high, low, close, volume = columns(bars, "high", "low", "close", "volume")
    flow = money_flow_multiplier(high, low, close) * volume
    return frame(bars, cmf=divide(rolling_sum(flow, window), rolling_sum(volume, window), 0.0))


def ad_values(bars: pd.DataFrame) -> Array:
    columns(bars, "high", "low", "close", "volume")
    line = AccDistIndexIndicator(*(bars[name].astype("float64") for name in ("high", "low", "close", "volume")))
    return line.acc_dist_index().to_numpy()


@indicator(outputs=("ad",), warmup=lambda: 1, category="volume", cumulative=("ad",))
def ad(bars: pd.DataFrame) -> pd.DataFrame:
    """Accumulation/distribution line (Chaikin) (``ta.volume.AccDistIndexIndicator``).

    Parameters: none.

    Formula: ad_t = ad_{t-1} + volume_t ((close - low) - (high - close)) / (high - low) (0 when high = low)

    TA-Lib: AD.
    """
    return frame(bars, ad=ad_values(bars))


@indicator(outputs=("adosc",), warmup=lambda fast, slow: settle_span(slow), category="volume")
def adosc(bars: pd.DataFrame, fast: int = 3, slow: int = 10) -> pd.DataFrame:
    """Chaikin A/D oscillator: difference of two EMAs of the A/D line.

    The EMAs are seeded with the first A/D value, so the level of the running sum cancels out.

    Parameters:
        fast: fast EMA span (integer >= 1, default 3).
        slow: slow EMA span (integer > fast, default 10).

    Formula: adosc = EMA(ad, fast) - EMA(ad, slow)

    TA-Lib: ADOSC(fastperiod=fast, slowperiod=slow) (same seed: equal from the first value).
    """
    fast = check_int("fast", fast)
    slow = check_int("slow", slow)
    check_less("fast", fast, "slow", slow)
    line = ad_values(bars)
    return frame(bars, adosc=ema_span(line, fast) - ema_span(line, slow))


@indicator(outputs=("force_index",), warmup=lambda window: 1 + settle_span(window), category="volume")
def force_index(bars: pd.DataFrame, window: int = 13) -> pd.DataFrame:
    """Force index (Elder) (``ta.volume.ForceIndexIndicator``).

    Parameters:
        window: EMA span (integer >= 1, default 13).

    Formula: force_index = EMA((close_t - close_{t-1}) * volume_t, window)

    TA-Lib: EFI(timeperiod=window) (equal after the warm-up).
    """
    window = check_int("window", window)
    columns(bars, "close", "volume")
    value = ForceIndexIndicator(bars["close"].astype("float64"), bars["volume"].astype("float64"), window)
    return frame(bars, force_index=value.force_index().to_numpy())


@indicator(outputs=("eom",), warmup=lambda window, scale: window + 1, category="volume")
def eom(bars: pd.DataFrame, window: int = 14, scale: float = 1e8) -> pd.DataFrame:
    """Ease of movement (Arms), averaged.

    Parameters:
        window: SMA window (integer >= 1, default 14).
        scale: volume divisor of the box ratio (number > 0, default 1e8).

    Formula: emv = ((high + low)/2 - (high_{t-1} + low_{t-1})/2) * (high - low) * scale / volume (0 when the
    volume is 0); eom = SMA(emv, window)
    """
    window = check_int("window", window)
    scale = check_float("scale", scale)
    high, low, volume = columns(bars, "high", "low", "volume")
    midpoint = (high + low) / 2.0
    emv = divide(diff(midpoint) * (high - low) * scale, volume, 0.0)
    return frame(bars, eom=rolling_mean(emv, window))


@indicator(outputs=("vpt",), warmup=lambda: 1, category="volume", cumulative=("vpt",))
def vpt(bars: pd.DataFrame) -> pd.DataFrame:
    """Volume-price trend: running sum of volume times the close's relative change.

    Computed by ``ta.volume.VolumePriceTrendIndicator`` (its NaN first value is taken as 0).

    Parameters: none.

    Formula: vpt_t = vpt_{t-1} + volume_t (close_t - close_{t-1}) / close_{t-1}, vpt_0 = 0

    TA-Lib: PVT.
    """
    columns(bars, "close", "volume")
    value = VolumePriceTrendIndicator(bars["close"].astype("float64"), bars["volume"].astype("float64"))
    line = value.volume_price_trend().to_numpy(copy=True)
    if len(line):
        line[0] = 0.0  # no previous close: no contribution (``ta`` leaves NaN)
    return frame(bars, vpt=line)


def _volume_index(bars: pd.DataFrame, start: float, falling: bool) -> Array:
    close, volume = columns(bars, "close", "volume")
    previous = shift(volume)
    counted = volume < previous if falling else volume > previous
    return start * np.cumprod(np.where(counted, close / shift(close), 1.0))


@indicator(outputs=("nvi",), warmup=lambda start: None, category="volume")
def nvi(bars: pd.DataFrame, start: float = 1000.0) -> pd.DataFrame:
    """Negative volume index: compounds the close's returns on bars whose volume fell.

    A running product, so it needs the whole history.

    Parameters:
        start: value at the first bar (number > 0, default 1000).

    Formula: nvi_t = nvi_{t-1} * close_t / close_{t-1} if volume_t < volume_{t-1}, else nvi_{t-1}; nvi_0 = start

    TA-Lib: NVI (start 1000).
    """
    start = check_float("start", start)
    return frame(bars, nvi=_volume_index(bars, start, falling=True))


@indicator(outputs=("pvi",), warmup=lambda start: None, category="volume")
def pvi(bars: pd.DataFrame, start: float = 1000.0) -> pd.DataFrame:
    """Positive volume index: compounds the close's returns on bars whose volume rose.

    A running product, so it needs the whole history.

    Parameters:
        start: value at the first bar (number > 0, default 1000).

    Formula: pvi_t = pvi_{t-1} * close_t / close_{t-1} if volume_t > volume_{t-1}, else pvi_{t-1}; pvi_0 = start

    TA-Lib: PVI (start 1000).
    """
    start = check_float("start", start)
    return frame(bars, pvi=_volume_index(bars, start, falling=False))


@indicator(outputs=("pvo", "signal", "hist"),
           warmup=lambda fast, slow, signal: settle_span(slow) + settle_span(signal), category="volume")
def pvo(bars: pd.DataFrame, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """Percentage volume oscillator (``ta.momentum.PercentageVolumeOscillator``).

    Parameters:
        fast: fast EMA span (integer >= 1, default 12).
        slow: slow EMA span (integer > fast, default 26).
        signal: signal EMA span (integer >= 1, default 9).

    Formula: pvo = 100 (EMA(volume, fast) - EMA(volume, slow)) / EMA(volume, slow); signal = EMA(pvo, signal);
    hist = pvo - signal

    TA-Lib: PVO(fastperiod=fast, slowperiod=slow, matype=1) -> pvo (equal after the warm-up).
    """
    fast = check_int("fast", fast)
    slow = check_int("slow", slow)
    signal = check_int("signal", signal)
    check_less("fast", fast, "slow", slow)
    columns(bars, "volume")
    p = PercentageVolumeOscillator(bars["volume"].astype("float64"), window_slow=slow, window_fast=fast,
                                   window_sign=signal)
    return frame(bars, pvo=p.pvo().to_numpy(), signal=p.pvo_signal().to_numpy(), hist=p.pvo_hist().to_numpy())
