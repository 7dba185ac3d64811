"""Write stored data to CSV or Parquet files: bars (which :func:`zvt_crypto.dataio.importers.import_bars` reads
back), trades, funding rates, open interest, order-book snapshots and factor values — all through
:func:`write_export`, so every file has the same layout rules.

Bars: ``timestamp`` (bar open time; ISO-8601 UTC text such as ``2024-01-01T00:00:00Z`` in CSV, a UTC
timestamp in Parquet), ``open``, ``high``, ``low``, ``close``, ``volume``, then ``quote_volume`` and
``trade_count`` when any bar has them. The other series: ``timestamp`` then the columns of
:data:`SERIES_EXPORTS`; an order book's ``bids`` / ``asks`` (``[[price, amount], …]``) are JSON text in CSV and
nested lists in Parquet. Factor values: ``timestamp`` (and ``entity_id`` for several symbols), one column per output.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.store import Store, get_store
from zvt_crypto.contract.timeutil import TimeLike, iso, iso_ms_texts, iso_texts, to_ms

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
    export_format(out)  # an unknown extension fails before the query
    level = Level.parse(level)
    eid = _entity(exchange, symbol, kind)
    frame = Bar.query_data(entity_ids=[eid], level=level, start_timestamp=start, end_timestamp=end,
                           store=get_store(store))
    if frame.empty:
        since = iso(to_ms(start)) if start is not None else "the first bar"
        until = iso(to_ms(end)) if end is not None else "the last bar"
        raise InvalidInputError(
            f"no {level} bars found for {eid} from {since} to {until}; nothing was exported. "
            "Run `zvt-crypto coverage` to see which entities, levels and ranges the store holds"
        )
    return write_export(bars_for_export(frame), out)


@dataclass(frozen=True)
class SeriesExport:
    """What ``export <kind>`` writes: the schema (by name, imported when used) and its value columns."""

    schema: str
    columns: tuple[str, ...]
    leveled: bool = False
    json_columns: tuple[str, ...] = ()


#: The series ``zvt-crypto export`` writes besides bars, by the name of the subcommand.
SERIES_EXPORTS: dict[str, SeriesExport] = {
    "trades": SeriesExport("Trade", ("trade_id", "price", "amount", "side")),
    "funding": SeriesExport("FundingRate", ("funding_rate", "mark_price")),
    "open-interest": SeriesExport("OpenInterest", ("open_interest", "open_interest_value"), leveled=True),
    "orderbook": SeriesExport("OrderBookSnapshot", ("depth", "best_bid", "best_ask", "bids", "asks"),
                              json_columns=("bids", "asks")),
}


def export_series(
    store: Store | str,
    kind: str,
    *,
    exchange: str,
    symbol: str,
    level: Level | str | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    out: str | Path,
    entity_kind: str | None = None,
) -> int:
    """Write the stored ``kind`` (a key of :data:`SERIES_EXPORTS`: ``trades``, ``funding``, ``open-interest``,
    ``orderbook``) of ``symbol`` on ``exchange`` between ``start`` and ``end`` (inclusive) to ``out`` and return the
    number of rows written. ``level`` is needed by open interest only.

    >>> export_series(store, "funding", exchange="binanceusdm", symbol="BTC/USDT:USDT", out="f.csv")  # doctest: +SKIP
    """
    import zvt_crypto.domain as domain

    spec = SERIES_EXPORTS.get(kind)
    if spec is None:
        raise InvalidInputError(f"cannot export {kind!r}; use one of: bars, {', '.join(SERIES_EXPORTS)}")
    out = Path(out).expanduser()
    export_format(out)  # an unknown extension fails before the query
    if spec.leveled and level is None:
        raise InvalidInputError(f"exporting {kind} needs --level (the period it was recorded at, e.g. 1h)")
    if not spec.leveled and level is not None:
        raise InvalidInputError(f"{kind} have no level; drop --level")
    schema = getattr(domain, spec.schema)
    eid = _entity(exchange, symbol, entity_kind)
    frame = schema.query_data(entity_ids=[eid], level=level, columns=list(spec.columns), start_timestamp=start,
                              end_timestamp=end, store=get_store(store))
    if len(frame) == 0:
        what = kind if level is None else f"{Level.parse(level)} {kind}"
        command = f"zvt-crypto coverage --schema {spec.schema}" if spec.leveled else "zvt-crypto info"
        raise InvalidInputError(_nothing_stored(what, eid, start, end, command))
    table = frame.reset_index()[["timestamp", *spec.columns]]
    table["timestamp"] = pd.to_datetime(table["timestamp"], utc=True).dt.as_unit("ms")
    return write_export(table, out, json_columns=spec.json_columns)


def export_factor(
    store: Store | str,
    name: str,
    *,
    exchange: str,
    symbols: Sequence[str],
    level: Level | str,
    params: dict[str, Any] | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    out: str | Path,
) -> int:
    """Write the stored values of factor ``name`` (with ``params``) for ``symbols`` on ``exchange`` to ``out``:
    ``timestamp`` (with ``entity_id`` first when there are several symbols), then one column per output.
    Returns the number of rows written."""
    from zvt_crypto.factors.base import make_factor
    from zvt_crypto.factors.engine import load_factor

    out = Path(out).expanduser()
    export_format(out)
    if not symbols:
        raise InvalidInputError("exporting factor values needs --symbol (one or more)")
    instance = make_factor(name, params or {})
    frame = load_factor(instance, exchange=exchange, symbols=list(symbols), level=level, start=start, end=end,
                        store=get_store(store))
    if len(frame) == 0:
        raise InvalidInputError(_nothing_stored(f"values of {instance.factor_id(level)}", ", ".join(symbols),
                                                start, end, "zvt-crypto factor compute"))
    table = frame.reset_index()
    table["timestamp"] = pd.to_datetime(table["timestamp"], utc=True).dt.as_unit("ms")
    if len(symbols) == 1:
        table = table.drop(columns="entity_id")
    return write_export(table, out)


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


def _entity(exchange: str, symbol: str, kind: str | None) -> str:
    if kind is not None and kind not in ("pair", "perp"):
        raise InvalidInputError(f"unknown kind {kind!r}; use 'pair' (spot) or 'perp' (perpetual), or leave it out")
    return entity_id(exchange, symbol, kind)  # type: ignore[arg-type]  # kind checked just above


def _nothing_stored(what: str, whose: str, start: TimeLike | None, end: TimeLike | None, command: str) -> str:
    since = iso(to_ms(start)) if start is not None else "the first"
    until = iso(to_ms(end)) if end is not None else "the last"
    return f"no {what} found for {whose} from {since} to {until}; nothing was exported. Run `{command}` to see what " \
           "the store holds"
