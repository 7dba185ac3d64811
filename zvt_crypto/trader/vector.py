"""The vectorised path for signal strategies: the event engine's trades without a Python call per bar.

The strategy's :meth:`~zvt_crypto.trader.signals.SignalStrategy.signals` give entry and exit arrays for every bar
(numpy, computed once). The state machine of :class:`~zvt_crypto.trader.signals.SignalStrategy` only changes state
at a signal, so the path jumps from one decision to the next (``bisect`` into the signal positions): a loop over
trades, not bars. Each fill is computed with the same functions (:mod:`.fills`) and the same operations in the same
order as the broker, so the trades, cash and equity are identical to the event engine's, not just close.

Scope: one symbol, market orders at the next open, fraction sizing, fees, slippage, the market's amount step and
minimums. Not here (use the event engine): several symbols, stops / limits, leverage above 1, funding, risk limits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader import fills
from zvt_crypto.trader._kernels import FIXED_BPS, NO_SLIP, SPREAD_IMPACT, signal_kernel
from zvt_crypto.trader.orders import FILLED, MARKET, PENDING, REJECTED, OpenTrade, Order
from zvt_crypto.trader.slippage import FixedBps, Slippage, SpreadImpact

if TYPE_CHECKING:
    from zvt_crypto.trader.broker import Broker
    from zvt_crypto.trader.data import MarketData
    from zvt_crypto.trader.strategy import Strategy


class LazyOrders(Sequence[Order]):
    """The kernel's orders (arrays), turned into :class:`Order` objects only when someone looks at them."""

    def __init__(self, fraction: float = 1.0, spec: Any = None, orders: tuple[np.ndarray, ...] = (),
                 fill_arrays: tuple[np.ndarray, ...] = ()) -> None:
        self.fraction, self.spec, self.arrays, self.fill_arrays = fraction, spec, orders, fill_arrays
        self._orders: list[Order] | None = None

    def _build(self) -> list[Order]:
        if self._orders is None:
            self._orders = []
            if self.arrays:
                bars, sides, closes, statuses, sizes, prices, firsts, counts = (a.tolist() for a in self.arrays)
                f_bar, f_size, f_price, f_fee = (a.tolist() for a in self.fill_arrays)
                for k, bar in enumerate(bars):
                    order = (Order(k + 1, 0, sides[k], MARKET, reduce_only=True, close_all=True, created_bar=bar)
                             if closes[k] else Order(k + 1, 0, sides[k], MARKET, fraction=self.fraction,
                                                     created_bar=bar))
                    order.status = (PENDING, FILLED, REJECTED)[statuses[k]]
                    first = firsts[k]
                    order.fills = [(f_bar[j], f_size[j], f_price[j], f_fee[j]) for j in range(first, first + counts[k])]
                    if prices[k] > 0:  # the kernel keeps the size and price an opening was refused at
                        spec = self.spec
                        order.note = fills.rejection(sizes[k], prices[k], spec.contract_size, spec.min_amount,
                                                     spec.min_cost)
                    self._orders.append(order)
        return self._orders

    def __len__(self) -> int:
        return len(self.arrays[0]) if self.arrays else 0

    def __getitem__(self, index: Any) -> Any:
        return self._build()[index]

    def __iter__(self) -> Iterator[Order]:
        return iter(self._build())


@dataclass
class VectorRecord:
    """What the vectorised path recorded, in the shapes :func:`~.results.make_result` takes."""

    ev_bar: Any = None
    ev_col: Any = None
    ev_size: Any = None
    ev_cash: Any = None
    closed: dict[str, Any] = field(default_factory=dict)
    all_orders: LazyOrders = field(default_factory=LazyOrders)
    open_trade: tuple[int, OpenTrade, float] | None = None
    traded_notional: float = 0.0
    fees_paid: float = 0.0

    def open_positions(self) -> list[tuple[int, OpenTrade, float]]:
        return [] if self.open_trade is None else [self.open_trade]

    def totals(self) -> dict[str, float]:
        return {"traded_notional": self.traded_notional, "fees_paid": self.fees_paid, "funding_paid": 0.0,
                "funding_received": 0.0}


