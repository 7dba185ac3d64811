"""Orders and positions as the broker keeps them.

An :class:`Order` is created by a strategy (``buy``, ``sell``, ``close``, ``order_target``) or by the broker itself
(kill switch). Its size is one of: ``size`` (base units or contracts), ``value`` (quote notional), ``fraction``
(of the margin available, all-in = 1) or ``weight`` (target notional / equity, for portfolios) — resolved when
it fills, at the fill price. Statuses: ``pending`` → ``filled`` | ``cancelled`` | ``rejected`` (the reason is in
``note``); orders still pending when the data ends are reported as ``pending``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MARKET, LIMIT, STOP, STOP_LIMIT = "market", "limit", "stop", "stop_limit"
ORDER_TYPES = (MARKET, LIMIT, STOP, STOP_LIMIT)
PENDING, FILLED, CANCELLED, REJECTED = "pending", "filled", "cancelled", "rejected"


@dataclass(eq=False, slots=True)
class Order:
    id: int
    column: int
    side: int  # +1 buy, −1 sell, 0 decided at fill (target weight)
    type: str = MARKET
    size: float | None = None
    value: float | None = None
    fraction: float | None = None
    weight: float | None = None
    limit: float | None = None
    stop: float | None = None
    sl: float | None = None
    tp: float | None = None
    trail: float | None = None
    reduce_only: bool = False
    close_all: bool = False
    reason: str = "signal"
    tag: Any = None
    created_bar: int = -1
    status: str = PENDING
    note: str | None = None
    triggered: bool = False  # a stop-limit whose stop was reached: a limit order from then on
    fills: list[tuple[int, float, float, float]] = field(default_factory=list)  # (bar, signed size, price, fee)

    @property
    def is_pending(self) -> bool:
        return self.status == PENDING

    @property
    def filled_size(self) -> float:
        return sum(fill[1] for fill in self.fills)

    def cancel(self) -> None:
        """Cancel the order if it has not filled yet."""
        if self.status == PENDING:
            self.status = CANCELLED
            self.note = self.note or "cancelled by the strategy"


@dataclass(eq=False, slots=True)
class OpenTrade:
    """The open part of a position: entry (average) price, when it started, fees and funding so far."""

    side: int
    size: float
    entry_price: float
    entry_bar: int
    fees: float = 0.0
    funding: float = 0.0


@dataclass(eq=False, slots=True)
class PositionState:
    """What the broker knows about one symbol's position (``size`` signed: > 0 long, < 0 short)."""

    size: float = 0.0
    entry_price: float = 0.0
    liquidation: float = 0.0  # 0: none
    sl: float | None = None
    tp: float | None = None
    trail: float | None = None
    peak: float = 0.0  # best price since entry (trailing stops)
    trade: OpenTrade | None = None

    @property
    def protected(self) -> bool:
        return self.size != 0 and (
            self.sl is not None or self.tp is not None or self.trail is not None or self.liquidation > 0
        )


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    column: int
    side: int
    size: float
    entry_bar: int
    exit_bar: int
    entry_price: float
    exit_price: float
    pnl: float
    fees: float
    funding: float
    exit_reason: str
