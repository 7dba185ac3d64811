"""Bar levels (intervals) and their UTC grid.

A level's grid is anchored at the Unix epoch, except ``1w`` which is anchored on Mondays 00:00 UTC
(the convention of Binance and most venues). ``3d`` bars open every third day from 1970-01-01, as Binance's 3d klines
do (so 2024-01-01 opens none: its 3d bar opened 2023-12-31). Timestamps are integer milliseconds since the epoch.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from zvt_crypto.contract.errors import InvalidInputError

if TYPE_CHECKING:
    import numpy as np

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
# 1970-01-01 was a Thursday: the first Monday 00:00 UTC is four days later.
_WEEK_ANCHOR_MS = 4 * DAY_MS

_ALIASES = {
    "1min": "1m", "5min": "5m", "15min": "15m", "30min": "30m",
    "60m": "1h", "60min": "1h", "1H": "1h", "1hour": "1h", "120m": "2h", "2H": "2h", "240m": "4h", "4H": "4h",
    "360m": "6h", "6H": "6h", "720m": "12h", "12H": "12h",
    "1D": "1d", "D": "1d", "24h": "1d", "daily": "1d", "3D": "3d", "72h": "3d",
    "1W": "1w", "W": "1w", "7d": "1w", "weekly": "1w",
}


class Level(StrEnum):
    """A bar interval. ``Level.parse("1h")`` validates user input; ``str(level)`` gives ``"1h"``."""

    m1 = "1m"
    m5 = "5m"
    m15 = "15m"
    m30 = "30m"
    h1 = "1h"
    h2 = "2h"
    h4 = "4h"
    h6 = "6h"
    h12 = "12h"
    d1 = "1d"
    d3 = "3d"
    w1 = "1w"

    @classmethod
    def parse(cls, value: "Level | str") -> "Level":
        """Return the level named by ``value`` (``"1m"`` … ``"1w"``, or a common alias such as ``"1H"``).

        >>> Level.parse("4H")
        <Level.h4: '4h'>
        """
        if isinstance(value, Level):
            return value
        text = str(value).strip()
        text = _ALIASES.get(text, text)
        try:
            return cls(text)
        except ValueError:
            hint = " ('1M' is a month in ccxt; minute bars are '1m')" if text == "1M" else ""
            valid = ", ".join(level.value for level in cls)
            raise InvalidInputError(f"unknown level {value!r}{hint}; use one of: {valid}") from None

    @property
    def ms(self) -> int:
        """Length of one bar in milliseconds."""
        return _LEVEL_MS[self]

    @property
    def timeframe(self) -> str:
        """The ccxt timeframe string (identical to the value for every supported level)."""
        return self.value

    @property
    def anchor_ms(self) -> int:
        return _WEEK_ANCHOR_MS if self is Level.w1 else 0

    def floor(self, ts_ms: int) -> int:
        """Open time of the bar that contains ``ts_ms``."""
        return ts_ms - (ts_ms - self.anchor_ms) % self.ms

    def ceil(self, ts_ms: int) -> int:
        """The first grid point at or after ``ts_ms``."""
        floored = self.floor(ts_ms)
        return floored if floored == ts_ms else floored + self.ms

    def is_aligned(self, ts_ms: np.ndarray) -> np.ndarray:
        """Boolean mask of timestamps that lie on this level's grid."""
        import numpy as np

        return (np.asarray(ts_ms, dtype=np.int64) - self.anchor_ms) % self.ms == 0

    def divides(self, other: "Level") -> bool:
        """True if bars of ``other`` are made of a whole number of bars of this level on the same grid."""
        if other.ms % self.ms:
            return False
        return (other.anchor_ms - self.anchor_ms) % self.ms == 0


_LEVEL_MS = {
    Level.m1: MINUTE_MS,
    Level.m5: 5 * MINUTE_MS,
    Level.m15: 15 * MINUTE_MS,
    Level.m30: 30 * MINUTE_MS,
    Level.h1: HOUR_MS,
    Level.h2: 2 * HOUR_MS,
    Level.h4: 4 * HOUR_MS,
    Level.h6: 6 * HOUR_MS,
    Level.h12: 12 * HOUR_MS,
    Level.d1: DAY_MS,
    Level.d3: 3 * DAY_MS,
    Level.w1: WEEK_MS,
}
