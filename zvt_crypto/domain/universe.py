"""Point-in-time universes: the entities listed and not delisted at a time (``get_entities``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import or_

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.query import query_data
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import TimeLike, to_ms
from zvt_crypto.domain.entities import ENTITY_SCHEMAS

if TYPE_CHECKING:
    import pandas as pd

    from zvt_crypto.contract.config import Config


def get_entities(
    entity_type: str = "pair",
    *,
    exchange: str | None = None,
    symbols: str | Sequence[str] | None = None,
    as_of: TimeLike | None = None,
    columns: Sequence[str] | None = None,
    store: Store | Config | str | None = None,
) -> pd.DataFrame:
    """Entities of one type (``"asset"``, ``"pair"``, ``"perp"``), optionally the universe as of a time:
    listed at or before ``as_of`` (unknown listing time counts as listed) and not delisted by then.

    >>> get_entities("perp", exchange="binanceusdm", as_of="2024-01-01")  # doctest: +SKIP
    """
    if entity_type not in ENTITY_SCHEMAS:
        raise InvalidInputError(f"unknown entity type {entity_type!r}; use one of {', '.join(ENTITY_SCHEMAS)}")
    schema = ENTITY_SCHEMAS[entity_type]
    filters = []
    if as_of is not None:
        when = to_ms(as_of)
        table = schema.__table__
        filters = [
            or_(table.c.list_timestamp.is_(None), table.c.list_timestamp <= when),
            or_(table.c.delist_timestamp.is_(None), table.c.delist_timestamp > when),
        ]
    return query_data(schema, exchange=exchange, symbols=symbols, columns=columns, filters=filters, store=store)
