"""Write stored data to CSV or Parquet files: bars (which :func:`zvt_crypto.dataio.importers.import_bars` reads
back), trades, funding rates, open interest and order-book snapshots — all through
:func:`zvt_crypto.contract.export.write_export`, as factor values are (``factors.engine.export_factor``).

Bars: ``timestamp`` (bar open time; ISO-8601 UTC text such as ``2024-01-01T00:00:00Z`` in CSV, a UTC
timestamp in Parquet), ``open``, ``high``, ``low``, ``close``, ``volume``, then ``quote_volume`` and
``trade_count`` when any bar has them. The other series: ``timestamp`` then the columns of
:data:`SERIES_EXPORTS`; an order book's ``bids`` / ``asks`` (``[[price, amount], …]``) are JSON text in CSV and
nested lists in Parquet. Factor values: ``timestamp`` (and ``entity_id`` for several symbols), one column per output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.export import export_format, nothing_stored, write_export
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.store import Store, get_store
from zvt_crypto.contract.timeutil import TimeLike, iso, to_ms

EXPORT_COLUMNS: tuple[str, ...] = ("timestamp", "open", "high", "low", "close", "volume")
OPTIONAL_COLUMNS: tuple[str, ...] = ("quote_volume", "trade_count")

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
        raise InvalidInputError(nothing_stored(what, eid, start, end, command))
    table = frame.reset_index()[["timestamp", *spec.columns]]
    table["timestamp"] = pd.to_datetime(table["timestamp"], utc=True).dt.as_unit("ms")
    return write_export(table, out, json_columns=spec.json_columns)


def _entity(exchange: str, symbol: str, kind: str | None) -> str:
    if kind is not None and kind not in ("pair", "perp"):
        raise InvalidInputError(f"unknown kind {kind!r}; use 'pair' (spot) or 'perp' (perpetual), or leave it out")
    return entity_id(exchange, symbol, kind)  # type: ignore[arg-type]  # kind checked just above

