"""Import rows of a timestamped series other than bars (public trades, funding rates) from a frame in memory:
the API's ``POST /api/v1/trades`` and ``/funding``. Times are read as the bar importer reads them (ISO-8601 text,
datetimes or epoch numbers in any unit); the store's write path validates the rows and writes them all or none."""

from __future__ import annotations

import pandas as pd

from zvt_crypto.contract.errors import ImportFormatError, InvalidInputError
from zvt_crypto.contract.store import Store, get_store
from zvt_crypto.contract.writer import OnConflict, WriteResult
from zvt_crypto.dataio.importers import _TIME_NAMES, bar_target, ensure_entity, parse_times

SERIES_SCHEMAS = ("Trade", "FundingRate")


def import_series_frame(store: Store | str, schema_name: str, raw: pd.DataFrame, *, exchange: str, symbol: str,
                        kind: str | None = None, on_conflict: OnConflict = "update",
                        now_ms: int | None = None) -> WriteResult:
    """Upsert ``raw`` (columns named as the table's, the time column as the bar importer accepts it) as
    ``schema_name`` rows of one instrument, then create (or move back the listing of) the instrument."""
    from zvt_crypto import domain

    if schema_name not in SERIES_SCHEMAS:
        raise InvalidInputError(f"cannot import {schema_name!r}; one of {', '.join(SERIES_SCHEMAS)}")
    schema = getattr(domain, schema_name)
    store = get_store(store)
    eid, kind = bar_target(exchange, symbol, kind)
    if raw.empty:
        raise ImportFormatError(f"no {schema_name} rows to store (an empty table)")
    frame = raw.rename(columns=lambda name: str(name).strip().lower())
    if "entity_id" in frame:
        raise InvalidInputError("leave out the entity_id column: exchange and symbol name the instrument")
    time_column = next((name for name in _TIME_NAMES if name in frame), None)
    if time_column is None:
        raise ImportFormatError(f"{schema_name} rows need a time column (timestamp); columns: "
                                f"{', '.join(map(str, frame.columns))}")
    stamps = parse_times(frame[time_column], source="the body", column=time_column)
    frame = frame.drop(columns=time_column).reset_index(drop=True).assign(timestamp=stamps)
    if "trade_id" in frame and pd.api.types.is_numeric_dtype(frame["trade_id"]):
        # venue trade ids are text in the store; JSON and CSV bodies carry numeric ones as numbers
        frame["trade_id"] = frame["trade_id"].astype("Int64").astype("string")
    frame.insert(0, "entity_id", eid)
    result = store.write(schema, frame, on_conflict=on_conflict, now_ms=now_ms)
    earliest = int(stamps.min().value // 1_000_000)
    ensure_entity(store, exchange, symbol, kind, eid, earliest)
    return result
