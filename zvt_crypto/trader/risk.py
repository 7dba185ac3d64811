"""Risk controls, one object the broker applies to every order — in backtests and in paper trading alike.

* ``max_position``: |notional| of one symbol ≤ this fraction of equity (e.g. 0.5).
* ``max_gross``: Σ |notional| over the portfolio ≤ this fraction of equity (1.0 = no leverage overall).
* ``max_leverage``: the leverage a symbol may use for margin (a higher requested leverage is capped to it).
* ``max_drawdown``: when equity at a bar's close is this fraction below its running peak (e.g. 0.25), every
  pending order is cancelled, every position is closed at the next open and no new order is accepted
  (the kill switch).
* ``daily_loss``: when equity at a bar's close is this fraction below equity at the end of the previous UTC day,
  no order that adds risk is accepted until the next UTC day (orders that reduce a position still are).

An order that would break a position limit is clipped to the limit (the clip is recorded on the order); one that
cannot be placed at all is rejected with the reason. An order intent from outside (the API's signal webhook) is
checked before it is accepted by :func:`intent_problem`: the same limits, but refused whole instead of clipped,
because the sender must learn at once that the account will not take it.

>>> RiskLimits(max_position=0.5, max_drawdown=0.2).active
True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from zvt_crypto.contract.errors import InvalidInputError


@dataclass(frozen=True)
class RiskLimits:
    max_position: float | None = None
    max_gross: float | None = None
    max_leverage: float | None = None
    max_drawdown: float | None = None
    daily_loss: float | None = None

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value is None:
                continue
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise InvalidInputError(f"risk limit {name} must be a positive number, got {value!r}")
            if name in ("max_drawdown", "daily_loss") and value >= 1:
                raise InvalidInputError(f"risk limit {name} is a fraction of equity below 1, got {value!r}")

    @property
    def active(self) -> bool:
        return any(value is not None for value in asdict(self).values())

    @property
    def watches_equity(self) -> bool:
        """True when equity must be marked at every bar close (kill switch or daily loss limit)."""
        return self.max_drawdown is not None or self.daily_loss is not None

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


NO_LIMITS = RiskLimits()


def intent_problem(limits: RiskLimits, *, equity: float, before: float, after: float, others_gross: float,
                   leverage: float, halted: str | None) -> str | None:
    """Why an order intent moving one symbol's signed notional from ``before`` to ``after`` must be refused
    (None: it may be accepted). ``others_gross``: Σ |notional| of the account's other symbols; ``leverage``: the
    symbol's (capped by ``max_leverage``); ``halted``: the kill switch's note, if it fired. Reducing risk is
    always allowed, as in the broker.

    >>> intent_problem(RiskLimits(max_position=0.5), equity=1000, before=0, after=600, others_gross=0,
    ...                leverage=1, halted=None)
    'max_position: 600 of one symbol exceeds 0.5 × equity 1000 = 500'
    """
    if abs(after) <= abs(before) and after * before >= 0:
        return None
    if halted is not None:
        return f"{halted}: no new risk is accepted"
    if not math.isfinite(equity) or equity <= 0:
        return f"equity is {equity:g}: no new risk is accepted"
    if limits.max_leverage is not None:
        leverage = min(leverage, limits.max_leverage)
    if limits.max_position is not None and abs(after) > limits.max_position * equity:
        return (f"max_position: {abs(after):g} of one symbol exceeds {limits.max_position:g} × equity "
                f"{equity:g} = {limits.max_position * equity:g}")
    gross = others_gross + abs(after)
    if limits.max_gross is not None and gross > limits.max_gross * equity:
        return (f"max_gross: {gross:g} over the account exceeds {limits.max_gross:g} × equity {equity:g} = "
                f"{limits.max_gross * equity:g}")
    if gross > leverage * equity:
        return f"insufficient margin: {gross:g} over the account exceeds leverage {leverage:g} × equity {equity:g}"
    return None
