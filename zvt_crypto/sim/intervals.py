"""Binance kline intervals and their UTC grid.

Why a module of its own: the data engine, the REST layer and the tests must agree on where a bar opens. Fixed
intervals are anchored at the Unix epoch, ``1w`` on Mondays 00:00 UTC (as Binance and ``Level.w1``), ``1M`` on
calendar months. Times are integer epoch milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
_MONDAY_ANCHOR_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday


@dataclass(frozen=True)
class Interval:
    """A kline interval; ``ms is None`` marks calendar months."""

    name: str
    ms: int | None
    anchor: int = 0

    @property
    def intraday(self) -> bool:
        """True when bars are built from 1m rows within one UTC day (the interval divides a day)."""
        return self.ms is not None and self.ms < DAY_MS and DAY_MS % self.ms == 0

    def floor(self, ts: int) -> int:
        """Open time of the bar containing ``ts``."""
        if self.ms is None:
            month = np.datetime64(int(ts), "ms").astype("datetime64[M]")
            return int(month.astype("datetime64[ms]").astype(np.int64))
        return ts - (ts - self.anchor) % self.ms

    def ceil(self, ts: int) -> int:
        """First open time at or after ``ts``."""
        floored = self.floor(ts)
        return floored if floored == ts else self.shift(floored, 1)

    def shift(self, open_ms: int, bars: int) -> int:
        """Open time ``bars`` bars after (or before, if negative) the bar opening at ``open_ms``."""
        if self.ms is None:
            month = np.datetime64(int(open_ms), "ms").astype("datetime64[M]") + bars
            return int(month.astype("datetime64[ms]").astype(np.int64))
        return open_ms + bars * self.ms

    def floor_array(self, ts: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`floor`."""
        ts = np.asarray(ts, dtype=np.int64)
        if self.ms is None:
            return ts.astype("datetime64[ms]").astype("datetime64[M]").astype("datetime64[ms]").astype(np.int64)
        return ts - (ts - self.anchor) % self.ms


def _fixed(name: str, ms: int, anchor: int = 0) -> Interval:
    return Interval(name, ms, anchor)


#: Every kline interval Binance serves on REST except ``1s``.
INTERVALS: dict[str, Interval] = {
    iv.name: iv
    for iv in (
        _fixed("1m", MINUTE_MS),
        _fixed("3m", 3 * MINUTE_MS),
        _fixed("5m", 5 * MINUTE_MS),
        _fixed("15m", 15 * MINUTE_MS),
        _fixed("30m", 30 * MINUTE_MS),
        _fixed("1h", HOUR_MS),
        _fixed("2h", 2 * HOUR_MS),
        _fixed("4h", 4 * HOUR_MS),
        _fixed("6h", 6 * HOUR_MS),
        _fixed("8h", 8 * HOUR_MS),
        _fixed("12h", 12 * HOUR_MS),
        _fixed("1d", DAY_MS),
        _fixed("3d", 3 * DAY_MS),
        _fixed("1w", WEEK_MS, _MONDAY_ANCHOR_MS),
        Interval("1M", None),
    )
}

#: Periods of ``/futures/data/openInterestHist``.
OI_PERIODS: dict[str, Interval] = {
    name: INTERVALS[name] for name in ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")
}
