"""Create or update instruments (pairs and perps) from plain rows: the API's ``POST /api/v1/entities``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.store import Store, get_store
from zvt_crypto.dataio.importers import _split_symbol, bar_target

_NAMING = ("exchange", "symbol", "kind", "entity_id", "entity_type")


def _instrument_row(store: Store, given: Mapping[str, Any]) -> tuple[str, dict[str, Any], bool]:
    """The kind, the whole row to write (the stored one with ``given``'s metadata on top), and whether it is new."""
    from zvt_crypto.domain import ENTITY_SCHEMAS

    exchange, symbol = given.get("exchange"), given.get("symbol")
    if not isinstance(exchange, str) or not isinstance(symbol, str):
        raise InvalidInputError("each instrument needs exchange and symbol (text), e.g. "
                                '{"exchange": "binance", "symbol": "BTC/USDT", "taker_fee": 0.001}')
    eid, kind = bar_target(exchange, symbol, given.get("kind"))
    if given.get("entity_id") not in (None, eid):
        raise InvalidInputError(f"entity_id {given['entity_id']!r} does not match {symbol} on {exchange} ({eid})")
    metadata = {key: value for key, value in given.items() if key not in _NAMING}
    existing = ENTITY_SCHEMAS[kind].query_data(entity_ids=[eid], index=None, store=store)
    if existing.empty:
        row = {"entity_id": eid, "entity_type": kind, "exchange": exchange, "symbol": symbol, "active": True,
               **_split_symbol(symbol, kind)}
        return kind, {**row, **metadata}, True
    return kind, {**existing.iloc[0].to_dict(), **metadata}, False


def upsert_instruments(store: Store | str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Create the instruments the store does not know and update the others' metadata (columns not given keep
    their stored values); every row is checked before any is written. Returns the counts and the entity ids."""
    from zvt_crypto.domain import ENTITY_SCHEMAS

    store = get_store(store)
    built = [_instrument_row(store, row) for row in rows]
    ids = [row["entity_id"] for _, row, _ in built]
    if len(set(ids)) < len(ids):
        raise InvalidInputError("the same instrument is listed twice; send each once")
    for kind in dict.fromkeys(kind for kind, _, _ in built):
        frame = pd.DataFrame([row for row_kind, row, _ in built if row_kind == kind])
        store.write(ENTITY_SCHEMAS[kind], frame)
    created = sum(1 for _, _, new in built if new)
    return {"created": created, "updated": len(built) - created, "entity_ids": ids}
