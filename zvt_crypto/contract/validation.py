"""Checks run on every write, before anything touches the database.

A batch with any offending row is rejected whole with :class:`InvalidDataError`, which names how many rows
failed, why, and shows the first ones. Checks are vectorised: they cost a few ms per million rows.

Every write path (import, recorders, factors, backtests) goes through here, so these hold for every table:

* times are epoch ms from 1700 to 2100; a value below 1e11 in magnitude is epoch seconds (1e11 s is the
  year 5138, 1e11 ms is 1973-03-03) — the unit is told by magnitude, never by date, so stock history from
  before Bitcoin is valid;
* numbers are finite, and sane: prices at most ``MAX_PRICE``, every other number within ±``MAX_NUMBER``;
* bars (``closed``) do not open after the bar that is open now, by the clock passed as ``now_ms``
  (the wall clock by default; a recorder may pass the venue's, a test its own).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Float

from zvt_crypto.contract.errors import InvalidDataError
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.schema import Schema, UtcMillis
from zvt_crypto.contract.timeutil import now_ms as wall_clock_ms
from zvt_crypto.contract.timeutil import to_datetime

# Epoch ms below this magnitude are epoch seconds (the importer reads them so): 1e11 ms is 1973-03-03, 1e11 s
# the year 5138. Fix: the lower bound used to be 2009-01-03 (the first Bitcoin block), which told the unit by
# date and rejected valid stock and FX history in ms (backtesting's GOOG.csv starts in 2004).
SECONDS_BELOW = 1e11
# 1700-01-01: pandas' nanosecond times end at 1677-09-21, so older values would wrap around when read back.
EARLIEST_MS = -8_520_336_000_000
# µs/ns epochs (1.7e15, 1.7e18) would be bars tens of thousands of years ahead. 2100-01-01 is the upper bound.
LATEST_MS = 4_102_444_800_000
# The largest real quotes are ~3e9 (BTC in VND or IDR); 1e15 leaves a margin of 10^5 and stays below 2^53
# (9.0e15), above which float64 cannot tell neighbouring whole prices apart. A larger "price" is a unit or parsing
# error (1e308 passes a finiteness test, and overflows to inf in the first product).
MAX_PRICE = 1e15
PRICE_COLUMNS = frozenset({
    "open", "high", "low", "close", "price", "mark_price", "best_bid", "best_ask", "entry_price", "exit_price",
    "fill_price",
})
# Other numbers (volumes of coins with 1e17 supply, limits, factor values) have no natural scale; ±1e100 keeps a
# product of any three stored numbers (price × amount × contract size, a variance's squares) finite.
MAX_NUMBER = 1e100
MAX_SHOWN = 5

Check = Callable[[pd.DataFrame], "list[tuple[str, np.ndarray]]"]


def _aligned(frame: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    times = frame["timestamp"].to_numpy()
    bad = np.zeros(len(frame), dtype=bool)
    for level, rows in _per_level(frame):
        bad[rows] = ~level.is_aligned(times[rows])
    return [("timestamp not aligned to its level's grid", bad)]


def _ohlc(frame: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    o, h, low, c = (frame[name].to_numpy(dtype=float) for name in ("open", "high", "low", "close"))
    body_low, body_high = np.minimum(o, c), np.maximum(o, c)
    with np.errstate(invalid="ignore"):
        return [
            ("low above min(open, close)", low > body_low),
            ("high below max(open, close)", h < body_high),
            ("price not positive", low <= 0),
        ]


def _volume(frame: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    out = [("negative volume", frame["volume"].to_numpy(dtype=float) < 0)]
    for name in ("quote_volume", "trade_count"):
        if name in frame:
            out.append((f"negative {name}", pd.to_numeric(frame[name]).to_numpy(dtype=float) < 0))
    return out


def _positive_price(frame: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    return [
        ("price not positive", frame["price"].to_numpy(dtype=float) <= 0),
        ("negative amount", frame["amount"].to_numpy(dtype=float) < 0),
    ]


def _per_level(frame: pd.DataFrame) -> "list[tuple[Level, np.ndarray | slice]]":
    """(level, rows) pairs of a leveled frame; a single-level batch (the usual one) needs no masks."""
    levels = pd.unique(frame["level"])
    if len(levels) == 1:
        return [(Level.parse(levels[0]), slice(None))]
    return [(Level.parse(text), (frame["level"] == text).to_numpy()) for text in levels]


def _opened(frame: pd.DataFrame, now_ms: int) -> list[tuple[str, np.ndarray]]:
    """Bars opening after the bar that is open at ``now_ms`` cannot exist yet: a future date (a stray 2029 bar
    stalls resume: recording would continue after it) or a time zone / unit mix-up."""
    times = frame["timestamp"].to_numpy(dtype="int64")
    bad = np.zeros(len(frame), dtype=bool)
    for level, rows in _per_level(frame):
        bad[rows] = times[rows] > level.floor(now_ms)
    now = to_datetime(now_ms).strftime("%Y-%m-%d %H:%M")
    return [(f"opens after the current bar by the clock ({now} UTC): drop the future rows or fix the file's times",
             bad)]


def _entity(frame: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    expected = [
        entity_id(exchange, symbol, kind)
        for exchange, symbol, kind in zip(frame["exchange"], frame["symbol"], frame["entity_type"], strict=True)
    ]
    return [("entity_id does not match exchange, symbol and type", frame["entity_id"].to_numpy() != np.array(expected))]


CHECKS: dict[str, Check] = {
    "aligned": _aligned,
    "ohlc": _ohlc,
    "volume": _volume,
    "positive_price": _positive_price,
    "entity": _entity,
}
# Checks that need the clock: called with the frame and ``now_ms``.
CLOCKED_CHECKS: dict[str, Callable[[pd.DataFrame, int], "list[tuple[str, np.ndarray]]"]] = {"closed": _opened}


def _required_columns(schema: type[Schema]) -> list[str]:
    return [
        column.name
        for column in schema.__table__.columns
        if not column.nullable and column.default is None and column.server_default is None
    ]


def _times(name: str, values: np.ndarray) -> list[tuple[str, np.ndarray]]:
    with np.errstate(invalid="ignore"):
        return [
            (f"{name} looks like epoch seconds (|value| < 1e11), not ms", np.abs(values) < SECONDS_BELOW),
            (f"{name} before 1700 (not a market time: wrong unit?)", values < EARLIEST_MS),
            (f"{name} after 2100 (microseconds instead of ms?)", values >= LATEST_MS),
        ]


def _numbers(schema: type[Schema], frame: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """Fix: ``inf`` and ``1e308`` were stored (and broke every sum and product downstream). Empty cells are
    the required-column check's business; text that is no number is reported by the value checks."""
    out = []
    for column in schema.__table__.columns:
        if column.name not in frame or isinstance(column.type, UtcMillis):
            continue
        if not isinstance(column.type, (Float, BigInteger)):
            continue
        values = pd.to_numeric(frame[column.name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        magnitude = np.abs(values)
        with np.errstate(invalid="ignore"):
            out.append((f"{column.name} is infinite", np.isinf(values)))
            if column.name in PRICE_COLUMNS:
                too_big = np.isfinite(values) & (magnitude > MAX_PRICE)
                out.append((f"{column.name} above {MAX_PRICE:.0e}, not a price (a unit or parsing error?)", too_big))
            else:
                too_big = np.isfinite(values) & (magnitude > MAX_NUMBER)
                out.append((f"{column.name} beyond ±{MAX_NUMBER:.0e}, not a real quantity", too_big))
    return out


class RejectedRowsError(InvalidDataError):
    """Rows unfit for their table: how many (``rejected``) and the first of them with a ``reason`` column
    (``first``), for callers that answer with data rather than the message (the API's 422)."""

    def __init__(self, message: str, *, rejected: int, first: pd.DataFrame) -> None:
        super().__init__(message)
        self.rejected = rejected
        self.first = first


def validate_frame(schema: type[Schema], frame: pd.DataFrame, *, now_ms: int | None = None) -> None:
    """Raise :class:`InvalidDataError` if any row of the (normalised) ``frame`` is unfit for ``schema``.

    ``now_ms`` is the clock bars are checked against (they must not open after the bar open at ``now_ms``);
    the wall clock by default."""
    problems: list[tuple[str, np.ndarray]] = []
    missing = [name for name in _required_columns(schema) if name not in frame]
    if missing:
        raise InvalidDataError(
            f"{schema.__name__}: missing required column(s) {', '.join(missing)}; nothing was written"
        )
    for name in _required_columns(schema):
        problems.append((f"{name} is empty (NaN/None)", frame[name].isna().to_numpy()))
    for column in schema.__table__.columns:
        if isinstance(column.type, UtcMillis) and column.name in frame:
            values = pd.to_numeric(frame[column.name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            problems.extend(_times(column.name, values))
    problems.extend(_numbers(schema, frame))
    if not any(mask.any() for _, mask in problems):  # value checks assume the required columns are filled
        for check in schema.__validators__:
            try:
                if check in CLOCKED_CHECKS:
                    problems.extend(CLOCKED_CHECKS[check](frame, wall_clock_ms() if now_ms is None else now_ms))
                else:
                    problems.extend(CHECKS[check](frame))
            except (ValueError, TypeError) as exc:
                # Fix: non-numeric values (text in a price column) crashed the check with a bare ValueError.
                raise InvalidDataError(
                    f"{schema.__name__}: the {check!r} check cannot read the values ({exc}); fix the column types. "
                    "Nothing was written"
                ) from None
    _raise_if_bad(schema, frame, problems)


def _raise_if_bad(schema: type[Schema], frame: pd.DataFrame, problems: list[tuple[str, np.ndarray]]) -> None:
    bad = np.zeros(len(frame), dtype=bool)
    reasons = pd.Series("", index=frame.index, dtype=object)
    counts: dict[str, int] = {}
    for reason, mask in problems:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            counts[reason] = int(mask.sum())
            reasons[mask & ~bad] = reason
            bad |= mask
    if not bad.any():
        return
    shown = frame.loc[bad].head(MAX_SHOWN).copy()
    if "timestamp" in shown:
        # Fix: ms_to_index raised on a missing timestamp (ValueError instead of InvalidDataError) and wrapped
        # far-off values around silently; show each value as a UTC time when it is one, else as it is.
        shown["timestamp"] = [_shown_time(value) for value in shown["timestamp"]]
    shown.insert(0, "reason", reasons[bad].head(MAX_SHOWN))
    summary = "; ".join(f"{reason}: {count}" for reason, count in counts.items())
    raise RejectedRowsError(
        f"{schema.__name__}: {int(bad.sum())} of {len(frame)} rows rejected ({summary}); nothing was written. "
        f"First offending rows:\n{shown.to_string(index=False)}",
        rejected=int(bad.sum()), first=shown,
    )


def _shown_time(value: object) -> object:
    """Epoch ms as a UTC time for an error message; missing or out-of-range values are shown unchanged."""
    if pd.isna(value):
        return value
    try:
        return to_datetime(int(value))  # type: ignore[call-overload]  # any cell: a failing int() is caught
    except (TypeError, ValueError, OverflowError, OSError):
        return value
