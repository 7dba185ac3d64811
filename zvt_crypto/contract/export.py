"""Frames written to CSV or Parquet files for users: one writer for every export (bars, trades, funding, open
interest, order books, factor values), so every file follows the same rules.

The format comes from the extension (``.csv``, ``.csv.gz``, ``.parquet``, ``.pq``); times are ISO-8601 UTC text in
CSV (to the millisecond where a time has them) and UTC timestamps in Parquet; a file is written to a temporary name
and renamed, so it is never left half-written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.timeutil import TimeLike, iso, iso_ms_texts, iso_texts, to_ms

if TYPE_CHECKING:
    import pandas as pd

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


def write_export(table: pd.DataFrame, out: Path, *, json_columns: Sequence[str] = ()) -> int:
    """Write ``table`` (a UTC ``timestamp`` column first) to ``out`` as CSV (ISO-8601 UTC text, to the millisecond
    when any time has milliseconds; ``json_columns`` as JSON text; ``.csv.gz`` compressed) or Parquet by its
    extension; returns the rows written. The file is written to a temporary name and renamed, so ``out`` is never
    left half-written."""
    fmt = export_format(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        if fmt == "csv":
            stamps = table["timestamp"]
            # to the second as every time users read, unless that would drop a time's milliseconds (trades, books)
            to_second = bool((stamps.dt.as_unit("ms").astype("int64") % 1000 == 0).all())
            text = table.assign(timestamp=iso_texts(stamps) if to_second else iso_ms_texts(stamps))
            for name in json_columns:
                text[name] = [json.dumps(value) for value in text[name]]
            text.to_csv(partial, index=False, compression="gzip" if out.suffix.lower() == ".gz" else None)
        else:
            table.to_parquet(partial, index=False)
        os.replace(partial, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InvalidInputError(f"cannot write {out}: {exc}; check the folder exists and is writable") from None
    return len(table)


def nothing_stored(what: str, whose: str, start: TimeLike | None, end: TimeLike | None, command: str) -> str:
    """The message of an export that found nothing: what, whose, the range, and the command that shows the store."""
    since = iso(to_ms(start)) if start is not None else "the first"
    until = iso(to_ms(end)) if end is not None else "the last"
    return f"no {what} found for {whose} from {since} to {until}; nothing was exported. Run `{command}` to see what " \
           "the store holds"
