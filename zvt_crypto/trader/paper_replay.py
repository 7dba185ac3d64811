"""What a paper step derives from its replay (a :class:`~zvt_crypto.trader.results.BacktestResult` over the account's
bars): the rows it appends (equity bars, trades closed, orders finalised), the state after the newest bar, and the
comparison with what the account persisted before. Pure functions of the result; no store access."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from zvt_crypto.contract.timeutil import iso, to_ms
from zvt_crypto.trader import paper_store as db
from zvt_crypto.trader.orders import PENDING, Order

if TYPE_CHECKING:
    from zvt_crypto.trader.data import MarketData
    from zvt_crypto.trader.results import BacktestResult

__all__ = ["compare_orders", "compare_trades", "equity_sum", "new_rows", "same_number", "state_after"]

_RTOL = 1e-9


def same_number(a: Any, b: Any) -> bool:
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    return math.isclose(float(a), float(b), rel_tol=_RTOL, abs_tol=1e-9)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def equity_sum(result: BacktestResult, start: int, at: int) -> float:
    """A checksum of the equity curve from ``start`` (ms) to bar ``at``: a bar rewritten after it was processed
    shows here even when the last equity and the trades are unchanged (exactly rounded, so order-independent)."""
    first = int(np.searchsorted(result.market_data.timestamps, start))
    return math.fsum(result.equity["equity"].to_numpy()[first:at + 1].tolist())


def _trade_records(result: BacktestResult, rows: slice) -> list[dict[str, Any]]:
    """Closed trades ``rows`` of a result as store rows (times in ms)."""
    trades = result.trades.iloc[rows]
    stamps = result.market_data.timestamps
    columns = {name: trades[name].to_numpy() for name in ("symbol", "side", "size", "entry_price", "exit_price",
                                                          "pnl", "fees", "funding", "return", "exit_reason")}
    entry, exit_ = stamps[trades["entry_bar"].to_numpy()], stamps[trades["exit_bar"].to_numpy()]
    return [{"symbol": str(columns["symbol"][k]), "side": str(columns["side"][k]), "size": float(columns["size"][k]),
             "entry_timestamp": int(entry[k]), "exit_timestamp": int(exit_[k]),
             "entry_price": float(columns["entry_price"][k]), "exit_price": float(columns["exit_price"][k]),
             "pnl": float(columns["pnl"][k]), "fees": float(columns["fees"][k]),
             "funding": float(columns["funding"][k]), "trade_return": float(columns["return"][k]),
             "exit_reason": str(columns["exit_reason"][k])}
            for k in range(len(trades))]


def _closed_by(result: BacktestResult, at: int) -> int:
    """How many of the result's trades closed at or before bar ``at`` (trades are in closing order)."""
    return int(np.searchsorted(result.trades["exit_bar"].to_numpy(), at, side="right"))


def compare_trades(persisted: list[dict[str, Any]], result: BacktestResult, at: int, n_trades: int) -> str | None:
    count = _closed_by(result, at)
    if count != n_trades or len(persisted) != n_trades:
        return f"{count} trades closed by then, it recorded {len(persisted)}"
    for number, (old, new) in enumerate(zip(persisted, _trade_records(result, slice(0, count)), strict=True),
                                        start=1):
        for field in ("exit_timestamp", "entry_timestamp", "symbol", "side"):
            if old[field] != new[field]:
                return f"trade #{number}: {field} {new[field]!r} replayed, {old[field]!r} recorded"
        for field in ("size", "entry_price", "exit_price", "pnl"):
            if not same_number(old[field], new[field]):
                return f"trade #{number} ({old['symbol']}): {field} {new[field]!r} replayed, {old[field]!r} recorded"
    return None


def compare_orders(persisted: list[dict[str, Any]], result: BacktestResult, n_orders: int) -> str | None:
    if len(persisted) != n_orders:
        return f"{len(persisted)} orders stored, the account counts {n_orders}"
    replay = {order.id: order for order in result.order_list}
    for old in persisted:
        number = int(old["order_id"])
        order = replay.get(number)
        if order is None:
            return f"order {number} is not placed any more"
        filled = sum(fill[1] for fill in order.fills)
        if order.status != old["status"] or not same_number(filled, old["filled_size"]):
            return (f"order {number} ({old['symbol']}): {order.status} {filled:g} replayed, "
                    f"{old['status']} {old['filled_size']:g} recorded")
    return None


