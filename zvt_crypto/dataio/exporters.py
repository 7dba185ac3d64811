"""Write stored bars to CSV or Parquet files that :func:`zvt_crypto.dataio.importers.import_bars` reads back.

Columns: ``timestamp`` (bar open time; ISO-8601 UTC text such as ``2024-01-01T00:00:00Z`` in CSV, a UTC
timestamp in Parquet), ``open``, ``high``, ``low``, ``close``, ``volume``, then ``quote_volume`` and
``trade_count`` when any bar has them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.store import Store, get_store
from zvt_crypto.contract.timeutil import TimeLike, iso, iso_texts, to_ms

EXPORT_COLUMNS: tuple[str, ...] = ("timestamp", "open", "high", "low", "close", "volume")
OPTIONAL_COLUMNS: tuple[str, ...] = ("quote_volume", "trade_count")
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def export_format(out: Path) -> str:
    """``csv`` or ``parquet`` from the extension of ``out`` (``.csv``, ``.csv.gz``, ``.parquet``, ``.pq``)."""
    suffixes = [s.lower() for s in out.suffixes]
    if suffixes[-2:] == [".csv", ".gz"]:
        return "csv"
    fmt = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise InvalidInputError(
            f"cannot export to {out}: unknown extension {out.suffix or '(none)'!r}; use .csv, .csv.gz or .parquet"
        )
    return fmt


def bars_for_export(frame: pd.DataFrame) -> pd.DataFrame:
    """The export columns of a ``Bar.query_data`` frame (optional columns only when any value is present)."""
    flat = frame.reset_index()
    columns = [*EXPORT_COLUMNS, *(name for name in OPTIONAL_COLUMNS if name in flat and flat[name].notna().any())]
    out = flat[columns].copy()
    out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True).dt.as_unit("ms")
    return out


def export_bars(
    store: Store | str,
    *,
    exchange: str,
    symbol: str,
    level: Level | str,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    out: str | Path,
    kind: str | None = None,
) -> int:
    """Write the ``level`` bars of ``symbol`` on ``exchange`` between ``start`` and ``end`` (inclusive open times)
    to ``out`` (CSV or Parquet by extension) and return the number of bars written.

    The file is written to a temporary name and renamed, so ``out`` is never left half-written.
    ``kind`` (``'pair'`` / ``'perp'``) overrides the type implied by ``symbol`` as in ``import_bars``.
    """
    from zvt_crypto.domain import Bar

    out = Path(out).expanduser()
    fmt = export_format(out)
    if kind is not None and kind not in ("pair", "perp"):
        raise InvalidInputError(f"unknown kind {kind!r}; use 'pair' (spot) or 'perp' (perpetual), or leave it out")
    level = Level.parse(level)
    eid = entity_id(exchange, symbol, kind)  # type: ignore[arg-type]  # kind checked just above
    frame = Bar.query_data(entity_ids=[eid], level=level, start_timestamp=start, end_timestamp=end,
                           store=get_store(store))
    if frame.empty:
        since = iso(to_ms(start)) if start is not None else "the first bar"
        until = iso(to_ms(end)) if end is not None else "the last bar"
        raise InvalidInputError(
            f"no {level} bars found for {eid} from {since} to {until}; nothing was exported. "
            "Run `zvt-crypto coverage` to see which entities, levels and ranges the store holds"
        )
    bars = bars_for_export(frame)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        if fmt == "csv":
            text = bars.assign(timestamp=iso_texts(bars["timestamp"]))
            text.to_csv(partial, index=False, compression="gzip" if out.suffix.lower() == ".gz" else None)
        else:
            bars.to_parquet(partial, index=False)
        os.replace(partial, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InvalidInputError(f"cannot write {out}: {exc}; check the folder exists and is writable") from None
    return len(bars)
