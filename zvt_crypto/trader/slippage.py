"""Slippage models: how far from the reference price a taker fill lands.

A model turns a reference price (the open for market orders, the stop price or the gapped open for stops) into
the fill price, always against the trader: buys fill higher, sells lower. Limit orders (and take-profits) fill at
their own price and pay no slippage.

>>> FixedBps(5).price(100.0, 1, 2.0, 1_000.0)
100.05
>>> round(SpreadImpact(spread_bps=2, impact=0.1).price(100.0, -1, 10.0, 1_000.0), 6)   # 1 bp + 0.1 · 1 %
99.89
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from zvt_crypto.contract.errors import InvalidInputError


class Slippage:
    """Base: no slippage. ``price(reference, side, size, bar_volume)`` with ``side`` +1 (buy) or −1 (sell),
    ``size`` in base units (> 0) and the fill bar's volume in base units."""

    def price(self, reference: float, side: int, size: float, bar_volume: float) -> float:
        return reference

    def describe(self) -> str:
        return "none"

    def to_dict(self) -> dict[str, Any]:
        """JSON form, read back by :func:`slippage_from_dict` (stored runs)."""
        return {"model": type(self).__name__, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}

    @property
    def size_dependent(self) -> bool:
        """True when the fill price depends on the order size (sizing then iterates once)."""
        return False


@dataclass(frozen=True)
class FixedBps(Slippage):
    """A fixed cost of ``bps`` basis points: buys at ``p·(1 + bps/10⁴)``, sells at ``p·(1 − bps/10⁴)``."""

    bps: float = 0.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.bps) or not 0 <= self.bps < 10_000:
            raise InvalidInputError(f"slippage must be in [0, 10000) bps, got {self.bps}")

    def price(self, reference: float, side: int, size: float, bar_volume: float) -> float:
        return reference * (1.0 + side * self.bps * 1e-4) if self.bps else reference

    def describe(self) -> str:
        return f"{self.bps:g}bps"


@dataclass(frozen=True)
class SpreadImpact(Slippage):
    """Half the quoted spread plus market impact that grows with the order's share of the bar's volume:

    ``cost = spread_bps / 2 / 10⁴ + impact · min(size / bar_volume, 1)`` (a fraction of the price). An order larger
    than its bar's volume (or a bar without volume) is charged as 100 % participation."""

    spread_bps: float = 0.0
    impact: float = 0.1

    def __post_init__(self) -> None:
        if (
            not math.isfinite(self.spread_bps)
            or self.spread_bps < 0
            or not math.isfinite(self.impact)
            or self.impact < 0
        ):
            raise InvalidInputError("spread_bps and impact must be ≥ 0")

    def price(self, reference: float, side: int, size: float, bar_volume: float) -> float:
        participation = min(size / bar_volume, 1.0) if bar_volume > 0 else 1.0
        return reference * (1.0 + side * (self.spread_bps * 0.5e-4 + self.impact * participation))

    def describe(self) -> str:
        return f"spread {self.spread_bps:g}bps + impact {self.impact:g}·participation"

    @property
    def size_dependent(self) -> bool:
        return self.impact > 0


NO_SLIPPAGE = Slippage()


def as_slippage(value: Slippage | float | None) -> Slippage:
    """A model from a model, a number of basis points (``FixedBps``) or ``None`` (none)."""
    if value is None:
        return NO_SLIPPAGE
    if isinstance(value, Slippage):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return FixedBps(float(value)) if value else NO_SLIPPAGE
    raise InvalidInputError(f"slippage must be a number of bps or a Slippage model, got {value!r}")


def slippage_from_dict(value: dict[str, Any] | None) -> Slippage:
    """The model a :meth:`Slippage.to_dict` describes."""
    if not value:
        return NO_SLIPPAGE
    models = {"Slippage": Slippage, "FixedBps": FixedBps, "SpreadImpact": SpreadImpact}
    kind = models.get(str(value.get("model")))
    if kind is None:
        raise InvalidInputError(f"unknown slippage model {value.get('model')!r}; known: {', '.join(models)}")
    model = kind(**{k: v for k, v in value.items() if k != "model"})
    return NO_SLIPPAGE if kind is Slippage else model  # the one "none" model: settings read back compare equal
