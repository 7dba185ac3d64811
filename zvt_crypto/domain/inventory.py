"""What a store holds, at a glance: rows per schema and the newest bar per exchange and level.

Read by ``zvt-crypto info``, the dashboard's overview page and (later) the REST API, so the three agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from zvt_crypto.contract.ids import parse_entity_id
from zvt_crypto.contract.schema import schema_registry
from zvt_crypto.contract.store import Store


@dataclass(frozen=True)
class NewestBar:
    """The newest stored bar of one exchange and level: its open time (UTC) and how many symbols have bars."""

    exchange: str
    level: str
    newest: datetime
    symbols: int
    rows: int


def row_counts(store: Store) -> dict[str, int]:
    """Schema class name → number of stored rows, for every schema, sorted by name (zeros included)."""
    counts: dict[str, int] = {}
    with store.engine.connect() as connection:
        for name, schema in sorted(schema_registry().items()):
            counts[name] = connection.execute(select(func.count()).select_from(schema.__table__)).scalar_one()
    return counts


def newest_bars(store: Store) -> list[NewestBar]:
    """Per exchange and level, the newest bar's open time, sorted by exchange then level (one grouped query)."""
    from zvt_crypto.contract.levels import Level
    from zvt_crypto.domain.series import Bar

    table = Bar.__table__
    query = (select(table.c.entity_id, table.c.level, func.max(table.c.timestamp), func.count())
             .group_by(table.c.entity_id, table.c.level))
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    grouped: dict[tuple[str, str], tuple[datetime, int, int]] = {}
    for entity, level, newest, count in rows:
        key = (parse_entity_id(entity)[1], level)
        before = grouped.get(key)
        grouped[key] = ((newest, 1, count) if before is None
                        else (max(before[0], newest), before[1] + 1, before[2] + count))
    return [NewestBar(exchange, level, newest, symbols, count)
            for (exchange, level), (newest, symbols, count)
            in sorted(grouped.items(), key=lambda item: (item[0][0], Level.parse(item[0][1]).ms))]
