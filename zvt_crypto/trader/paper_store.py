"""The SQL side of paper trading: account rows, the persisted history, how far the stored bars reach, and the one
transaction a step writes in. Plain SQLAlchemy Core on ``store.begin()`` connections (SQLite and PostgreSQL)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from zvt_crypto.contract.errors import InvalidInputError, ZvtCryptoError
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import to_ms
from zvt_crypto.domain.paper import PaperAccount, PaperEquity, PaperOrder, PaperTrade

ACCOUNTS = PaperAccount.__table__
TRADES = PaperTrade.__table__
ORDERS = PaperOrder.__table__
EQUITY = PaperEquity.__table__
HISTORY = (TRADES, ORDERS, EQUITY)
#: funding interval assumed for a perp with a single stored funding row
DEFAULT_FUNDING_MS = 8 * 3_600_000


class PaperConflictError(ZvtCryptoError):
    """Another process stepped (or reset) the account between this step's read and its write."""


def account_row(store: Store | Connection, name: str) -> dict[str, Any] | None:
    with _connection(store) as connection:
        row = connection.execute(select(ACCOUNTS).where(ACCOUNTS.c.name == name)).mappings().first()
    return None if row is None else _plain(row)


def account_rows(store: Store) -> list[dict[str, Any]]:
    with store.begin() as connection:
        rows = connection.execute(select(ACCOUNTS).order_by(ACCOUNTS.c.name)).mappings().all()
    return [_plain(row) for row in rows]


def account_names(store: Store | Connection) -> list[str]:
    with _connection(store) as connection:
        return list(connection.execute(select(ACCOUNTS.c.name).order_by(ACCOUNTS.c.name)).scalars())


def _plain(row: RowMapping) -> dict[str, Any]:
    """A row with its ``UtcMillis`` columns as epoch ms (the module works in ms; the ORM hands out datetimes)."""
    out = {str(key): value for key, value in row.items()}  # keys are the column names; str() only tells mypy
    for key, value in out.items():
        if key.endswith("_timestamp") and value is not None:
            out[key] = to_ms(value)
    return out


def insert_account(store: Store, row: Mapping[str, Any], *, replace: bool) -> None:
    """Insert the account (with ``replace``: delete the old one and its history first), in one transaction. A
    replaced account continues from the old one's revision + 1, so a step of the old definition still in flight
    (it read the old revision) cannot write into the new one."""
    row = dict(row)
    with store.begin() as connection:
        if replace:
            old = connection.execute(select(ACCOUNTS.c.revision).where(ACCOUNTS.c.name == row["name"])).scalar()
            if old is not None:
                row["revision"] = max(int(row["revision"]), int(old) + 1)
            _delete(connection, row["name"])
        connection.execute(insert(ACCOUNTS), [row])


def delete_account_rows(store: Store, name: str) -> bool:
    """Delete the account's row and its history in one transaction; False if there was none. The name is not
    checked here: :func:`zvt_crypto.trader.paper.delete_account` is the public verb."""
    with store.begin() as connection:
        return _delete(connection, name)


def _delete(connection: Any, name: str) -> bool:
    for table in HISTORY:
        connection.execute(delete(table).where(table.c.account == name))
    return bool(connection.execute(delete(ACCOUNTS).where(ACCOUNTS.c.name == name)).rowcount)


def reset_account(store: Store, name: str, values: Mapping[str, Any], revision: int) -> None:
    """Drop the history and put the account back to its initial state (``values``), if ``revision`` is current."""
    with store.begin() as connection:
        _bump(connection, name, revision, values)
        for table in HISTORY:
            connection.execute(delete(table).where(table.c.account == name))


def _bump(connection: Any, name: str, revision: int, values: Mapping[str, Any],
          definition_hash: str | None = None) -> None:
    """Update the account if its revision (and definition, when given) is still the one read; bump the revision."""
    where = [ACCOUNTS.c.name == name, ACCOUNTS.c.revision == revision]
    if definition_hash is not None:  # an account deleted and created again restarts at revision 0
        where.append(ACCOUNTS.c.definition_hash == definition_hash)
    done = connection.execute(update(ACCOUNTS).where(*where).values(**values, revision=revision + 1))
    if done.rowcount != 1:
        raise PaperConflictError(f"paper account {name!r} was changed by another process meanwhile")


