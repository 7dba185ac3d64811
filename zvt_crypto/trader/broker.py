"""The simulated broker: one account in the quote currency shared by every symbol, orders, fills, fees,
slippage, perp margin, funding, liquidation and risk limits. The rules are stated in :mod:`.fills` and
``docs/execution.md``.

Accounting. ``cash`` is the quote balance after every fill's notional and fee (a short adds its proceeds), so
equity is always ``cash + Σ size · contract_size · mark`` — for spot and for linear perps alike (a perp's
wallet balance plus unrealised P&L is the same number). Margin: each open position uses ``|notional| / leverage``
at the current price; the margin *available* for new risk is equity minus that. Spot trades at leverage 1.
Perps (linear) use isolated margin per position: a position is liquidated when its own margin
(``entry notional / leverage``) plus its unrealised P&L falls to ``maintenance_margin · notional`` — at the
liquidation price, paying ``liquidation_fee · notional`` instead of the taker fee (the default, equal to the
maintenance rate, loses the whole margin as on Binance). The liquidation price is fixed when the position opens
or grows (funding does not move it).

The broker does nothing on a bar unless something is pending (orders, stops of open positions, a liquidation
watch) or funding is due, and it records cash and position changes as events: the engine builds the equity,
position and exposure series from them after the run, vectorised.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from zvt_crypto.contract.levels import DAY_MS
from zvt_crypto.contract.timeutil import iso
from zvt_crypto.trader import fills
from zvt_crypto.trader.data import MarketData
from zvt_crypto.trader.fees import resolve_fees
from zvt_crypto.trader.orders import (
    CANCELLED,
    FILLED,
    LIMIT,
    MARKET,
    PENDING,
    REJECTED,
    STOP,
    STOP_LIMIT,
    ClosedTrade,
    OpenTrade,
    Order,
    PositionState,
)
from zvt_crypto.trader.risk import RiskLimits
from zvt_crypto.trader.settings import BacktestSettings
from zvt_crypto.trader.slippage import Slippage

# priorities of fills at the same point of the intrabar path
_LIQUIDATION, _STOP_LOSS, _STOP_ENTRY, _MARKET_REDUCE, _MARKET, _LIMIT = range(6)
_TINY = 1e-12


class Broker:
    """The account. Built by the engine; strategies reach it through their ``buy`` / ``sell`` / ``close`` /
    ``order_target`` methods and the ``position`` / ``equity`` properties."""

    def __init__(
        self,
        data: MarketData,
        *,
        cash: float = 10_000.0,
        fee: float | tuple[float, float] | None = None,
        slippage: Slippage | float | None = None,
        leverage: float | Sequence[float] = 1.0,
        maintenance_margin: float = 0.005,
        liquidation_fee: float | None = None,
        risk: RiskLimits | None = None,
        settings: BacktestSettings | None = None,
    ) -> None:
        settings = BacktestSettings.from_arguments(  # the keyword arguments are checked where every setting is
            settings, cash=cash, fee=fee, slippage=slippage,
            leverage=leverage if isinstance(leverage, (int, float)) else tuple(leverage),
            maintenance_margin=maintenance_margin, liquidation_fee=liquidation_fee, risk=risk)
        self.settings = settings
        self.data = data
        self.initial_cash = settings.cash
        self.cash = settings.cash
        self.slippage = settings.slippage
        self.risk = settings.risk
        self.fees = resolve_fees(data.specs, settings.fee, exchange=data.exchange)
        self.maker, self.taker = list(self.fees.maker), list(self.fees.taker)
        levels = settings.leverages(data.symbols, [spec.perp for spec in data.specs])
        if self.risk.max_leverage is not None:
            levels = [min(level, self.risk.max_leverage) for level in levels]
        self.leverage = levels
        self._can_leverage = any(x > 1 for x, spec in zip(levels, data.specs, strict=True) if spec.perp)
        self.maintenance = settings.maintenance_margin
        self.liquidation_fee = self.maintenance if settings.liquidation_fee is None else settings.liquidation_fee
        n = data.n_symbols
        self.cs = [spec.contract_size for spec in data.specs]
        self.perp = [spec.perp for spec in data.specs]
        self.positions = [PositionState() for _ in range(n)]
        self.open_columns: set[int] = set()
        self.orders: list[Order] = []  # pending
        self.all_orders: list[Order] = []
        self.closed: list[ClosedTrade] = []
        # events for the series built after the run: (bar, column, signed size, cash change)
        self.ev_bar: list[int] = []
        self.ev_col: list[int] = []
        self.ev_size: list[float] = []
        self.ev_cash: list[float] = []
        self.traded_notional = 0.0
        self.fees_paid = 0.0
        self.funding_paid = 0.0
        self.funding_received = 0.0
        self._next_id = 1
        self.busy = False  # something to check at the next open
        self.watch_close = self.risk.watches_equity
        self.halted: str | None = None
        self._blocked_day = -1
        self._peak_equity = self.initial_cash
        self._day = -1
        self._day_start_equity = self.initial_cash
        self._last_equity = self.initial_cash
        self._val_bar = self._weights_bar = -1  # the bar whose valuation / rebalance equity is cached
        self._val_equity = self._val_used = self._weights_equity = 0.0
        self.bar = 0  # the bar being processed (for orders placed by the strategy: its decision bar)
        funding = data.funding
        self._funding = (funding.bar.tolist(), funding.column.tolist(), funding.rate.tolist(), funding.mark.tolist())
        self._funding_at = 0
        self.next_funding_bar = self._funding[0][0] if len(funding) else data.n_bars + 1

    # -- orders -------------------------------------------------------------------------------------------------
    def submit(
        self,
        column: int,
        side: int,
        *,
        type: str = MARKET,
        size: float | None = None,
        value: float | None = None,
        fraction: float | None = None,
        weight: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
        sl: float | None = None,
        tp: float | None = None,
        trail: float | None = None,
        reduce_only: bool = False,
        close_all: bool = False,
        reason: str = "signal",
        tag: Any = None,
        bar: int | None = None,
    ) -> Order:
        """Queue an order decided at bar ``bar`` (default: the bar being processed); it acts from the next one."""
        order = Order(
            self._next_id,
            column,
            side,
            type,
            size,
            value,
            fraction,
            weight,
            limit,
            stop,
            sl,
            tp,
            trail,
            reduce_only,
            close_all,
            reason,
            tag,
            self.bar if bar is None else bar,
        )
        self._next_id += 1
        self.all_orders.append(order)
        problem = _check_order(order)
        if problem is None and self.halted is not None and not (reduce_only or close_all):
            problem = self.halted
        if problem is not None:
            order.status, order.note = REJECTED, problem
            return order
        self.orders.append(order)
        self.busy = True
        return order

    def _risk_block(self, i: int) -> str | None:
        """Why no new risk is accepted at bar ``i`` (kill switch, daily loss limit), or None."""
        if self.halted is not None:
            return self.halted
        if self._blocked_day >= 0 and self._blocked_day == int(self.data.timestamps[i] // DAY_MS):
            return "daily loss limit reached: no new risk until the next UTC day"
        return None

    def cancel_all(self, note: str) -> None:
        for order in self.orders:
            if order.status == PENDING:
                order.status, order.note = CANCELLED, note
        self.orders = []

    # -- the bar's events ---------------------------------------------------------------------------------------
    def apply_funding(self, i: int) -> None:
        """Funding payments due at bar ``i`` (before its orders fill)."""
        bars, columns, rates, marks = self._funding
        k = self._funding_at
        while k < len(bars) and bars[k] < i:
            k += 1
        while k < len(bars) and bars[k] == i:
            c = columns[k]
            state = self.positions[c]
            if state.size != 0:
                mark = marks[k]
                if not mark == mark:  # NaN: the bar's open, else the last close
                    mark = float(self.data.open[i, c])
                    if not mark == mark:
                        mark = float(self.data.close_filled[i - 1, c])
                payment = state.size * self.cs[c] * mark * rates[k]  # > 0: paid (longs pay when the rate > 0)
                self.cash -= payment
                self._event(i, c, 0.0, -payment)
                if payment > 0:
                    self.funding_paid += payment
                else:
                    self.funding_received -= payment
                if state.trade is not None:
                    state.trade.funding += payment
            k += 1
        self._funding_at = k
        self._val_bar = -1
        self.next_funding_bar = bars[k] if k < len(bars) else self.data.n_bars + 1

    def on_open(self, i: int) -> None:
        """Fill what bar ``i`` reaches, in path order (see :mod:`.fills`)."""
        if not self._can_leverage and not any(self.positions[c].protected for c in self.open_columns) and all(
                order.type == MARKET and order.sl is None and order.tp is None and order.trail is None
                for order in self.orders):
            self._open_market_only(i)
            return
        data = self.data
        paths: dict[int, tuple[float, float, float, float] | None] = {}
        priorities: dict[int, tuple[float, int, float]] = {}  # market orders: ranked once, at the open

        def path_of(c: int) -> tuple[float, float, float, float] | None:
            if c not in paths:
                o = float(data.open[i, c])
                paths[c] = None if not o == o else fills.path(o, float(data.high[i, c]), float(data.low[i, c]),
                                                              float(data.close[i, c]))
            return paths[c]

        after = 0.0
        while True:
            best: tuple[float, int, int, Order | int, str, float] | None = None  # target: the order or a column
            key: tuple[float, int, int, Order | int, str, float]
            found: tuple[float, int, float] | None
            for order in self.orders:
                if order.status != PENDING:
                    continue
                points = path_of(order.column)
                if points is None:
                    continue
                if order.type == MARKET:
                    if order.id not in priorities:
                        priorities[order.id] = self._market_trigger(i, order, points[0], after)
                    found = priorities[order.id]
                else:
                    found = self._order_trigger(i, order, points, after)
                if found is not None:
                    tau, priority, price = found
                    key = (max(tau, after), priority, order.id, order, "order", price)
                    if best is None or key[:3] < best[:3]:
                        best = key
            for c in list(self.open_columns):
                state = self.positions[c]
                if not state.protected:
                    continue
                points = path_of(c)
                if points is None:
                    continue
                for tau, priority, kind, price in self._protective_triggers(c, state, points, after):
                    key = (tau, priority, -1, c, kind, price)
                    if best is None or key[:3] < best[:3]:
                        best = key
            if best is None:
                break
            tau, _, _, target, kind, price = best
            after = tau
            if isinstance(target, Order):  # kind == "order"
                self._execute(i, target, price)
            else:
                self._protective_fill(i, target, kind, price)
        self.orders = [order for order in self.orders if order.status == PENDING]
        self._update_busy()

    def _open_market_only(self, i: int) -> None:
        """The common case — only market orders, nothing to watch inside the bar: fill them at the open, those
        that reduce a position first, then by order id."""
        opens = self.data.open
        ready = []
        for order in self.orders:
            reference = float(opens[i, order.column])
            if reference == reference:
                priority = self._market_trigger(i, order, reference, 0.0)[1]
                ready.append((priority, order.id, order, reference))
        ready.sort(key=lambda item: (item[0], item[1]))
        for _, _, order, reference in ready:
            self._execute(i, order, reference)
        self.orders = [order for order in self.orders if order.status == PENDING]
        self._update_busy()

    def on_close(self, i: int) -> None:
        """Trailing-stop peaks and the equity-based limits, at bar ``i``'s close."""
        data = self.data
        for c in self.open_columns:
            state = self.positions[c]
            if state.trail is not None:
                high, low = float(data.high[i, c]), float(data.low[i, c])
                if high == high:
                    state.peak = max(state.peak, high) if state.size > 0 else min(state.peak, low)
        if not self.risk.watches_equity:
            return
        equity = self.equity_at(i)
        day = int(data.timestamps[i] // DAY_MS)
        if day != self._day:
            self._day_start_equity = self._last_equity if self._day >= 0 else self.initial_cash
            self._day = day
        self._last_equity = equity
        self._peak_equity = max(self._peak_equity, equity)
        limits = self.risk
        if (
            self.halted is None
            and limits.max_drawdown is not None
            and equity < self._peak_equity * (1.0 - limits.max_drawdown)
        ):
            self.halted = (
                f"kill switch: drawdown {1 - equity / self._peak_equity:.2%} exceeded "
                f"{limits.max_drawdown:.2%} at {iso(data.index[i])}; trading stopped"
            )
            self.cancel_all("cancelled by the kill switch")
            for c in sorted(self.open_columns):
                side = -1 if self.positions[c].size > 0 else 1
                self.submit(c, side, close_all=True, reduce_only=True, reason="kill_switch", bar=i)
        if limits.daily_loss is not None and equity < self._day_start_equity * (1.0 - limits.daily_loss):
            self._blocked_day = day

    # -- triggers -----------------------------------------------------------------------------------------------
    def _order_trigger(
        self, i: int, order: Order, points: tuple[float, float, float, float], after: float
    ) -> tuple[float, int, float] | None:
        buy = order.side > 0
        kind = LIMIT if order.triggered else order.type
        if kind == MARKET:
            return self._market_trigger(i, order, points[0], after)
        if kind == LIMIT:
            assert order.limit is not None
            tau = fills.first_reach(points, order.limit, up=not buy, after=after)
            if tau is None:
                return None
            here = fills.price_at(points, tau)
            return tau, _LIMIT, min(here, order.limit) if buy else max(here, order.limit)
        assert order.stop is not None
        tau = fills.first_reach(points, order.stop, up=buy, after=after)
        if tau is None:
            return None
        here = fills.price_at(points, tau)
        price = max(here, order.stop) if buy else min(here, order.stop)
        if kind == STOP:
            return tau, _STOP_ENTRY, price
        assert order.limit is not None  # stop-limit: a limit order from the trigger on
        if (price <= order.limit) if buy else (price >= order.limit):
            return tau, _STOP_ENTRY, price
        order.triggered = True
        later = fills.first_reach(points, order.limit, up=not buy, after=tau)
        return None if later is None else (later, _LIMIT, order.limit)

    def _market_trigger(self, i: int, order: Order, open_price: float, after: float) -> tuple[float, int, float]:
        """A market order fills at once at the bar's open; those that reduce a position rank first."""
        pos = self.positions[order.column].size
        if order.close_all or order.reduce_only:
            reducing = True
        elif order.weight is not None:  # reduces when the target notional is below the current one
            reducing = (pos != 0 and pos * order.weight <= 0) or (
                abs(order.weight) * self._equity_now(i) < abs(pos) * self.cs[order.column] * open_price)
        else:
            reducing = pos * order.side < 0
        return after, _MARKET_REDUCE if reducing else _MARKET, open_price

    def _protective_triggers(
        self, c: int, state: PositionState, points: tuple[float, float, float, float], after: float
    ) -> list[tuple[float, int, str, float]]:
        long = state.size > 0
        found: list[tuple[float, int, str, float]] = []
        if state.liquidation > 0:
            tau = fills.first_reach(points, state.liquidation, up=not long, after=after)
            if tau is not None:
                found.append((tau, _LIQUIDATION, "liquidation", state.liquidation))
        stops = []
        if state.sl is not None:
            stops.append(("sl", state.sl))
        if state.trail is not None:
            stops.append(("trail", state.peak * (1 - state.trail) if long else state.peak * (1 + state.trail)))
        for kind, level in stops:
            tau = fills.first_reach(points, level, up=not long, after=after)
            if tau is not None:
                here = fills.price_at(points, tau)
                found.append((tau, _STOP_LOSS, kind, min(here, level) if long else max(here, level)))
        if state.tp is not None and not found:  # a stop reached in the same bar wins (conservative)
            tau = fills.first_reach(points, state.tp, up=long, after=after)
            if tau is not None:
                here = fills.price_at(points, tau)
                found.append((tau, _LIMIT, "tp", max(here, state.tp) if long else min(here, state.tp)))
        return found

    # -- fills ---------------------------------------------------------------------------------------------------
    def _execute(self, i: int, order: Order, reference: float) -> None:
        """Resolve the order's size at ``reference`` (the path price it is reached at) and fill it."""
        c = order.column
        state = self.positions[c]
        kind = LIMIT if order.triggered else order.type
        maker = kind == LIMIT
        rate = self.maker[c] if maker else self.taker[c]
        spec = self.data.specs[c]
        volume = float(self.data.volume[i, c])

        def priced(side: int, size: float) -> float:
            return reference if maker else self.slippage.price(reference, side, size, volume)

        if order.close_all or order.reduce_only:
            if state.size == 0 or (order.side != 0 and state.size * order.side > 0):
                order.status, order.note = CANCELLED, "no position to close"
                return
            size = abs(state.size) if order.close_all or order.size is None else min(order.size, abs(state.size))
            side = -1 if state.size > 0 else 1
            self._fill(i, order, c, side * size, priced(side, size), rate, order.reason)
            order.status = FILLED
            return

        if order.weight is not None:
            self._fill_weight(i, order, c, reference, rate, maker, volume)
            return

        side = order.side
        if order.fraction is not None and state.size * side < 0:  # reverse: close the opposite position first
            size = abs(state.size)
            self._fill(i, order, c, side * size, priced(side, size), rate, order.reason)
        if order.fraction is not None:
            price = priced(side, 0.0)
            size = fills.size_for_budget(
                order.fraction * self._available(i, c) * self.leverage[c], price, self.cs[c], rate, spec.step
            )
            if self.slippage.size_dependent and not maker and size > 0:
                price = priced(side, size)
                size = fills.size_for_budget(
                    order.fraction * self._available(i, c) * self.leverage[c], price, self.cs[c], rate, spec.step
                )
        else:
            price = priced(side, order.size or 0.0)
            size = order.size if order.size is not None else (order.value or 0.0) / (price * self.cs[c])
            size = fills.floor_to_step(size, spec.step)
            if order.size is None and self.slippage.size_dependent and not maker:
                price = priced(side, size)
        size, note = self._limit_increase(i, c, side, size, price, rate, explicit=order.fraction is None)
        problem = (
            note if size <= 0 and note else fills.rejection(size, price, self.cs[c], spec.min_amount, spec.min_cost)
        )
        if problem is not None:
            order.status = FILLED if order.fills else REJECTED
            order.note = problem
            return
        if note:
            order.note = note
        self._fill(i, order, c, side * size, price, rate, order.reason)
        order.status = FILLED

    def _fill_weight(self, i: int, order: Order, c: int, reference: float, rate: float, maker: bool,
                     volume: float) -> None:
        """Trade to ``weight × equity`` of notional; the equity is the bar's, at the open, before its fills (so every
        order of a rebalance aims at the same book)."""
        assert order.weight is not None
        state = self.positions[c]
        spec = self.data.specs[c]
        cs = self.cs[c]
        if self._weights_bar != i:
            self._weights_bar, self._weights_equity = i, self._equity_now(i)
        target = 0.0 if abs(order.weight) < _TINY else order.weight * self._weights_equity / (reference * cs)
        if state.size != 0 and state.size * target <= 0:  # close (and maybe reverse) first
            side = -1 if state.size > 0 else 1
            price = reference if maker else self.slippage.price(reference, side, abs(state.size), volume)
            self._fill(i, order, c, -state.size, price, rate, order.reason)
        delta = target - state.size
        side = 1 if delta > 0 else -1
        size = fills.floor_to_step(abs(delta), spec.step)
        if size <= 0:
            if not order.fills:
                order.status, order.note = CANCELLED, "already at the target"
            else:
                order.status = FILLED
            return
        price = reference if maker else self.slippage.price(reference, side, size, volume)
        note = None
        if abs(target) > abs(state.size):  # adds risk: within the margin available and the limits
            budget = self._available(i, c) * self.leverage[c]
            size = min(size, fills.size_for_budget(budget, price, cs, rate, spec.step))
            size, note = self._limit_increase(i, c, side, size, price, rate, explicit=False)
        problem = fills.rejection(size, price, cs, spec.min_amount, spec.min_cost)
        if problem is not None:
            order.status = FILLED if order.fills else REJECTED
            order.note = note or problem
            return
        order.note = note
        self._fill(i, order, c, side * size, price, rate, order.reason)
        order.status = FILLED

    def _limit_increase(
        self, i: int, c: int, side: int, size: float, price: float, rate: float, *, explicit: bool
    ) -> tuple[float, str | None]:
        """Clip the part of a fill that adds risk to the margin available and the risk limits."""
        state = self.positions[c]
        reducing = min(size, abs(state.size)) if state.size * side < 0 else 0.0
        adding = size - reducing
        if adding <= 0:
            return size, None
        blocked = self._risk_block(i)
        if blocked:
            return reducing, blocked
        step = self.data.specs[c].step
        note = None
        cs = self.cs[c]
        if explicit:
            available = self._available(i, c) + reducing * cs * price / self.leverage[c]
            need = adding * cs * price / self.leverage[c] + adding * cs * price * rate
            if need > available * (1 + 1e-12):
                return reducing, (f"insufficient margin: needs {need:.6g}, available {max(available, 0.0):.6g}")
        limits = self.risk
        if limits.max_position is not None or limits.max_gross is not None:
            equity = self._equity_now(i)
            room = math.inf
            if limits.max_position is not None:
                room = limits.max_position * equity / (cs * price) - abs(state.size + side * reducing)
                label = "max_position"
            if limits.max_gross is not None:
                others = sum(
                    abs(self.positions[j].size) * self.cs[j] * self._ref(i, j) for j in self.open_columns if j != c
                )
                gross_room = (limits.max_gross * equity - others) / (cs * price) - abs(state.size + side * reducing)
                if gross_room < room:
                    room, label = gross_room, "max_gross"
            if adding > room:
                clipped = fills.floor_to_step(max(room, 0.0), step)
                note = f"clipped by {label} from {adding:g} to {clipped:g}"
                adding = clipped
        return reducing + adding, note

    def _protective_fill(self, i: int, c: int, kind: str, price: float) -> None:
        state = self.positions[c]
        side = -1 if state.size > 0 else 1
        size = abs(state.size)
        if kind == "liquidation":
            notional = size * self.cs[c] * price
            self._fill(i, None, c, side * size, price, 0.0, "liquidation", fee=notional * self.liquidation_fee)
            return
        if kind == "tp":
            rate = self.maker[c]
        else:
            rate = self.taker[c]
            price = self.slippage.price(price, side, size, float(self.data.volume[i, c]))
        self._fill(i, None, c, side * size, price, rate, kind)

    def _fill(
        self,
        i: int,
        order: Order | None,
        c: int,
        size: float,
        price: float,
        rate: float,
        reason: str,
        *,
        fee: float | None = None,
    ) -> None:
        """Book a fill of signed ``size`` at ``price``: cash, position, trades, margin, protective levels."""
        cs = self.cs[c]
        cash_change, fee_paid, notional = fills.fill_cash(size, price, cs, rate)
        if fee is not None:
            cash_change += fee_paid - fee
            fee_paid = fee
        self.cash += cash_change
        before = self.positions[c].size
        self.fees_paid += fee_paid
        self.traded_notional += notional
        self._event(i, c, size, cash_change)
        if order is not None:
            order.fills.append((i, size, price, fee_paid))
        state = self.positions[c]
        pos = state.size
        side = 1 if size > 0 else -1
        if pos == 0 or pos * size > 0:  # open or add
            new = pos + size
            state.entry_price = price if pos == 0 else (abs(pos) * state.entry_price + abs(size) * price) / abs(new)
            state.size = new
            if state.trade is None:
                state.trade = OpenTrade(side, abs(new), price, i, fee_paid)
                state.peak = price
            else:
                state.trade.size = abs(new)
                state.trade.entry_price = state.entry_price
                state.trade.fees += fee_paid
            self.open_columns.add(c)
            self._set_protection(state, order, price)
        else:  # reduce, close or reverse
            trade = state.trade
            assert trade is not None
            closing, close_fee, fees_part, funding_part = fills.close_part(trade.fees, trade.funding, abs(pos),
                                                                           abs(size), fee_paid)
            pnl = fills.trade_pnl(price, state.entry_price, closing, cs, trade.side, fees_part, funding_part)
            self.closed.append(ClosedTrade(c, trade.side, closing, trade.entry_bar, i, state.entry_price, price, pnl,
                                           fees_part, funding_part, reason))
            remainder = abs(size) - closing
            if abs(size) >= abs(pos):
                state.size = 0.0
                state.trade = None
                state.sl = state.tp = state.trail = None
                state.liquidation = 0.0
                self.open_columns.discard(c)
                if remainder > 0:
                    state.size = side * remainder
                    state.entry_price = price
                    state.trade = OpenTrade(side, remainder, price, i, fee_paid - close_fee)
                    state.peak = price
                    self.open_columns.add(c)
                    self._set_protection(state, order, price)
            else:
                trade.fees -= fees_part - close_fee
                trade.funding -= funding_part
                state.size = pos + size
                trade.size = abs(state.size)
        self._update_liquidation(c, state)
        self._revalue(i, c, before, size, cash_change)

    def _set_protection(self, state: PositionState, order: Order | None, price: float) -> None:
        if order is None:
            return
        if order.sl is not None:
            state.sl = order.sl
        if order.tp is not None:
            state.tp = order.tp
        if order.trail is not None:
            state.trail = order.trail
            state.peak = price

    def _update_liquidation(self, c: int, state: PositionState) -> None:
        if self.perp[c] and state.size != 0 and self.leverage[c] > 1:
            state.liquidation = fills.liquidation_price(
                state.entry_price, state.size > 0, self.leverage[c], self.maintenance
            )
        else:
            state.liquidation = 0.0

    def _event(self, i: int, c: int, size: float, cash_change: float) -> None:
        self.ev_bar.append(i)
        self.ev_col.append(c)
        self.ev_size.append(size)
        self.ev_cash.append(cash_change)

    def set_stops(self, column: int, *, sl: float | None = None, tp: float | None = None,
                  trail: float | None = None) -> None:
        """Set (or move) the stops of symbol ``column``'s open position (nothing when it is flat); the broker then
        watches the bars for them."""
        state = self.positions[column]
        if state.size == 0:
            return
        if sl is not None:
            state.sl = sl
        if tp is not None:
            state.tp = tp
        if trail is not None:
            state.trail = trail
        self._update_busy()

    def _update_busy(self) -> None:
        self.busy = bool(self.orders) or any(self.positions[c].protected for c in self.open_columns)
        self.watch_close = self.risk.watches_equity or any(
            self.positions[c].trail is not None for c in self.open_columns
        )

    # -- valuation ---------------------------------------------------------------------------------------------
    def _ref(self, i: int, c: int) -> float:
        """The reference price of symbol ``c`` during bar ``i``'s fills: its open, else its last close."""
        price = float(self.data.open[i, c])
        if not price == price:
            price = float(self.data.close_filled[i - 1, c]) if i > 0 else math.nan
        return price

    def _value(self, i: int) -> None:
        """Value the book at bar ``i``'s reference prices once; fills then update it incrementally."""
        if self._val_bar != i:
            equity, used = self.cash, 0.0
            for j in self.open_columns:
                notional = self.positions[j].size * self.cs[j] * self._ref(i, j)
                equity += notional
                used += abs(notional) / self.leverage[j]
            self._val_bar, self._val_equity, self._val_used = i, equity, used

    def _revalue(self, i: int, c: int, before: float, size: float, cash_change: float) -> None:
        """Update the bar's valuation after a fill of ``size`` on ``c`` (position ``before``)."""
        if self._val_bar != i:
            return
        if not self.open_columns:  # flat: exact, not accumulated
            self._val_equity, self._val_used = self.cash, 0.0
            return
        reference = self._ref(i, c)
        self._val_equity += cash_change + size * self.cs[c] * reference
        self._val_used += (abs(before + size) - abs(before)) * self.cs[c] * reference / self.leverage[c]

    def _equity_now(self, i: int) -> float:
        """Equity during bar ``i``'s fills (positions at their reference prices)."""
        self._value(i)
        return self._val_equity

    def _available(self, i: int, c: int) -> float:
        """Margin available for new risk: equity − Σ |notional| / leverage of the open positions."""
        self._value(i)
        return self._val_equity - self._val_used

    def equity_at(self, i: int) -> float:
        """Equity at bar ``i``'s close (positions marked at their last close)."""
        close = self.data.close_filled
        return self.cash + sum(self.positions[c].size * self.cs[c] * float(close[i, c]) for c in self.open_columns)

    # -- after the run --------------------------------------------------------------------------------------------
    def open_positions(self) -> list[tuple[int, OpenTrade, float]]:
        """``(column, open trade, size)`` of the positions still open."""
        return [(c, trade, self.positions[c].size) for c in sorted(self.open_columns)
                if (trade := self.positions[c].trade) is not None]

    def totals(self) -> dict[str, float]:
        return {"traded_notional": self.traded_notional, "fees_paid": self.fees_paid,
                "funding_paid": self.funding_paid, "funding_received": self.funding_received}


def _check_order(order: Order) -> str | None:
    if (order.type == MARKET and order.size is None and order.value is None and order.weight is None
            and order.sl is None and order.tp is None and order.trail is None
            and (order.fraction is None or 0 < order.fraction <= 1)):
        return None  # the common all-in / close order: nothing to check
    given = [x for x in (order.size, order.value, order.fraction, order.weight) if x is not None]
    if len(given) > 1:
        return "give one of size, value, fraction or weight"
    for name in ("size", "value", "fraction", "limit", "stop", "sl", "tp", "trail"):
        value = getattr(order, name)
        if value is not None and (not math.isfinite(value) or value <= 0):
            return f"{name} must be a positive number, got {value!r}"
    if order.weight is not None and not math.isfinite(order.weight):
        return f"weight must be a finite number, got {order.weight!r}"
    if order.fraction is not None and order.fraction > 1:
        return f"fraction must be in (0, 1], got {order.fraction}"
    if order.trail is not None and order.trail >= 1:
        return f"trail is a fraction of the price below 1, got {order.trail}"
    if order.type in (LIMIT, STOP_LIMIT) and order.limit is None:
        return f"a {order.type} order needs a limit price"
    if order.type in (STOP, STOP_LIMIT) and order.stop is None:
        return f"a {order.type} order needs a stop price"
    return None
