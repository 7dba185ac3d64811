"""The vectorised path's trade loop, compiled by numba on first use (cached on disk), plain Python without numba.

It walks the decision bars (not the bars) and computes every fill with exactly the operations of
:mod:`.fills` and :class:`~.broker.Broker`, in the same order — IEEE arithmetic, no fastmath — so the results
are the event engine's to the last bit (``tests/trader/test_vector.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

# order status codes
PENDING, FILLED, REJECTED = 0, 1, 2
# slippage kinds
NO_SLIP, FIXED_BPS, SPREAD_IMPACT = 0, 1, 2
STEP_EPS = 1e-9

#: a run with at most this many signal events is run interpreted (≈ 4–8 µs per event) while numba is not loaded
#: yet, up to :data:`PYTHON_BUDGET` events per process: loading numba and its cache costs ≈ 0.6 s once (more with
#: numba's own imports: scipy's BLAS), so a process interprets about as many events as that load would cost and
#: compiles after (the ski-rental rule: never more than twice the better choice). A 1,000,000-bar sma_cross run
#: (31,640 events) is then ≈ 0.1 s interpreted instead of ≈ 0.4–1.3 s of loading numba in a ``zvt-crypto backtest``
#: process; long runs and sweeps compile
PYTHON_RUN_LIMIT = 75_000
PYTHON_BUDGET = 75_000
_python_left = PYTHON_BUDGET
_compiled: Callable[..., Any] | None = None


def signal_kernel(events: int | None = None) -> Callable[..., Any]:
    """The trade loop for a run with about ``events`` signal events: compiled (numba) or the same function
    interpreted — the results are identical either way."""
    global _python_left
    if _compiled is None and events is not None and events <= min(PYTHON_RUN_LIMIT, _python_left):
        _python_left -= events
        return _signal_trades
    return _compile()


def _compile() -> Callable[..., Any]:
    global _compiled, _slip, _size_for_budget
    if _compiled is None:
        try:
            import numba
        except ImportError:  # pragma: no cover - numba is installed with the package; this keeps it optional
            return _signal_trades
        _slip = numba.njit(cache=True)(_slip)
        _size_for_budget = numba.njit(cache=True)(_size_for_budget)
        _compiled = numba.njit(cache=True, nogil=True)(_signal_trades)
    return _compiled


def _slip(reference: float, side: int, size: float, volume: float, kind: int, a: float,
          b: float) -> float:  # pragma: no cover - compiled (mirrors slippage.FixedBps / SpreadImpact.price)
    if kind == FIXED_BPS:
        return reference * (1.0 + side * a * 1e-4) if a else reference
    if kind == SPREAD_IMPACT:
        participation = min(size / volume, 1.0) if volume > 0 else 1.0
        return reference * (1.0 + side * (a * 0.5e-4 + b * participation))
    return reference


def _size_for_budget(budget: float, price: float, cs: float, rate: float, step: float,
                     divisor: float) -> float:  # pragma: no cover - compiled (mirrors fills.size_for_budget)
    if budget <= 0 or price <= 0:
        return 0.0
    size = budget / (price * cs * (1.0 + rate))
    if step == 0:
        return size
    units = np.floor(size / step + STEP_EPS)
    return units / divisor if divisor else units * step


def _signal_trades(entry_at: np.ndarray, exit_at: np.ndarray, opens: np.ndarray, volumes: np.ndarray,
                   start: int, n_bars: int, mode: int, fraction: float, cash: float, cs: float, step: float,
                   divisor: float, min_amount: float, min_cost: float, rate: float, leverage: float,
                   slip_kind: int, slip_a: float, slip_b: float) -> tuple[Any, ...]:  # pragma: no cover - compiled
    """Entries/exits (sorted decision bars ending with the sentinel ``n_bars``) → orders, fills and trades.

    ``mode``: 0 long, 1 short, 2 both. ``step`` 0: any size. ``min_amount`` / ``min_cost`` 0: none.
    ``slip_kind``: 0 none, 1 fixed (``slip_a`` bps), 2 spread (``slip_a`` bps) + impact (``slip_b``)."""
    capacity = len(entry_at) + len(exit_at) + 2
    o_bar = np.empty(capacity, np.int64)
    o_side = np.empty(capacity, np.int64)
    o_closes = np.empty(capacity, np.bool_)
    o_status = np.empty(capacity, np.int64)
    o_size = np.zeros(capacity)  # rejected orders: the size and price they were refused at
    o_price = np.zeros(capacity)
    o_first = np.zeros(capacity, np.int64)  # first fill of the order
    o_fills = np.zeros(capacity, np.int64)
    f_bar = np.empty(2 * capacity, np.int64)
    f_size = np.empty(2 * capacity)
    f_price = np.empty(2 * capacity)
    f_fee = np.empty(2 * capacity)
    f_cash = np.empty(2 * capacity)
    t_side = np.empty(capacity, np.int64)
    t_size = np.empty(capacity)
    t_entry_bar = np.empty(capacity, np.int64)
    t_exit_bar = np.empty(capacity, np.int64)
    t_entry = np.empty(capacity)
    t_exit = np.empty(capacity)
    t_pnl = np.empty(capacity)
    t_fees = np.empty(capacity)
    n_orders = n_fills = n_trades = 0
    traded = 0.0
    fees_total = 0.0
    position = 0.0
    entry_price = 0.0
    trade_fees = 0.0
    entry_bar = 0
    trade_side = 0
    ke = 0
    kx = 0
    t = start
    while True:
        while entry_at[ke] < t:
            ke += 1
        while exit_at[kx] < t:
            kx += 1
        closing = position != 0
        if not closing:
            if mode == 0:
                decision, side = entry_at[ke], 1
            elif mode == 1:
                decision, side = exit_at[kx], -1
            elif entry_at[ke] <= exit_at[kx]:
                decision, side = entry_at[ke], 1
            else:
                decision, side = exit_at[kx], -1
        elif position > 0:
            decision, side = exit_at[kx], -1
        else:
            decision, side = entry_at[ke], 1
        if decision >= n_bars:
            break
        reverse = closing and mode == 2
        k = n_orders
        n_orders += 1
        o_bar[k] = decision
        o_side[k] = side
        o_closes[k] = closing and not reverse
        o_status[k] = PENDING
        o_first[k] = n_fills
        fill_bar = decision + 1
        if fill_bar >= n_bars:
            break
        reference = opens[fill_bar]
        volume = volumes[fill_bar]
        if closing:
            size = abs(position)
            price = _slip(reference, side, size, volume, slip_kind, slip_a, slip_b)
            notional = side * size * cs * price
            fee = abs(notional) * rate
            change = -notional - fee
            cash += change
            fees_total += fee
            traded += abs(notional)
            f_bar[n_fills] = fill_bar
            f_size[n_fills] = side * size
            f_price[n_fills] = price
            f_fee[n_fills] = fee
            f_cash[n_fills] = change
            n_fills += 1
            o_fills[k] += 1
            part = min(size, abs(position))  # fills.close_part
            share = part / abs(position)
            close_fee = fee * part / size
            fees_part = trade_fees * share + close_fee
            funding_part = 0.0 * share
            t_side[n_trades] = trade_side
            t_size[n_trades] = part
            t_entry_bar[n_trades] = entry_bar
            t_exit_bar[n_trades] = fill_bar
            t_entry[n_trades] = entry_price
            t_exit[n_trades] = price
            t_pnl[n_trades] = (price - entry_price) * part * cs * trade_side - fees_part - funding_part
            t_fees[n_trades] = fees_part
            n_trades += 1
            position = 0.0
            o_status[k] = FILLED
        if not closing or reverse:
            price = _slip(reference, side, 0.0, volume, slip_kind, slip_a, slip_b)
            available = cash - 0.0
            size = _size_for_budget(fraction * available * leverage, price, cs, rate, step, divisor)
            if slip_kind == SPREAD_IMPACT and slip_b > 0 and size > 0:
                price = _slip(reference, side, size, volume, slip_kind, slip_a, slip_b)
                size = _size_for_budget(fraction * available * leverage, price, cs, rate, step, divisor)
            if size <= 0 or (min_amount > 0 and size < min_amount * (1 - STEP_EPS)) or (
                    min_cost > 0 and size * cs * price < min_cost * (1 - STEP_EPS)):
                if o_status[k] != FILLED:
                    o_status[k] = REJECTED
                o_size[k] = size
                o_price[k] = price
            else:
                notional = side * size * cs * price
                fee = abs(notional) * rate
                change = -notional - fee
                cash += change
                fees_total += fee
                traded += abs(notional)
                f_bar[n_fills] = fill_bar
                f_size[n_fills] = side * size
                f_price[n_fills] = price
                f_fee[n_fills] = fee
                f_cash[n_fills] = change
                n_fills += 1
                o_fills[k] += 1
                position = side * size
                entry_price, trade_fees, entry_bar, trade_side = price, fee, fill_bar, side
                o_status[k] = FILLED
        t = fill_bar
    return (o_bar[:n_orders], o_side[:n_orders], o_closes[:n_orders], o_status[:n_orders], o_size[:n_orders],
            o_price[:n_orders], o_first[:n_orders], o_fills[:n_orders],
            f_bar[:n_fills], f_size[:n_fills], f_price[:n_fills], f_fee[:n_fills], f_cash[:n_fills],
            t_side[:n_trades], t_size[:n_trades], t_entry_bar[:n_trades], t_exit_bar[:n_trades], t_entry[:n_trades],
            t_exit[:n_trades], t_pnl[:n_trades], t_fees[:n_trades],
            position, entry_price, trade_fees, entry_bar, trade_side, traded, fees_total)
