"""Read OHLCV files into bar frames and import them into a store.

Supported inputs (the format is told by the extension, then by the content):

* generic CSV / Parquet / Feather OHLCV — columns found case-insensitively; the time column is named
  ``timestamp``, ``open_time``, ``datetime``, ``date``, ``time`` … or is the unnamed first column
  (``backtesting``'s ``GOOG.csv``: ``,Open,High,Low,Close,Volume``);
* Binance public-data klines (data.binance.vision): 12 columns, usually no header, zipped or not;
* freqtrade candles: ``.json`` (``[[ts_ms, open, high, low, close, volume], …]``, also ``.json.gz``) and
  ``.feather`` (``date, open, high, low, close, volume``).

Times may be date strings (naive ones are UTC) or epoch numbers; the epoch unit (s, ms, µs, ns) is read
from each value's magnitude, so Binance's 2025 switch to microseconds needs no option.
"""

from __future__ import annotations

import gzip
import json
import lzma
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from zvt_crypto.contract.errors import ConflictError, ImportFormatError, InvalidInputError
from zvt_crypto.contract.ids import check_exchange_id, check_symbol, entity_id
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.progress import OnProgress, stages
from zvt_crypto.contract.store import Store, get_store
from zvt_crypto.contract.text import shown
from zvt_crypto.contract.timeutil import to_datetime
from zvt_crypto.contract.writer import OnConflict

FORMATS: tuple[str, ...] = ("csv", "binance", "parquet", "feather", "json")
BAR_COLUMNS: tuple[str, ...] = ("timestamp", "open", "high", "low", "close", "volume")
OPTIONAL_COLUMNS: tuple[str, ...] = ("quote_volume", "trade_count")

BINANCE_KLINE_COLUMNS: tuple[str, ...] = (
    "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_asset_volume",
    "number_of_trades", "taker_buy_base", "taker_buy_quote", "ignore",
)
CCXT_OHLCV_COLUMNS: tuple[str, ...] = ("timestamp", "open", "high", "low", "close", "volume")

# Accepted header names (compared lower-cased and stripped), best first.
_TIME_NAMES = ("timestamp", "open_time", "opentime", "open time", "datetime", "date", "time", "ts")
_ALIASES: dict[str, tuple[str, ...]] = {
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close",),
    "volume": ("volume", "vol", "base_volume", "volume_base"),
    "quote_volume": (
        "quote_volume", "quote_asset_volume", "quote asset volume", "quote_av", "quotevolume", "volume_quote",
    ),
    "trade_count": ("trade_count", "number_of_trades", "number of trades", "num_trades", "trades", "count"),
}

_EXTENSIONS = {
    ".csv": "csv", ".txt": "csv", ".zip": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".feather": "feather", ".ftr": "feather", ".arrow": "feather",
    ".json": "json",
}
_COMPRESSION = (".gz", ".bz2", ".xz", ".zst")
_DELIMITERS = (",", ";", "\t", "|")
# EOFError / zlib.error / LZMAError: a compressed file cut short or corrupt. Fix: EOFError escaped, and click
# reads an EOFError as the user's Ctrl-D, so a truncated .csv.gz printed only "Aborted!".
_READ_ERRORS = (ValueError, OSError, UnicodeDecodeError, pa.ArrowException, pd.errors.ParserError, EOFError,
                zlib.error, lzma.LZMAError)

# Epoch magnitude → unit: below 1e11 seconds (until year 5138), below 1e14 ms, below 1e17 µs, else ns.
_S_MAX, _MS_MAX, _US_MAX = 1e11, 1e14, 1e17
_NS_MAX = 9.2e18  # int64 nanoseconds end in 2262


@dataclass(frozen=True)
class ImportResult:
    """What an import did: ``rows`` bars read (after dropping exact duplicates), of which ``inserted`` were new and
    ``updated`` replaced stored bars with other values; ``kept`` stored bars differed from the file and were kept
    (``on_conflict="skip"``). ``first`` / ``last`` are the open times (UTC) of the earliest and latest bar read."""

    entity_id: str
    level: str
    files: int
    rows: int
    inserted: int
    updated: int
    kept: int
    first: datetime | None
    last: datetime | None

    @property
    def changed(self) -> int:
        """Bars inserted or updated."""
        return self.inserted + self.updated

    @property
    def unchanged(self) -> int:
        """Bars read that were stored already (with the same values, or kept)."""
        return self.rows - self.changed


