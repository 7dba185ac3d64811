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
cannot be placed at all is rejected with the reason.

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