def _order_record(order: Order, data: MarketData) -> dict[str, Any]:
    """An order with its fills summed (as :func:`~zvt_crypto.trader.results.orders_frame` does)."""
    size = traded = notional = fees = 0.0
    for _bar, amount, price, fee in order.fills:
        size += amount
        traded += abs(amount)
        notional += abs(amount) * price
        fees += fee
    side = order.side or (1 if size > 0 else -1 if size < 0 else 0)
    stamps = data.timestamps
    return {"order_id": int(order.id), "symbol": data.symbols[order.column],
            "side": {1: "buy", -1: "sell"}.get(side, ""),
            "type": "stop_limit" if order.triggered else order.type,
            "created_timestamp": int(stamps[max(order.created_bar, 0)]),
            "fill_timestamp": int(stamps[order.fills[-1][0]]) if order.fills else None, "filled_size": size,
            "fill_price": notional / traded if traded else None, "fees": fees, "status": order.status,
            "reason": order.reason, "note": None if order.note is None else str(order.note)[:512],
            **{key: getattr(order, key) for key in ("size", "value", "fraction", "weight", "limit", "stop")}}


def new_rows(name: str, result: BacktestResult, last: int | None, start: int, known: set[int],
              n_trades: int) -> dict[str, list[dict[str, Any]]]:
    """The rows a step appends: equity bars, trades closed and orders finalised after ``last``."""
    stamps = result.market_data.timestamps
    after = -1 if last is None else last
    first = _closed_by(result, int(np.searchsorted(stamps, after, side="right")) - 1)
    trade_rows = [{"account": name, "trade_no": n_trades + k, **record}
                  for k, record in enumerate(_trade_records(result, slice(first, None)), start=1)]
    order_fields = {column.name for column in db.ORDERS.columns}
    order_rows = [{"account": name, **{key: value for key, value in _order_record(order, result.market_data).items()
                                       if key in order_fields}}
                  for order in result.order_list if order.status != PENDING and order.id not in known]
    curve = result.equity
    keep = (stamps > after) & (stamps >= start)
    equity_rows = [{"account": name, "timestamp": int(t), "equity": float(e), "cash": float(c), "drawdown": float(d),
                    "exposure": float(x)}
                   for t, e, c, d, x in zip(stamps[keep], curve["equity"].to_numpy()[keep],
                                            curve["cash"].to_numpy()[keep], curve["drawdown"].to_numpy()[keep],
                                            curve["exposure"].to_numpy()[keep], strict=True)]
    return {"paper_trade": trade_rows, "paper_order": order_rows, "paper_equity": equity_rows}


def state_after(result: BacktestResult, start_row: int) -> dict[str, Any]:
    """Positions, open orders and risk state after the newest bar (JSON; for status and the dashboard)."""
    positions = [{"symbol": t.symbol, "side": t.side, "size": float(t.size), "entry_price": float(t.entry_price),
                  "entry_time": iso(to_ms(t.entry_time)), "mark": float(t.exit_price), "pnl": float(t.pnl),
                  "fees": float(t.fees), "funding": float(t.funding)} for t in result.open_trades.itertuples()]
    open_orders = []
    for order in result.order_list:
        if order.status == PENDING:
            record = _order_record(order, result.market_data)
            open_orders.append({"id": record["order_id"], "created_time": iso(record["created_timestamp"]),
                                **{key: _num(record[key]) if key not in ("symbol", "side", "type") else record[key]
                                   for key in ("symbol", "side", "type", "size", "value", "fraction", "weight",
                                               "limit", "stop")}})
    curve = result.equity
    kill = [order for order in result.order_list if order.reason == "kill_switch"]
    halted = f"kill switch at {iso(int(result.market_data.timestamps[kill[0].created_bar]))}" if kill else None
    return {
        "positions": positions, "open_orders": open_orders,
        "risk": {"peak_equity": float(max(result.settings["cash"], curve["equity"].max())),
                 "drawdown": _num(curve["drawdown"].iloc[-1]), "halted": halted},
        "bars": int(result.market_data.n_bars - start_row),
    }


def _num(value: Any) -> float | None:
    if _missing(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