def persisted_history(store: Store, name: str, revision: int, n_trades: int
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The trades numbered up to ``n_trades`` and the orders of the account as of ``revision``, or
    :class:`PaperConflictError` when another process stepped (or reset) it since that revision was read. The
    revision is read after the rows, so this holds under READ COMMITTED too (a step commits rows and revision
    together)."""
    with store.begin() as connection:
        trades = connection.execute(select(TRADES).where(TRADES.c.account == name, TRADES.c.trade_no <= n_trades)
                                    .order_by(TRADES.c.trade_no)).mappings().all()
        orders = persisted_orders(connection, name)
        current = connection.execute(select(ACCOUNTS.c.revision).where(ACCOUNTS.c.name == name)).scalar()
    if current != revision:
        raise PaperConflictError(f"paper account {name!r} was changed by another process meanwhile")
    return [_plain(row) for row in trades], orders


def persisted_trades(store: Store | Connection, name: str) -> list[dict[str, Any]]:
    with _connection(store) as connection:
        rows = connection.execute(select(TRADES).where(TRADES.c.account == name).order_by(TRADES.c.trade_no))
        return [_plain(row) for row in rows.mappings()]


def persisted_orders(store: Store | Connection, name: str) -> list[dict[str, Any]]:
    with _connection(store) as connection:
        rows = connection.execute(select(ORDERS).where(ORDERS.c.account == name).order_by(ORDERS.c.order_id))
        return [_plain(row) for row in rows.mappings()]


@contextmanager
def _connection(store: Store | Connection) -> Iterator[Connection]:
    """A transaction of ``store``, or the connection given (several reads of a step share one: on SQLite each
    connection costs a file open and its pragmas)."""
    if isinstance(store, Connection):
        yield store
        return
    with store.begin() as connection:
        yield connection


def persisted_equity(store: Store, name: str) -> list[dict[str, Any]]:
    with store.begin() as connection:
        rows = connection.execute(select(EQUITY).where(EQUITY.c.account == name).order_by(EQUITY.c.timestamp))
        return [_plain(row) for row in rows.mappings()]


def write_step(store: Store, name: str, revision: int, values: Mapping[str, Any],
               rows: Mapping[str, Sequence[Mapping[str, Any]]],
               before_commit: Callable[[], None] | None = None, *, definition_hash: str | None = None) -> None:
    """Append the step's trades, orders and equity and update the account — all or nothing. The account row is
    updated first and only if its revision is still the one the step read (else :class:`PaperConflictError`), so
    a concurrent step cannot append the same bars twice; the primary keys would refuse duplicates anyway. With
    ``definition_hash``, the account must also still have that definition."""
    with store.begin() as connection:
        _bump(connection, name, revision, values, definition_hash)
        for table in HISTORY:
            batch = rows.get(table.name) or ()
            if batch:
                connection.execute(insert(table), [_clean(row) for row in batch])
        if before_commit is not None:
            before_commit()


def _clean(row: Mapping[str, Any]) -> dict[str, Any]:
    """NaN / ±inf → NULL: SQLite turns NaN into NULL anyway; this keeps both backends alike."""
    return {key: None if isinstance(value, float) and not math.isfinite(value) else value
            for key, value in row.items()}


# -- how far the stored data reaches -------------------------------------------------------------------------------
def bar_spans(store: Store | Connection, entity_ids: Sequence[str], level: str,
              since: int) -> dict[str, tuple[int, int]]:
    """Entity → (first, last) stored bar time at ``level`` from ``since`` on (entities without bars are left out)."""
    from zvt_crypto.domain import Bar

    table = Bar.__table__
    query = (select(table.c.entity_id, func.min(table.c.timestamp), func.max(table.c.timestamp))
             .where(table.c.entity_id.in_(list(entity_ids)), table.c.level == level, table.c.timestamp >= since)
             .group_by(table.c.entity_id))
    with _connection(store) as connection:
        return {entity: (to_ms(first), to_ms(last)) for entity, first, last in connection.execute(query)}


def next_funding(store: Store | Connection, entity_id: str) -> int | None:
    """When the next funding payment of a perp is due, from the last two stored ones (None: none stored)."""
    from zvt_crypto.domain import FundingRate

    table = FundingRate.__table__
    query = (select(table.c.timestamp).where(table.c.entity_id == entity_id).order_by(table.c.timestamp.desc())
             .limit(2))
    with _connection(store) as connection:
        stamps = [to_ms(value) for value in connection.execute(query).scalars()]
    if not stamps:
        return None
    interval = stamps[0] - stamps[1] if len(stamps) == 2 else DEFAULT_FUNDING_MS
    return stamps[0] + max(interval, 1)


def require_row(store: Store | Connection, name: str) -> dict[str, Any]:
    row = account_row(store, name)
    if row is None:
        known = ", ".join(account_names(store)) or "none yet"
        raise InvalidInputError(f"no paper account {name!r} (accounts: {known}); create it with zvt-crypto paper "
                                f"create {name} --strategy … --exchange … --symbol … --level …")
    return row


def waiting_for_funding(connection: Any, exchange: str, pairs: Sequence[tuple[str, str]]) -> str | None:
    """Why an account's perps cannot be processed yet: perps with no funding rate stored at all (None: none)."""
    unfunded = [symbol for symbol, entity in pairs
                if entity.startswith("perp_") and next_funding(connection, entity) is None]
    if not unfunded:
        return None
    commands = "; ".join(f"zvt-crypto record funding --exchange {exchange} --symbol {symbol}" for symbol in unfunded)
    return f"waiting for funding rates of {', '.join(unfunded)}, none stored yet (record them: {commands})"
