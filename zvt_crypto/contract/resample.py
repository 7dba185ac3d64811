"""Exact resampling of bars to a higher level, from complete intervals only.

A target bar is built only when every source bar of its interval is present (e.g. all 60 one-minute bars
of an hour): first open, max high, min low, last close, summed volumes. ``quote_volume`` and
``trade_count`` are summed only where every source bar has them, else left empty — never a partial sum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.timeutil import ms_to_index, series_to_ms

_OPTIONAL_SUMS = ("quote_volume", "trade_count")


def resample_bars(frame: pd.DataFrame, source: Level | str, target: Level | str) -> pd.DataFrame:
    """Build ``target`` bars from ``source`` bars.

    ``frame`` is indexed ``(entity_id, timestamp)`` as ``Bar.query_data`` returns it (or has those columns);
    the result has the same shape, with incomplete intervals left out.

    >>> hourly = resample_bars(minute_bars, "1m", "1h")  # doctest: +SKIP
    """
    src, tgt = Level.parse(source), Level.parse(target)
    if src == tgt or not src.divides(tgt):
        raise InvalidInputError(f"cannot build {tgt} bars from {src} bars; the source level must divide the target")
    df = frame.reset_index() if "entity_id" not in frame.columns else frame.reset_index(drop=True)
    missing = [name for name in ("entity_id", "timestamp", "open", "high", "low", "close", "volume") if name not in df]
    if missing:
        raise InvalidInputError(f"bars to resample lack column(s) {', '.join(missing)}")
    columns = ["entity_id", "timestamp", "open", "high", "low", "close", "volume"]
    optional = [name for name in _OPTIONAL_SUMS if name in df]
    if df.empty:
        return pd.DataFrame(columns=columns[2:] + optional, index=pd.MultiIndex.from_arrays([[], []],
                            names=["entity_id", "timestamp"]))
    ms = series_to_ms(df["timestamp"])
    if not src.is_aligned(ms).all():
        raise InvalidInputError(f"some bars are not aligned to the {src} grid; are they really {src} bars?")
    df = df.assign(_ms=ms, _bucket=ms - (ms - tgt.anchor_ms) % tgt.ms).sort_values(["entity_id", "_ms"])
    grouped = df.groupby(["entity_id", "_bucket"], sort=True)
    out = grouped.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
        _count=("_ms", "size"),
        _unique=("_ms", "nunique"),
    )
    for name in optional:
        complete = grouped[name].count().to_numpy() == out["_count"].to_numpy()
        sums = grouped[name].sum().astype(float).to_numpy()
        out[name] = np.where(complete, sums, np.nan)
        if name == "trade_count":
            out[name] = out[name].astype("Int64")
    per_bar = tgt.ms // src.ms
    if (out["_count"] != out["_unique"]).any():
        raise InvalidInputError("duplicate source bars (same entity and timestamp); deduplicate before resampling")
    out = out[out["_count"] == per_bar].drop(columns=["_count", "_unique"])
    entity = out.index.get_level_values(0)
    stamps = ms_to_index(out.index.get_level_values(1).to_numpy())
    out.index = pd.MultiIndex.from_arrays([entity, stamps], names=["entity_id", "timestamp"])
    return out
