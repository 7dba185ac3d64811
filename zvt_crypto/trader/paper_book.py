"""A paper account's book after its newest processed bar: open positions and open orders, as tables (the status of
:func:`~zvt_crypto.trader.paper_queries.account_status` gives only their summary), and its backlog: the stored bars
it has not processed yet. For the dashboard and the API."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import func, select

from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.store import StoreLike, get_store
from zvt_crypto.trader import paper_store as db
from zvt_crypto.trader.paper_account import check_account_name

__all__ = ["OPEN_ORDER_COLUMNS", "POSITION_COLUMNS", "account_backlog", "account_open_orders", "account_positions"]

POSITION_COLUMNS = ["symbol", "side", "size", "entry_price", "entry_time", "mark", "pnl", "fees", "funding"]
OPEN_ORDER_COLUMNS = ["id", "created_time", "symbol", "side", "type", "size", "value", "fraction", "weight",
                      "limit", "stop"]


def _state(name: str, store: StoreLike) -> dict[str, Any]:
    return db.require_row(get_store(store), check_account_name(name))["state"] or {}


def account_positions(name: str, store: StoreLike = None) -> pd.DataFrame:
    """Open positions after the newest processed bar: symbol, side, size, entry price and time (UTC ISO), mark
    (the newest close), unrealised P&L, fees and funding so far."""
    return pd.DataFrame(_state(name, store).get("positions", []), columns=POSITION_COLUMNS)


def account_open_orders(name: str, store: StoreLike = None) -> pd.DataFrame:
    """Orders still pending after the newest processed bar (they fill or expire on the next bars)."""
    return pd.DataFrame(_state(name, store).get("open_orders", []), columns=OPEN_ORDER_COLUMNS)


def account_backlog(name: str, store: StoreLike = None) -> tuple[int | None, int]:
    """The newest bar (epoch ms) that every symbol of the account has stored, and how many bars up to it the account
    has not processed yet (0: it is up to date with the store; more: a step would process them, unless the status
    says what it waits for). ``(None, 0)`` while a symbol has no bar stored at all."""
    store = get_store(store)
    row = db.require_row(store, check_account_name(name))
    bar_ms = Level.parse(row["level"]).ms
    last = row["last_bar_timestamp"]
    since = int(row["data_start_timestamp"] if last is None else last)
    ids = [entity_id(row["exchange"], symbol) for symbol in row["symbols"]]
    spans = db.bar_spans(store, ids, row["level"], since)
    if len(spans) < len(ids):
        return None, 0
    newest = min(newest for _first, newest in spans.values())
    first_unprocessed = int(row["start_timestamp"]) if last is None else int(last) + bar_ms
    if newest < first_unprocessed:
        return newest, 0
    from zvt_crypto.domain import Bar

    table = Bar.__table__
    query = (select(table.c.entity_id, func.count()).where(
        table.c.entity_id.in_(ids), table.c.level == row["level"], table.c.timestamp >= first_unprocessed,
        table.c.timestamp <= newest).group_by(table.c.entity_id))
    with store.engine.connect() as connection:
        counts = {str(entity): int(count) for entity, count in connection.execute(query)}
    # stored bars, not intervals: a market closed at weekends has no bar to wait for
    return newest, min(counts.get(entity, 0) for entity in ids)
