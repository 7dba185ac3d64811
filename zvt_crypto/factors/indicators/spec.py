"""How a technical indicator is declared: a plain function of one entity's bars plus the facts the factor
engine needs to run it incrementally.

An indicator function takes one entity's bars — a DataFrame indexed by ``timestamp`` (UTC, ascending) with
float columns ``open high low close volume`` — and keyword parameters, and returns a DataFrame on the same
index with one column per output. It is vectorised (pandas / numpy / ``ta``), causal (the value at a bar uses
that bar and earlier ones only) and never mutates its input.

``@indicator`` records it in :data:`INDICATORS` with:

* ``outputs``: the output column names, in order (``("macd", "signal", "hist")``).
* ``params``: the defaults; the function's keyword arguments are the parameters.
* ``warmup``: bars of history needed before the first value that must be final, as a function of the
  parameters. For a windowed indicator that is its longest window, and a value computed from that many earlier
  bars is bit-identical to one computed from the whole history. For recursive ones (EMA, Wilder smoothing) it
  is the number of bars after which the seed's weight falls below 1e-12, so the value matches a full-history
  computation to round-off. ``None`` means the whole history (path-dependent ones such as Parabolic SAR).
* ``cumulative``: outputs that are running sums from the first bar (OBV, A/D line): the engine continues them
  from the last stored value instead of restarting at zero.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError

IndicatorFunction = Callable[..., pd.DataFrame]
Warmup = Callable[..., int | None]

#: every built-in and user indicator by name, filled by ``@indicator``
INDICATORS: dict[str, Indicator] = {}

CATEGORIES = ("trend", "momentum", "volatility", "volume", "other")


@dataclass(frozen=True)
class Indicator:
    name: str
    function: IndicatorFunction
    outputs: tuple[str, ...]
    params: dict[str, Any]
    warmup: Warmup
    category: str
    cumulative: tuple[str, ...] = ()
    doc: str = field(default="", repr=False)

    def __call__(self, bars: pd.DataFrame, **params: Any) -> pd.DataFrame:
        return self.function(bars, **{**self.params, **params})

    def warmup_bars(self, **params: Any) -> int | None:
        return self.warmup(**{**self.params, **params})


def indicator(*, outputs: tuple[str, ...] | list[str], warmup: Warmup, category: str,
              name: str | None = None, cumulative: tuple[str, ...] = (),
              catalog: bool = True) -> Callable[[IndicatorFunction], Indicator]:
    """Declare ``function`` as an indicator (see the module docstring); returns the :class:`Indicator`.

    ``catalog=False`` keeps it out of :data:`INDICATORS` (the built-in library): user functions registered as
    factors are found through the factor registry instead."""
    if category not in CATEGORIES:
        raise InvalidInputError(f"category must be one of {CATEGORIES}, not {category!r}")

    def register(function: IndicatorFunction) -> Indicator:
        signature = inspect.signature(function)
        params = {key: p.default for key, p in list(signature.parameters.items())[1:]
                  if p.default is not inspect.Parameter.empty}
        spec = Indicator(name or function.__name__, function, tuple(outputs), params, warmup, category,
                         tuple(cumulative), inspect.getdoc(function) or "")
        if catalog:
            INDICATORS[spec.name] = spec
        return spec

    return register


def converged(alpha: float, margin: int = 0) -> int:
    """Bars after which an exponential smoother with factor ``alpha`` has forgotten its seed (weight < 1e-12)."""
    return math.ceil(math.log(1e-12) / math.log(1.0 - alpha)) + margin
