"""Multi-timeframe: higher-level values on a lower level's bars, without look-ahead.

A bar is stamped with its open time, but its values are only known once it has closed. So a 4h value
stamped 08:00 becomes visible at 12:00, and a 1h bar stamped 11:00 (closing 12:00) is the first to see it::

    visible(higher bar H at lower bar L)  ⇔  H.open + higher.ms  ≤  L.open + lower.ms

>>> align_higher(ema_4h, "4h", bars_1h.index, "1h")  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.timeutil import series_to_ms
from zvt_crypto.factors.base import Factor
from zvt_crypto.factors.data import FactorInput
from zvt_crypto.factors.indicators.spec import converged


def align_higher(values: pd.DataFrame | pd.Series, higher: Level | str, index: pd.MultiIndex,
                 lower: Level | str) -> pd.DataFrame | pd.Series:
    """Reindex ``values`` (indexed ``(entity_id, timestamp)`` at ``higher``) onto ``index`` (at ``lower``):
    each lower bar gets the newest higher-level value already closed when the lower bar closes."""
    high, low = Level.parse(higher), Level.parse(lower)
    if low.ms > high.ms:
        raise InvalidInputError(f"{high} is not higher than {low}: align the lower level onto the higher one instead")
    is_series = isinstance(values, pd.Series)
    frame = values.to_frame() if is_series else values
    names = list(frame.columns)
    if frame.empty:  # no higher bar at all (none stored, too few lower bars to build one): nothing to align
        empty = pd.DataFrame(np.nan, index=index, columns=names)
        return empty[names[0]] if is_series else empty
    right = frame.reset_index()
    right["_visible"] = series_to_ms(right["timestamp"]) + high.ms
    right = right.drop(columns="timestamp").astype({"entity_id": object})
    left = pd.DataFrame({"entity_id": index.get_level_values("entity_id").astype(object),
                         "_visible": series_to_ms(index.get_level_values("timestamp")) + low.ms,
                         "_row": np.arange(len(index))})
    merged = pd.merge_asof(left.sort_values("_visible"), right.sort_values("_visible"), on="_visible",
                           by="entity_id", direction="backward")
    merged = merged.sort_values("_row")
    out = pd.DataFrame(merged[names].to_numpy(), index=index, columns=names).astype(frame.dtypes.to_dict())
    return out[names[0]] if is_series else out


def higher_bars(data: FactorInput, higher: Level) -> pd.DataFrame:
    """Stored bars at ``higher``; when none are stored, built from the main level's bars (complete ones only)."""
    from zvt_crypto.contract.resample import resample_bars

    stored = data.bars(level=higher)
    if not stored.empty:
        return stored
    main = data.bars()
    if main.empty or not data.level.divides(higher):
        return stored
    return resample_bars(main, data.level, higher)[["open", "high", "low", "close", "volume"]]


class HigherTrend(Factor):
    """Close relative to the EMA of a higher level's closes, aligned without look-ahead."""

    name = "mtf_trend"
    outputs = ("higher_ema", "distance")
    params = {"higher": "4h", "window": 20}
    category = "trend"

    def validate(self) -> None:
        Level.parse(self.p["higher"])
        if self.p["window"] < 1:
            raise InvalidInputError(f"mtf_trend: window must be ≥ 1, got {self.p['window']}")

    def warmup(self, level: Level) -> int | None:
        # the higher EMA's convergence span, in bars of the computed level
        higher = Level.parse(self.p["higher"])
        return converged(2 / (self.p["window"] + 1)) * higher.ms // level.ms

    def compute(self, data: FactorInput) -> pd.DataFrame:
        higher = Level.parse(self.p["higher"])
        if higher.ms <= data.level.ms:
            raise InvalidInputError(f"mtf_trend: higher={higher} must be above the computed level {data.level}")
        bars = data.bars()
        upper = higher_bars(data, higher)
        ema = upper["close"].groupby(level="entity_id", observed=True, sort=False).transform(
            lambda close: close.ewm(span=self.p["window"], adjust=False).mean())
        aligned = align_higher(ema.rename("higher_ema"), higher, bars.index, data.level)
        return pd.DataFrame({"higher_ema": aligned, "distance": bars["close"] / aligned - 1.0})

