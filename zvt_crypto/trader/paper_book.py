"""A paper account's book after its newest processed bar: open positions and open orders, as tables (the status of
:func:`~zvt_crypto.trader.paper_queries.account_status` gives only their summary). For the dashboard and the API."""

from __future__ import annotations

from typing import Any

import pandas as pd

from zvt_crypto.contract.store import Store, get_store
from zvt_crypto.trader import paper_store as db
from zvt_crypto.trader.paper_account import check_account_name

__all__ = ["OPEN_ORDER_COLUMNS", "POSITION_COLUMNS", "account_open_orders", "account_positions"]

POSITION_COLUMNS = ["symbol", "side", "size", "entry_price", "entry_time", "mark", "pnl", "fees", "funding"]
OPEN_ORDER_COLUMNS = ["id", "created_time", "symbol", "side", "type", "size", "value", "fraction", "weight",
                      "limit", "stop"]


def _state(name: str, store: Store | Any) -> dict[str, Any]:
    return db.require_row(get_store(store), check_account_name(name))["state"] or {}


def account_positions(name: str, store: Store | Any = None) -> pd.DataFrame:
    """Open positions after the newest processed bar: symbol, side, size, entry price and time (UTC ISO), mark
    (the newest close), unrealised P&L, fees and funding so far."""
    return pd.DataFrame(_state(name, store).get("positions", []), columns=POSITION_COLUMNS)


def account_open_orders(name: str, store: Store | Any = None) -> pd.DataFrame:
    """Orders still pending after the newest processed bar (they fill or expire on the next bars)."""
    return pd.DataFrame(_state(name, store).get("open_orders", []), columns=OPEN_ORDER_COLUMNS)