# -- format detection ------------------------------------------------------------------------------------------
def detect_format(path: Path) -> str:
    """The format of ``path`` from its extension, or from its first bytes when the extension is unknown."""
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in _COMPRESSION:
        suffixes.pop()
    if suffixes and suffixes[-1] in _EXTENSIONS:
        return _EXTENSIONS[suffixes[-1]]
    head = _head(path)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ARROW1"):
        return "feather"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return "json"
    first_line = text.split(b"\n", 1)[0]
    if any(sep.encode() in first_line for sep in _DELIMITERS) and _is_text(head):
        return "csv"
    raise ImportFormatError(
        f"cannot tell the format of {path}: unknown extension {path.suffix or '(none)'!r} and the content is not "
        f"recognisable; rename it (.csv, .parquet, .feather, .json) or pass fmt= one of {', '.join(FORMATS)}"
    )


def _head(path: Path, size: int = 4096) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(size)
    except OSError as exc:
        raise ImportFormatError(f"cannot read {path}: {exc}; check the path and its permissions") from None


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(data) - 4  # a multi-byte character cut by the read size
    return True


# -- reading -------------------------------------------------------------------------------------------------------
def _read_files(files: list[Path], fmt: str | None, report: OnProgress) -> pd.DataFrame:
    """The files read one after the other into one frame; progress in bytes of the files read."""
    sizes = [path.stat().st_size for path in files]
    stage, total, done = f"reading {len(files)} file(s)", sum(sizes), 0
    report(stage, 0, total)
    frames = []
    for path, size in zip(files, sizes, strict=True):
        frames.append(read_bars_file(path, fmt))
        done += size
        report(stage, done, total)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def read_bars_file(path: str | Path, fmt: str | None = None) -> pd.DataFrame:
    """Read one OHLCV file into a frame with ``timestamp`` (``datetime64[ms, UTC]``, the bar open time), ``open``,
    ``high``, ``low``, ``close``, ``volume`` and, when the file has them, ``quote_volume`` and ``trade_count``.

    ``fmt`` forces a format (``csv``, ``binance``, ``parquet``, ``feather``, ``json``); by default it is detected.
    Raises :class:`ImportFormatError` naming the file and what was expected when it cannot be read as bars.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError(f"{path} does not exist or is not a file; check the path")
    if fmt is not None and fmt not in FORMATS:
        raise InvalidInputError(f"unknown file format {fmt!r}; use one of {', '.join(FORMATS)} or leave it out")
    if path.stat().st_size == 0:
        raise ImportFormatError(f"{path} is empty; expected OHLCV bars (CSV, Parquet, Feather or freqtrade JSON)")
    fmt = fmt or detect_format(path)
    try:
        if fmt in ("csv", "binance"):
            raw = _read_csv(path, binance=fmt == "binance")
        elif fmt == "parquet":
            raw = pd.read_parquet(path)
        elif fmt == "feather":
            raw = pd.read_feather(path)
        else:
            raw = _read_json(path)
    except ImportFormatError:
        raise
    except _READ_ERRORS as exc:
        raise ImportFormatError(
            f"cannot read {path} as {fmt}: {type(exc).__name__}: {_first_line(exc)}; expected OHLCV bars — "
            f"check the file is complete, or pass fmt= one of {', '.join(FORMATS)}"
        ) from None
    return standardize_bars(raw, source=str(path))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no details"


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not pd.isna(value)


def _delimiter(path: Path) -> str:
    """The most frequent of ``, ; TAB |`` in the first line of a plain-text file (``,`` for compressed ones)."""
    if path.suffix.lower() in (*_COMPRESSION, ".zip"):
        return ","
    first_line = _head(path).split(b"\n", 1)[0]
    counts = {sep: first_line.count(sep.encode()) for sep in _DELIMITERS}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _read_csv(path: Path, *, binance: bool) -> pd.DataFrame:
    sep = _delimiter(path)
    try:
        first = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise ImportFormatError(f"{path} holds no data; expected OHLCV bars with a header or Binance klines") from None
    fields = list(first.iloc[0]) if len(first) else []
    # Headerless when the price fields of the first line are numbers (they are names in a header).
    headerless = len(fields) >= 5 and all(_is_number(value) for value in fields[1:5])
    if not headerless:
        frame = _read_csv_fast(path, sep, None)
        if frame is None:
            frame = pd.read_csv(path, sep=sep, encoding="utf-8-sig")
        if binance:
            if frame.shape[1] != len(BINANCE_KLINE_COLUMNS):
                raise ImportFormatError(
                    f"{path} has {frame.shape[1]} columns, Binance klines have {len(BINANCE_KLINE_COLUMNS)} "
                    f"({', '.join(BINANCE_KLINE_COLUMNS)}); drop fmt='binance' to read it as a generic CSV"
                )
            frame.columns = list(BINANCE_KLINE_COLUMNS)
        return frame
    if len(fields) == len(BINANCE_KLINE_COLUMNS):
        names: Sequence[str] = BINANCE_KLINE_COLUMNS
    elif len(fields) == len(CCXT_OHLCV_COLUMNS) and not binance:
        names = CCXT_OHLCV_COLUMNS
    else:
        raise ImportFormatError(
            f"{path} has no header and {len(fields)} columns; expected 12 (Binance klines: "
            f"{', '.join(BINANCE_KLINE_COLUMNS)}) or 6 (timestamp, open, high, low, close, volume) — "
            "add a header line naming the columns"
        )
    frame = _read_csv_fast(path, sep, list(names))
    if frame is None:
        frame = pd.read_csv(path, sep=sep, header=None, names=list(names), encoding="utf-8-sig")
    return frame


def _read_csv_fast(path: Path, sep: str, names: list[str] | None) -> pd.DataFrame | None:
    """The file read by pyarrow's multi-threaded CSV reader (≈ 10× pandas' on 1M rows, and it parses ISO-8601
    times itself), or ``None`` for whatever it reads differently from ``pandas.read_csv`` — zip and xz files,
    repeated column names, time-of-day columns, any row it refuses: pandas then reads the file and reports the
    problem as before, so the validation and its messages do not depend on the reader."""
    import pyarrow.csv as pa_csv
    from pandas._libs.parsers import STR_NA_VALUES

    if path.suffix.lower() in (".zip", ".xz"):
        return None
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(column_names=names),
            parse_options=pa_csv.ParseOptions(delimiter=sep),
            # pandas' missing-value spellings, so an empty cell or "NaN" is missing in both readers
            convert_options=pa_csv.ConvertOptions(null_values=sorted(STR_NA_VALUES), strings_can_be_null=True),
        )
    except (pa.ArrowException, OSError, UnicodeDecodeError, EOFError):
        return None
    if len(set(table.column_names)) < table.num_columns or any(pa.types.is_time(t) for t in table.schema.types):
        return None
    return table.to_pandas(date_as_object=False)


def _read_json(path: Path) -> pd.DataFrame:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    if isinstance(data, list) and data and all(isinstance(row, list) for row in data[:1]):
        frame = pd.DataFrame(data)
        if frame.shape[1] < len(CCXT_OHLCV_COLUMNS):
            raise ImportFormatError(
                f"{path} rows have {frame.shape[1]} values; freqtrade candles have 6: "
                "[timestamp_ms, open, high, low, close, volume]"
            )
        frame = frame.iloc[:, : len(CCXT_OHLCV_COLUMNS)]
        frame.columns = list(CCXT_OHLCV_COLUMNS)
        return frame
    if isinstance(data, list) and data and all(isinstance(row, dict) for row in data[:1]):
        return pd.DataFrame.from_records(data)
    raise ImportFormatError(
        f"{path} is JSON but not a candle list; expected freqtrade's [[timestamp_ms, open, high, low, close, volume], "
        "…] or a list of objects with timestamp/open/high/low/close/volume"
    )


# -- standardising -------------------------------------------------------------------------------------------------
def standardize_bars(raw: pd.DataFrame, *, source: str = "frame") -> pd.DataFrame:
    """Map a frame with OHLCV columns under any supported names to the standard bar columns."""
    frame = raw
    if not isinstance(frame.index, pd.RangeIndex):  # Parquet written from an indexed frame keeps its index
        frame = frame.reset_index()
    if frame.empty:
        raise ImportFormatError(f"{source} contains no bars (only a header or an empty table); expected OHLCV rows")
    lowered: dict[str, Any] = {}
    for name in frame.columns:
        lowered.setdefault(str(name).strip().lower(), name)

    time_column = next((lowered[name] for name in _TIME_NAMES if name in lowered), None)
    first = str(frame.columns[0]).strip().lower()
    if time_column is None and (first in ("", "index", "level_0") or first.startswith("unnamed:")):
        time_column = frame.columns[0]
    if time_column is None:
        raise ImportFormatError(
            f"{source} has no time column (columns: {_column_names(frame)}); name it timestamp, "
            "open_time, date or datetime, or put the times in the first column"
        )
    found = {target: next((lowered[a] for a in aliases if a in lowered), None) for target, aliases in _ALIASES.items()}
    missing = [name for name in BAR_COLUMNS[1:] if found[name] is None]
    if missing:
        raise ImportFormatError(
            f"{source} has no {', '.join(missing)} column{'s' if len(missing) > 1 else ''} "
            f"(columns: {_column_names(frame)}); bars need open, high, low, close and volume — "
            "add or rename the missing column(s)"
        )
    out = pd.DataFrame({"timestamp": parse_times(frame[time_column], source=source, column=str(time_column))})
    for name in (*BAR_COLUMNS[1:], *OPTIONAL_COLUMNS):
        column = found[name]
        if column is not None:
            out[name] = _numbers(frame[column], source=source, column=str(column), integer=name == "trade_count")
    return out


def _column_names(frame: pd.DataFrame, most: int = 20) -> str:
    names = [shown(name, 40) for name in frame.columns[:most]]
    return ", ".join(names) + (f" … ({len(frame.columns)} in all)" if len(frame.columns) > most else "")


def _shown(value: Any) -> str:
    return "an empty cell" if pd.isna(value) else shown(value)


def _numbers(values: pd.Series, *, source: str, column: str, integer: bool = False) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ImportFormatError(
            f"{source}: column {shown(column)} holds {int(bad.sum())} non-numeric value(s), first "
            f"{_shown(values.iloc[row])} in data row {row + 1}; fix or remove those rows"
        )
    numbers = numbers.astype("float64")
    if not integer:
        return numbers
    fractional = numbers.notna() & (numbers % 1 != 0)
    if fractional.any():
        raise ImportFormatError(
            f"{source}: column {shown(column)} should hold whole trade counts but has {int(fractional.sum())} "
            "fractional value(s); fix the file or drop that column"
        )
    return numbers.astype("Int64")


def parse_times(values: pd.Series, *, source: str = "frame", column: str = "timestamp") -> pd.Series:
    """UTC ``datetime64[ms, UTC]`` of date-like text, datetimes (naive = UTC) or epoch numbers in any unit."""
    values = values.reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values if values.dt.tz is not None else values.dt.tz_localize("UTC")
        stamps = stamps.dt.tz_convert("UTC")
    elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        stamps = _epoch(values)
    else:
        # numbers held as text (a quoted epoch column); tried only when the first value is one: coercing a million
        # date strings to numbers first took 1.4 s
        first = values.dropna().head(1)
        numeric = pd.to_numeric(values, errors="coerce") if len(first) and _is_number(first.iloc[0]) else None
        if numeric is not None and numeric.notna().all():
            stamps = _epoch(numeric)
        else:
            stamps = _parse_text(values, source=source, column=column)
    bad = stamps.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ImportFormatError(
            f"{source}: time column {shown(column)} has {int(bad.sum())} empty or unreadable value(s), first "
            f"{_shown(values.iloc[row])} in data row {row + 1}; use ISO-8601 dates or epoch numbers"
        )
    return stamps.dt.as_unit("ms")


def _parse_text(values: pd.Series, *, source: str, column: str) -> pd.Series:
    text = values.astype("string").str.strip()
    for kwargs in ({"format": "ISO8601"}, {"format": "mixed"}):
        try:
            return pd.Series(pd.to_datetime(text, utc=True, **kwargs))
        except (ValueError, TypeError, OverflowError):
            continue
    sample = ", ".join(shown(value) for value in text.dropna().head(3))
    raise ImportFormatError(
        f"{source}: cannot read time column {shown(column)} (e.g. {sample}); use ISO-8601 such as 2024-01-31T12:00:00Z "
        "or epoch seconds/milliseconds"
    )


def _epoch(values: pd.Series) -> pd.Series:
    """Epoch numbers → UTC times; each value's unit (s, ms, µs, ns) is read from its magnitude. NaN stays NaT."""
    present = values.notna().to_numpy()
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ms]")
    if present.all() and pd.api.types.is_integer_dtype(values):
        ints = values.to_numpy(dtype="int64")  # exact: no float rounding of µs / ns values
        magnitude = np.abs(ints)
        out = np.select(
            [magnitude < _S_MAX, magnitude < _MS_MAX, magnitude < _US_MAX],
            [ints * 1000, ints, ints // 1000],
            ints // 1_000_000,
        ).astype("datetime64[ms]")
    elif present.any():
        floats = values.to_numpy(dtype="float64", na_value=np.nan)
        magnitude = np.abs(floats)
        # Fix: inf and numbers beyond int64 nanoseconds (1e308) were cast to int64 (undefined: garbage or NaT);
        # they are unreadable times, reported as such below
        present = present & np.isfinite(floats) & (magnitude < _NS_MAX)
        scale = np.select([magnitude < _S_MAX, magnitude < _MS_MAX, magnitude < _US_MAX], [1e3, 1.0, 1e-3], 1e-6)
        out[present] = np.round(floats[present] * scale[present]).astype("int64").astype("datetime64[ms]")
    return pd.Series(out).dt.tz_localize("UTC")


# -- importing -----------------------------------------------------------------------------------------------------
def _expand(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    files: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if not inside:
                raise InvalidInputError(f"folder {path} holds no files; point at the bar files to import")
            files.extend(inside)
        else:
            files.append(path)
    if not files:
        raise InvalidInputError("no files to import; pass one or more CSV, Parquet, Feather or JSON paths")
    return files


def _split_symbol(symbol: str, kind: str) -> dict[str, Any]:
    """Currencies of a ccxt unified symbol: ``BASE/QUOTE`` or ``BASE/QUOTE:SETTLE``."""
    market, _, settle = symbol.partition(":")
    base, _, quote = market.partition("/")
    if not base or not quote or "/" in quote:
        raise InvalidInputError(f"invalid symbol {symbol!r}: use 'BASE/QUOTE' (spot) or 'BASE/QUOTE:SETTLE' (perp)")
    if kind == "pair":
        if settle:
            raise InvalidInputError(
                f"{symbol!r} names a derivative (it has ':{settle}'); use kind='perp' or the spot symbol {market!r}"
            )
        return {"base": base, "quote": quote}
    if "-" in settle:
        raise InvalidInputError(
            f"{symbol!r} is a dated future, not a perpetual; only spot pairs and perps can be imported"
        )
    settle = settle or quote
    return {"base": base, "quote": quote, "settle": settle, "contract_size": 1.0, "linear": settle == quote}


def _check_spacing(timestamps: np.ndarray, level: Level, source: str) -> None:
    """Reject bars that are all further apart than one ``level`` bar: a daily file imported as 1m lands on the
    1m grid and would pass every other check. (Bars closer than one ``level`` bar are off its grid, which the
    store's validation reports.)"""
    if len(timestamps) > 1 and not bool((timestamps[1:] >= timestamps[:-1]).all()):
        timestamps = np.sort(timestamps)
    # unique of a sorted array by its steps: np.unique hashes every value (2 s on 1M bars)
    steps = np.diff(timestamps)
    steps = steps[steps != 0]
    if len(steps) < 2:
        return
    if steps.min() <= level.ms:
        return
    values, counts = np.unique(steps, return_counts=True)
    typical = int(values[np.argmax(counts)])
    matching = [str(candidate) for candidate in Level if candidate.ms == typical]
    hint = f"import with level='{matching[0]}'" if matching else "no supported level (1m … 1w) matches that spacing"
    raise InvalidInputError(
        f"{source}: no two bars are one {level} apart (typical spacing {pd.Timedelta(typical, unit='ms')}), so these "
        f"are not {level} bars; {hint}"
    )


def ensure_entity(store: Store, exchange: str, symbol: str, kind: str, eid: str, earliest_ms: int) -> None:
    """Create the pair / perp row if the store does not know it; move ``list_timestamp`` back to the earliest
    imported bar when it is unknown or later."""
    from zvt_crypto.domain import ENTITY_SCHEMAS

    schema = ENTITY_SCHEMAS[kind]
    existing = schema.query_data(entity_ids=[eid], index=None, store=store)
    if existing.empty:
        row = {
            "entity_id": eid, "entity_type": kind, "exchange": exchange, "symbol": symbol, "active": True,
            "list_timestamp": earliest_ms, **_split_symbol(symbol, kind),
        }
        store.write(schema, pd.DataFrame([row]))
        return
    listed = existing["list_timestamp"].iloc[0]
    if pd.isna(listed) or int(pd.Timestamp(listed).value // 1_000_000) > earliest_ms:
        # The whole row goes back: every write must carry the entity's required columns (symbol, base, quote …).
        store.write(schema, existing.assign(list_timestamp=pd.Timestamp(earliest_ms, unit="ms", tz="UTC")))


def _first_conflicts(store: Store, eid: str, level: Level, frame: pd.DataFrame, shown: int = 3) -> str:
    """The first bars of ``frame`` whose stored values differ, e.g. ``first: 2024-01-01 02:00:00+00:00 volume
    4.5 stored, 5.5 in the file``: what a refused import (``on_conflict="error"``) must let the user check."""
    from zvt_crypto.domain import Bar

    times = frame["timestamp"]
    stored = Bar.query_data(entity_ids=[eid], level=level, start_timestamp=times.min(), end_timestamp=times.max(),
                            store=store)
    stored = stored.reset_index(level="entity_id", drop=True)
    imported = frame.drop(columns="entity_id").set_index("timestamp")
    both = imported.merge(stored, left_index=True, right_index=True, suffixes=("", "_stored"))
    found: list[str] = []
    for stamp, row in both.iterrows():
        differing = [f"{name} {row[name + '_stored']} stored, {row[name]} in the file" for name in imported.columns
                     if not _same(row[name], row[name + "_stored"])]
        if differing:
            found.append(f"{stamp} {', '.join(differing)}")
        if len(found) == shown:
            break
    return f"First: {'; '.join(found)}" if found else ""


def _same(a: Any, b: Any) -> bool:
    """Equal values, or both missing (NaN, None and pd.NA alike)."""
    if pd.isna(a) or pd.isna(b):
        return bool(pd.isna(a) and pd.isna(b))
    return bool(a == b)


def import_bars(
    store: Store | str,
    paths: str | Path | Iterable[str | Path],
    *,
    exchange: str,
    symbol: str,
    level: Level | str,
    kind: str | None = None,
    fmt: str | None = None,
    on_conflict: OnConflict = "update",
    now_ms: int | None = None,
    on_progress: OnProgress | None = None,
) -> ImportResult:
    """Read bar files (or folders of them) and upsert them as ``Bar`` rows of one market and level.

    All files are read and checked before anything is written, and the write is all-or-nothing; importing
    the same files again changes nothing. The pair / perp row is created when the store does not know it.
    ``kind`` (``'pair'`` or ``'perp'``) overrides the type implied by ``symbol``. A bar stored with other values
    is replaced (``on_conflict="update"``), kept (``"skip"``), or refuses the whole import (``"error"``).
    Bars that open after the bar open by ``now_ms`` (default: the wall clock) are refused. ``on_progress(stage, done,
    total)`` hears the files' bytes read (``reading 2 file(s)``) and the rows written (``writing 1,000,000 bars``,
    chunk by chunk on SQLite); by default both are bars on stderr when it is a terminal.

    >>> import_bars(store, "BTCUSDT-1h-2024-01.zip",
    ...             exchange="binance", symbol="BTC/USDT", level="1h")  # doctest: +SKIP
    """
    store = get_store(store)
    eid, kind = bar_target(exchange, symbol, kind)
    level = Level.parse(level)
    files = _expand(paths)

    with stages(on_progress) as report:
        frame = _read_files(files, fmt, report)
    source = str(files[0]) if len(files) == 1 else f"{len(files)} files ({files[0].name} …)"
    return _store_bars(store, frame, exchange=exchange, symbol=symbol, kind=kind, eid=eid, level=level,
                       on_conflict=on_conflict, now_ms=now_ms, on_progress=on_progress, source=source,
                       files=len(files))


def bar_target(exchange: str, symbol: str, kind: str | None) -> tuple[str, str]:
    """The entity id and kind (``pair`` / ``perp``) bars of ``symbol`` on ``exchange`` belong to; an
    :class:`InvalidInputError` for an impossible exchange, symbol or kind (checked before anything is read)."""
    check_exchange_id(exchange)
    if kind is not None and kind not in ("pair", "perp"):
        raise InvalidInputError(f"unknown kind {kind!r}; use 'pair' (spot) or 'perp' (perpetual), or leave it out")
    check_symbol(symbol)
    eid = entity_id(exchange, symbol, kind)  # type: ignore[arg-type]  # kind checked just above
    kind = eid.split("_", 1)[0]
    _split_symbol(symbol, kind)  # reject impossible symbol / kind combinations before reading anything
    return eid, kind


def import_bar_frame(
    store: Store | str,
    raw: pd.DataFrame,
    *,
    exchange: str,
    symbol: str,
    level: Level | str,
    kind: str | None = None,
    on_conflict: OnConflict = "update",
    now_ms: int | None = None,
    source: str = "frame",
) -> ImportResult:
    """:func:`import_bars` of a frame already in memory (an API request's body): its columns under any name
    :func:`standardize_bars` knows, the same checks, the same all-or-nothing idempotent write (``files`` is 0)."""
    store = get_store(store)
    eid, kind = bar_target(exchange, symbol, kind)
    level = Level.parse(level)
    frame = standardize_bars(raw, source=source)
    return _store_bars(store, frame, exchange=exchange, symbol=symbol, kind=kind, eid=eid, level=level,
                       on_conflict=on_conflict, now_ms=now_ms, on_progress=None, source=source, files=0)


def _store_bars(store: Store, frame: pd.DataFrame, *, exchange: str, symbol: str, kind: str, eid: str, level: Level,
                on_conflict: OnConflict, now_ms: int | None, on_progress: OnProgress | None, source: str,
                files: int) -> ImportResult:
    """Check and write standardised bars, then create (or move back the listing of) their entity."""
    from zvt_crypto.domain import Bar

    if not frame["timestamp"].is_monotonic_increasing:
        frame = frame.sort_values("timestamp", kind="stable", ignore_index=True)
    times_ms = frame["timestamp"].dt.as_unit("ms").astype("int64").to_numpy()
    _check_spacing(times_ms, level, source)

    frame.insert(0, "entity_id", eid)
    writing = f"writing {len(frame):,} bars"
    with stages(on_progress) as report:
        try:
            result = store.write(Bar, frame, level=level, on_conflict=on_conflict, now_ms=now_ms,
                                 on_rows=lambda done, total: report(writing, done, total))
        except ConflictError as exc:
            raise ConflictError(f"{exc}. {_first_conflicts(store, eid, level, frame)}") from None
    first_ms, last_ms = int(times_ms[0]), int(times_ms[-1])
    ensure_entity(store, exchange, symbol, kind, eid, first_ms)
    return ImportResult(eid, str(level), files, result.rows, result.inserted, result.updated, result.kept,
                        to_datetime(first_ms), to_datetime(last_ms))
