"""Reading paper accounts: their names, status (equity, positions, lag, what each waits for), trades, orders and
equity curve — and deleting one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.store import StoreLike, get_store
from zvt_crypto.contract.timeutil import TimeLike, iso, now_ms, to_ms
from zvt_crypto.trader import paper_store as db
from zvt_crypto.trader.paper_account import check_account_name

__all__ = ["account_equity", "account_orders", "account_status", "account_trades", "delete_account",
           "list_accounts"]


def list_accounts(store: StoreLike = None) -> list[str]:
    return db.account_names(get_store(store))


def delete_account(name: str, store: StoreLike = None) -> bool:
    """Delete account ``name`` and its history (even one whose strategy no longer loads); False if none."""
    return db.delete_account_rows(get_store(store), check_account_name(name))


def account_status(store: StoreLike = None, name: str | None = None, *, now: TimeLike | None = None
                   ) -> pd.DataFrame:
    """One row per account (or just ``name``): strategy, market, last bar, lag behind the clock, equity, return,
    positions, open orders, whether the kill switch stopped it and what it waits for (funding rates not recorded)."""
    store = get_store(store)
    rows = [db.require_row(store, check_account_name(name))] if name is not None else db.account_rows(store)
    clock = now_ms() if now is None else to_ms(now)
    records = []
    with store.begin() as connection:
        waiting = {row["name"]: db.waiting_for_funding(connection, row["exchange"], [
            (symbol, entity_id(row["exchange"], symbol)) for symbol in row["symbols"]]) or "" for row in rows}
    for row in rows:
        state = row["state"] or {}
        last = row["last_bar_timestamp"]
        bar_ms = Level.parse(row["level"]).ms
        cash = row["settings"]["cash"]
        records.append({
            "name": row["name"], "strategy": row["strategy"], "params": row["params"], "exchange": row["exchange"],
            "symbols": ", ".join(row["symbols"]), "level": row["level"], "start": iso(row["start_timestamp"]),
            "last_bar": iso(last), "lag": None if last is None else _duration((clock - last - bar_ms) / 1000),
            "equity": row["equity"], "return": row["equity"] / cash - 1.0, "cash": row["cash"],
            "trades": row["n_trades"],
            "positions": ", ".join(f"{p['symbol']} {p['size']:+g}" if p["side"] == "long" else
                                   f"{p['symbol']} {-p['size']:+g}" for p in state.get("positions", [])) or "-",
            "open_orders": len(state.get("open_orders", [])),
            "halted": (state.get("risk") or {}).get("halted") or "",
            "waiting": waiting[row["name"]],
        })
    return pd.DataFrame(records, columns=["name", "strategy", "params", "exchange", "symbols", "level", "start",
                                          "last_bar", "lag", "equity", "return", "cash", "trades", "positions",
                                          "open_orders", "halted", "waiting"])


def _duration(seconds: float) -> str:
    if seconds < 0:
        return "0s"
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _frame(rows: list[dict[str, Any]], times: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows).drop(columns=["account"], errors="ignore")
    for column in times:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
    return frame


def account_trades(name: str, store: StoreLike = None) -> pd.DataFrame:
    """The account's closed trades, in the order they closed (times UTC)."""
    store = get_store(store)
    db.require_row(store, check_account_name(name))
    return _frame(db.persisted_trades(store, name), ("entry_timestamp", "exit_timestamp"))


def account_orders(name: str, store: StoreLike = None) -> pd.DataFrame:
    """The account's final orders (filled, rejected, cancelled) by id."""
    store = get_store(store)
    db.require_row(store, check_account_name(name))
    return _frame(db.persisted_orders(store, name), ("created_timestamp", "fill_timestamp"))


def account_equity(name: str, store: StoreLike = None) -> pd.DataFrame:
    """Equity, cash, drawdown and exposure at every processed bar's close, indexed by UTC bar time."""
    store = get_store(store)
    db.require_row(store, check_account_name(name))
    frame = _frame(db.persisted_equity(store, name), ("timestamp",))
    return frame.set_index("timestamp") if len(frame) else frame
