"""Entity ids that two symbols can no longer share: rename the ids whose writing changed.

Earlier versions wrote a literal ``-`` like ``/`` and a literal ``.`` like ``:``, and non-ASCII characters as
their code point in hex of any length (``币`` U+5E01 and ``^01`` were both ``~5E01``). ``contract.ids`` now
escapes them unambiguously; ids of the common forms (``BTC/USDT``, ``BTC/USDT:USDT``, dated futures) are
unchanged, so this is a no-op for most stores. The entity tables keep each entity's exact symbol, so the new id
of every stored entity is known; every table with an ``entity_id`` column is renamed with it, in the migration's
one transaction. Ids without an entity row are left as they are (no symbol to derive them from).

If two symbols already shared an id, their rows are mixed under it and no migration can tell them apart: the
renamed ids are logged, so re-record those whose data looks wrong.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from zvt_crypto.contract.errors import StoreError
from zvt_crypto.contract.ids import safe_symbol

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_log = logging.getLogger("zvt_crypto.migrations")

ENTITY_TABLES = ("crypto_asset", "crypto_pair", "crypto_perp")
#: every table at this revision with an ``entity_id`` column (tests check it against the models)
ID_TABLES = (*ENTITY_TABLES, "bar", "mark_price_bar", "index_price_bar", "trade", "order_book_snapshot",
             "funding_rate", "open_interest", "known_gap", "factor_value", "backtest_trade")


def _old_safe_symbol(symbol: str) -> str:
    """How versions before 0007 wrote a symbol (frozen here for the downgrade)."""
    return "".join(char if char.isascii() and (char.isalnum() or char in ".-") else f"~{ord(char):02X}"
                   for char in symbol.replace("/", "-").replace(":", "."))


def _ids(connection: sa.Connection, write: Callable[[str], str]) -> dict[str, str]:
    """``{stored id: id written by write}`` of every entity."""
    ids: dict[str, str] = {}
    for table in ENTITY_TABLES:
        rows = connection.execute(sa.text(f"SELECT entity_id, entity_type, exchange, symbol FROM {table}"))
        ids.update({stored: f"{kind}_{exchange}_{write(symbol)}" for stored, kind, exchange, symbol in rows})
    return ids


def _rename(connection: sa.Connection, renames: dict[str, str]) -> None:
    """Rename in two steps through ids no entity can have, so a new id that is another entity's old id (a chain
    or a swap) never meets a row still holding it."""
    if not renames:
        return
    parked = {old: f"!0007!{number}" for number, old in enumerate(renames)}
    for step in ({old: parked[old] for old in renames}, {parked[old]: new for old, new in renames.items()}):
        for table in ID_TABLES:
            connection.execute(sa.text(f"UPDATE {table} SET entity_id = :new WHERE entity_id = :old"),
                               [{"old": old, "new": new} for old, new in step.items()])


def upgrade() -> None:
    connection = op.get_bind()
    renames = {old: new for old, new in _ids(connection, safe_symbol).items() if old != new}
    _rename(connection, renames)
    if renames:
        _log.warning("renamed %d entity ids (their symbols are now written unambiguously): %s. If two symbols "
                     "shared an old id, their rows are mixed under the new one: delete and re-record them",
                     len(renames), ", ".join(f"{old} -> {new}" for old, new in sorted(renames.items())))


def downgrade() -> None:
    connection = op.get_bind()
    ids = _ids(connection, _old_safe_symbol)
    shared = sorted(new for new, count in Counter(ids.values()).items() if count > 1)
    if shared:
        raise StoreError(f"cannot downgrade below 0007: distinct entities would share the ids {shared}")
    _rename(connection, {old: new for old, new in ids.items() if old != new})
