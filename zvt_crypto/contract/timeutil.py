"""UTC time conversions. Stored timestamps are integer milliseconds since the Unix epoch (UTC).

User input may be an aware or naive ``datetime``, a ``pandas.Timestamp``, an ISO-8601 string or epoch
milliseconds, or a time relative to now (``"30d"``, ``"12h"``, ``"now"``); naive values are read as UTC (never as
local time). Output is always UTC-aware.
"""

from __future__ import annotations

import math
import numbers
import re
import time
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, TypeAlias, overload

from zvt_crypto.contract.errors import InvalidInputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# pandas and numpy are imported inside the functions that need them: defining the schemas (zvt_crypto.domain)
# must not pay for them (≈ 0.4 s and 0.1 s), only reading or writing frames does.
TimeLike: TypeAlias = "datetime | date | pd.Timestamp | str | int | float | np.integer | np.datetime64"
ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # how every time is written for users and in JSON: UTC, to the second


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_ms(value: TimeLike) -> int:
    """Epoch milliseconds (UTC) of ``value``.

    >>> to_ms("2024-01-01")
    1704067200000
    >>> to_ms("2024-01-01T01:00:00+01:00")
    1704067200000

    A relative time counts back from now (UTC): ``"30d"``, ``"12h"``, ``"90m"``, ``"2w"``, and ``"now"``.

    >>> to_ms("30d") - (now_ms() - 30 * 86_400_000) in range(-1000, 1000)
    True
    """
    if isinstance(value, bool):
        raise InvalidInputError(f"not a timestamp: {value!r}")
    if isinstance(value, numbers.Integral):  # int and numpy's integers (registered as Integral)
        return int(value)
    if isinstance(value, float) and math.isfinite(value):
        # Fix: a fractional float is epoch ms too (sub-ms part dropped); pd.Timestamp(float) would read it as
        # nanoseconds since the epoch (1704067200000.5 → 1970-01-01T00:28:24Z).
        return math.floor(value)
    if isinstance(value, str) and (ago := relative_ms(value)) is not None:
        return now_ms() - ago
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"cannot read {value!r} as a time; use ISO-8601 such as 2024-01-31 or 2024-01-31T12:00:00Z, or a time "
            f"back from now such as 30d, 12h or 2w"
        ) from exc
    if stamp is pd.NaT:
        raise InvalidInputError(f"empty time value {value!r}")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1_000_000)


_RELATIVE = re.compile(r"\s*(\d+)\s*(m|h|d|w)\s*", re.IGNORECASE)
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def relative_ms(text: str) -> int | None:
    """How far back a relative time is, in ms (``"30d"`` → 30 days, ``"now"`` → 0); None for anything else.

    >>> relative_ms("30d"), relative_ms("12h"), relative_ms("now"), relative_ms("2024-01-01")
    (2592000000, 43200000, 0, None)
    """
    if text.strip().lower() == "now":
        return 0
    match = _RELATIVE.fullmatch(text)
    return None if match is None else int(match.group(1)) * _UNIT_MS[match.group(2).lower()]


def to_datetime(ms: int) -> datetime:
    """UTC-aware ``datetime`` of epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def ms_to_index(values: np.ndarray | pd.Series) -> pd.DatetimeIndex:
    """Vectorised epoch-ms → UTC ``DatetimeIndex`` (nanosecond unit, the pandas default)."""
    import numpy as np
    import pandas as pd

    array = np.asarray(values, dtype="int64").astype("datetime64[ms]").astype("datetime64[ns]")
    return pd.DatetimeIndex(array).tz_localize("UTC")


def series_to_ms(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """Vectorised datetime-like → int64 epoch ms. Naive values are taken as UTC."""
    import pandas as pd

    stamps = pd.DatetimeIndex(pd.to_datetime(values, utc=True))
    return stamps.as_unit("ms").asi8.copy()


@overload
def iso(value: None) -> None: ...
@overload
def iso(value: TimeLike) -> str: ...
def iso(value: TimeLike | None) -> str | None:
    """ISO-8601 UTC text to the second, e.g. ``2024-01-01T00:00:00Z``, of epoch ms or any time :func:`to_ms` reads;
    ``None`` for a missing value (``None``, ``NaN``, ``NaT``).

    >>> iso(1704067200000), iso(None)
    ('2024-01-01T00:00:00Z', None)
    """
    if _missing(value):
        return None
    return to_datetime(to_ms(value)).strftime(ISO_FORMAT)


def iso_ms(value: TimeLike) -> str:
    """:func:`iso` with milliseconds, for times whose sub-second part matters (trades).

    >>> iso_ms(1704067200123)
    '2024-01-01T00:00:00.123Z'
    """
    ms = to_ms(value)
    return f"{to_datetime(ms - ms % 1000).strftime(ISO_FORMAT)[:-1]}.{ms % 1000:03d}Z"


def iso_texts(values: pd.Series | pd.DatetimeIndex) -> pd.Series | pd.Index:
    """Vectorised :func:`iso` of a datetime ``Series`` (same index: a ``Series``) or ``DatetimeIndex`` (an
    ``Index``); naive values are UTC."""
    import pandas as pd

    if isinstance(values, pd.Series):
        stamps = values.dt.tz_convert("UTC") if values.dt.tz is not None else values
        return stamps.dt.strftime(ISO_FORMAT)
    index = pd.DatetimeIndex(values)
    return (index.tz_convert("UTC") if index.tz is not None else index).strftime(ISO_FORMAT)


def iso_ms_texts(values: pd.Series) -> pd.Series:
    """Vectorised :func:`iso_ms` of a datetime ``Series``: ``2024-01-01T00:00:01.500Z`` (naive values are UTC)."""
    stamps = values.dt.tz_convert("UTC") if values.dt.tz is not None else values
    return stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"


def _missing(value: object) -> bool:
    # NaN and NaT are the only values unequal to themselves; this needs no pandas import for the common int case
    return value is None or value != value


def check_range(start_ms: int | None, end_ms: int | None) -> None:
    """Reject an inverted range with a message that says which bound to change."""
    if start_ms is not None and end_ms is not None and start_ms > end_ms:
        raise InvalidInputError(
            f"start {iso(start_ms)} is after end {iso(end_ms)}; swap them or widen the range"
        )
