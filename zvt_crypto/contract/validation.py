"""Checks run on every write, before anything touches the database.

A batch with any offending row is rejected whole with :class:`InvalidDataError`, which names how many rows
failed, why, and shows the first ones. Checks are vectorised: they cost a few ms per million rows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidDataError
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.schema import Schema, UtcMillis
from zvt_crypto.contract.timeutil import to_datetime

# 2009-01-03, the first Bitcoin block: no crypto market is older, so anything earlier is data of another
# market or a unit mistake (epoch seconds read as milliseconds).
EARLIEST_MS = 1_230_940_800_000
# Fix: the comment above promised to catch microseconds too, but only the lower bound was checked, so µs/ns
# epochs (1.7e15, 1.7e18) were stored as bars tens of thousands of years ahead. 2100-01-01 is the upper bound.
LATEST_MS = 4_102_444_800_000
MAX_SHOWN = 5

Check = Callable[[pd.DataFrame], "list[tuple[str, np.ndarray]]"]


def _aligned(frame: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    levels = pd.unique(frame["level"])
    if len(levels) == 1:  # the usual batch: one level, no per-level masks
        bad = ~Level.parse(levels[0]).is_aligned(frame["timestamp"].to_numpy())
        return [("timestamp not aligned to its level's grid", bad)]
    bad = np.zeros(len(frame), dtype=bool)
    for level_text in levels:
        rows = (frame["level"] == level_text).to_numpy()
        level = Level.parse(level_text)
        bad[rows] = ~level.is_aligned(frame.loc[rows, "timestamp"].to_numpy())
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


def _entity(frame: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    from zvt_crypto.contract.ids import entity_id

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


def _required_columns(schema: type[Schema]) -> list[str]:
    return [
        column.name
        for column in schema.__table__.columns
        if not column.nullable and column.default is None and column.server_default is None
    ]


def validate_frame(schema: type[Schema], frame: pd.DataFrame) -> None:
    """Raise :class:`InvalidDataError` if any row of the (normalised) ``frame`` is unfit for ``schema``."""
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
            values = pd.to_numeric(frame[column.name], errors="coerce").to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                early = f"{column.name} before 2009-01-03, the first crypto data (epoch seconds instead of ms?)"
                problems.append((early, values < EARLIEST_MS))
                problems.append((f"{column.name} after 2100 (microseconds instead of ms?)", values >= LATEST_MS))
    if not any(mask.any() for _, mask in problems):  # value checks assume the required columns are filled
        for check in schema.__validators__:
            try:
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
    raise InvalidDataError(
        f"{schema.__name__}: {int(bad.sum())} of {len(frame)} rows rejected ({summary}); nothing was written. "
        f"First offending rows:\n{shown.to_string(index=False)}"
    )


def _shown_time(value: object) -> object:
    """Epoch ms as a UTC time for an error message; missing or out-of-range values are shown unchanged."""
    if pd.isna(value):
        return value
    try:
        return to_datetime(int(value))  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError, OSError):
        return value
