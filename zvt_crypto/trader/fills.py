"""The fill rules, as small pure functions shared by the event engine and the vectorised path (so both make
exactly the same trades). The full statement is in ``docs/execution.md``; in short:

* **Timing.** A decision made in ``next`` at bar *i* (it sees bar *i*'s close) is acted on from bar *i + 1*:
  market orders fill at bar *i + 1*'s open (± slippage); limit and stop orders are checked against bar *i + 1*'s
  high/low and every later bar until filled or cancelled. A bar a symbol does not have (NaN) fills nothing.
* **Intrabar path.** Within a bar the price is assumed to go open → the extreme nearer to the open → the other
  extreme → close (a tie goes to the low first). Orders fill in the order the path reaches them; at the same
  point, liquidations first, then stops (stop-loss, trailing, stop entries), then market orders that reduce a
  position, then other market orders, then limits. If a position's stop-loss and take-profit are both reached
  within one bar, the stop-loss fills and the take-profit is cancelled (conservative).
* **Prices.** A gap through an order's price fills at the open; otherwise at the order's price. Market and stop
  fills pay slippage; limit fills (and take-profits) do not. Liquidations fill at the liquidation price.
* **Fees.** Taker for market, stop, stop-loss and trailing fills and for a stop-limit filled when its stop is
  reached; maker for limit and take-profit fills and for a stop-limit that rested as a limit order first; from the
  market's specs unless ``fee=`` overrides them: ``fee = |size| · contract_size · price · rate``.
* **Sizes.** Rounded down to the market's amount step; an order whose size is below ``min_amount`` (or whose
  notional is below ``min_cost``), or rounds to zero, is rejected with the reason recorded.
* **Sizing by fraction** (``buy()`` with no size): ``size = floor_step(fraction · available · leverage /
  (price · contract_size · (1 + taker_fee)))`` where ``available`` is equity minus the margin already used —
  backtesting.py's all-in convention (its default fraction is 1 − 2⁻⁵²; ours is 1).
"""

from __future__ import annotations

import math

#: a tiny relative tolerance when rounding down to a step, so 0.3 / 0.1 is 3 steps, not 2
_STEP_EPS = 1e-9


def step_divisor(step: float | None) -> float:
    """``1 / step`` when that is a whole number (steps such as 0.001 or 1e-8), else 0: sizes on such a step are
    computed as ``units / divisor`` — the nearest float to the decimal — instead of ``units · step``."""
    if not step:
        return 0.0
    inverse = 1.0 / step
    whole = float(round(inverse))
    return whole if whole >= 1 and abs(inverse - whole) <= 1e-9 * inverse else 0.0


def floor_to_step(size: float, step: float | None) -> float:
    """``size`` (≥ 0) rounded down to a multiple of ``step`` (``None`` or 0: unchanged).

    >>> floor_to_step(0.123456789, 0.001)
    0.123
    >>> floor_to_step(0.3, 0.1)
    0.3
    """
    if not step:
        return size
    units = float(math.floor(size / step + _STEP_EPS))
    divisor = step_divisor(step)
    return units / divisor if divisor else units * step


def size_for_budget(budget: float, price: float, contract_size: float, fee_rate: float, step: float | None) -> float:
    """The largest size (≥ 0, on the step) whose notional plus fee fits in ``budget``."""
    if budget <= 0 or price <= 0:
        return 0.0
    return floor_to_step(budget / (price * contract_size * (1.0 + fee_rate)), step)


def rejection(
    size: float, price: float, contract_size: float, min_amount: float | None, min_cost: float | None
) -> str | None:
    """Why an order of ``size`` (> 0 expected) at ``price`` cannot be placed, or ``None``."""
    if size <= 0:
        return "size rounds to zero"
    if min_amount and size < min_amount * (1 - _STEP_EPS):
        return f"size {size:g} below the minimum amount {min_amount:g}"
    if min_cost and size * contract_size * price < min_cost * (1 - _STEP_EPS):
        return f"notional {size * contract_size * price:.6g} below the minimum cost {min_cost:g}"
    return None


def path(open_: float, high: float, low: float, close: float) -> tuple[float, float, float, float]:
    """The assumed intrabar path: open → nearer extreme → other extreme → close (tie: low first)."""
    if high - open_ < open_ - low:
        return open_, high, low, close
    return open_, low, high, close


def first_reach(points: tuple[float, float, float, float], price: float, up: bool, after: float = 0.0) -> float | None:
    """Where along ``points`` (0 = open, 1 = first extreme, 2 = second extreme, 3 = close) the price first is at or
    beyond ``price`` (``up``: ≥, else ≤), not before position ``after``; ``None`` if it never is in this bar."""
    segment = int(after)
    if segment >= 3:
        return None
    start = points[segment] + (points[segment + 1] - points[segment]) * (after - segment)
    if (start >= price) if up else (start <= price):
        return after
    for k in range(segment, 3):
        end = points[k + 1]
        if (end >= price) if up else (end <= price):
            a = start if k == segment else points[k]
            return k + (price - a) / (end - a) if end != a else float(k + 1)
    return None


def price_at(points: tuple[float, float, float, float], position: float) -> float:
    """The price on the path at ``position``."""
    k = min(int(position), 2)
    return points[k] + (points[k + 1] - points[k]) * (position - k)


def fill_cash(size: float, price: float, contract_size: float, fee_rate: float) -> tuple[float, float, float]:
    """Cash change, fee and |notional| of a fill of signed ``size`` (+ buy, − sell) at ``price``."""
    notional = size * contract_size * price
    fee = abs(notional) * fee_rate
    return -notional - fee, fee, abs(notional)


def liquidation_price(entry: float, long: bool, leverage: float, maintenance: float) -> float:
    """Isolated-margin liquidation price: where margin + unrealised P&L = maintenance margin.

    Long: ``entry · (1 − 1/L) / (1 − mmr)``; short: ``entry · (1 + 1/L) / (1 + mmr)``.

    >>> round(liquidation_price(100.0, True, 10, 0.005), 4)
    90.4523
    """
    if long:
        return entry * (1.0 - 1.0 / leverage) / (1.0 - maintenance)
    return entry * (1.0 + 1.0 / leverage) / (1.0 + maintenance)


def close_part(trade_fees: float, trade_funding: float, position: float, fill: float,
               fee_paid: float) -> tuple[float, float, float, float]:
    """How a fill of ``|fill|`` against an open position of ``|position|`` splits: the size it closes, the exit fee
    of that part, and the fees (entry share + exit) and funding the closed part carries."""
    closing = min(fill, position)
    share = closing / position
    close_fee = fee_paid * closing / fill
    return closing, close_fee, trade_fees * share + close_fee, trade_funding * share


def trade_pnl(exit_price: float, entry_price: float, size: float, contract_size: float, side: int, fees: float,
              funding: float) -> float:
    """Net P&L of a closed (part of a) trade: gross − fees − funding (funding > 0 is paid)."""
    return (exit_price - entry_price) * size * contract_size * side - fees - funding