def check_vectorisable(strategy: Strategy, data: MarketData, broker: Broker) -> None:
    """Raise :class:`InvalidInputError` naming what the vectorised path cannot do for this run."""
    from zvt_crypto.trader.signals import SignalStrategy

    problems = []
    if not isinstance(strategy, SignalStrategy) or type(strategy).signals is SignalStrategy.signals:
        problems.append(f"{strategy.label()} has no signals() (only SignalStrategy subclasses that define it do)")
    if data.n_symbols != 1:
        problems.append(f"it trades one symbol, the data has {data.n_symbols}")
    if np.isnan(data.open).any() or np.isnan(data.close).any():
        problems.append("the data has missing bars")
    if broker.leverage[0] != 1:
        problems.append("leverage above 1 (liquidation) needs the event engine")
    if len(data.funding) and data.specs[0].perp:
        problems.append("funding payments need the event engine")
    if broker.risk.active:
        problems.append("risk limits need the event engine")
    if type(broker.slippage) not in (Slippage, FixedBps, SpreadImpact):
        problems.append(f"slippage model {type(broker.slippage).__name__} (it supports FixedBps and SpreadImpact)")
    if problems:
        raise InvalidInputError("the vectorised path cannot run this backtest: " + "; ".join(problems))


def run_vectorised(strategy: Strategy, data: MarketData, broker: Broker) -> VectorRecord:
    """Run a signal strategy (already bound and initialised) without a per-bar loop; see the module docstring."""
    from zvt_crypto.trader.signals import SignalStrategy

    check_vectorisable(strategy, data, broker)
    assert isinstance(strategy, SignalStrategy)  # check_vectorisable refused any other strategy
    entries, exits = strategy.full_signals()
    n_bars = data.n_bars
    if entries.shape != (n_bars,) or exits.shape != (n_bars,):
        raise InvalidInputError(f"signals() must give two arrays of {n_bars} booleans, got {entries.shape} and "
                                f"{exits.shape}")
    start = strategy.first_bar
    # decision bars, each list ending with the sentinel n_bars
    entry_at = np.append(np.flatnonzero(entries[start:]) + start, n_bars).astype(np.int64)
    exit_at = np.append(np.flatnonzero(exits[start:]) + start, n_bars).astype(np.int64)
    spec = data.specs[0]
    slippage = broker.slippage
    if isinstance(slippage, FixedBps):
        slip = (FIXED_BPS, float(slippage.bps), 0.0)
    elif isinstance(slippage, SpreadImpact):
        slip = (SPREAD_IMPACT, float(slippage.spread_bps), float(slippage.impact))
    else:
        slip = (NO_SLIP, 0.0, 0.0)
    fraction = float(strategy.fraction)
    out = signal_kernel(len(entry_at) + len(exit_at))(
        entry_at, exit_at, np.ascontiguousarray(data.open[:, 0]), np.ascontiguousarray(data.volume[:, 0]), start,
        n_bars, ("long", "short", "both").index(strategy.direction), fraction, float(broker.initial_cash),
        float(spec.contract_size), float(spec.step or 0.0), fills.step_divisor(spec.step),
        float(spec.min_amount or 0.0), float(spec.min_cost or 0.0), float(broker.taker[0]), float(broker.leverage[0]),
        *slip)
    (o_bar, o_side, o_closes, o_status, o_size, o_price, o_first, o_fills, f_bar, f_size, f_price, f_fee, f_cash,
     t_side, t_size, t_entry_bar, t_exit_bar, t_entry, t_exit, t_pnl, t_fees, position, entry_price, trade_fees,
     entry_bar, trade_side, traded, fees_total) = out
    n_trades = len(t_side)
    record = VectorRecord(
        ev_bar=f_bar, ev_col=np.zeros(len(f_bar), np.int64), ev_size=f_size, ev_cash=f_cash,
        closed={"column": np.zeros(n_trades, np.int64), "side": t_side, "size": t_size, "entry_bar": t_entry_bar,
                "exit_bar": t_exit_bar, "entry_price": t_entry, "exit_price": t_exit, "pnl": t_pnl, "fees": t_fees,
                "funding": np.zeros(n_trades), "exit_reason": np.full(n_trades, "signal", dtype=object)},
        all_orders=LazyOrders(fraction, spec, (o_bar, o_side, o_closes, o_status, o_size, o_price, o_first, o_fills),
                              (f_bar, f_size, f_price, f_fee)),
        traded_notional=float(traded), fees_paid=float(fees_total))
    if position != 0:
        record.open_trade = (0, OpenTrade(int(trade_side), abs(float(position)), float(entry_price), int(entry_bar),
                                          float(trade_fees)), float(position))
    return record
