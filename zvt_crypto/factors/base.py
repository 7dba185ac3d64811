"""The factor contract: what a factor declares, how it is named and how its parameters are checked.

A factor reads its inputs for a set of entities and one level (:class:`FactorInput`), transforms them with
vectorised code into a frame indexed ``(entity_id, timestamp)`` with one column per output, and may add ZVT's
``filter_result`` (1 long, −1 short, 0 neutral) and ``score_result`` (in [0, 1]). The engine
(:mod:`zvt_crypto.factors.engine`) persists the result under :meth:`Factor.factor_id` and reruns it
incrementally.

Two ways to write one::

    class Momentum(Factor):
        name = "momentum"
        outputs = ("momentum",)
        params = {"window": 20}

        def warmup(self, level: Level) -> int:
            return self.p["window"]

        def compute(self, data: FactorInput) -> pd.DataFrame:
            close = data.bars()["close"]
            return close.groupby(level="entity_id").pct_change(self.p["window"]).to_frame("momentum")

    @register_function(outputs=("spread",), warmup=lambda window: window)
    def hl_spread(bars: pd.DataFrame, window: int = 20) -> pd.DataFrame:   # one entity's bars
        return ((bars.high - bars.low) / bars.close).rolling(window).mean().to_frame("spread")

Defining a subclass with a ``name`` registers it in the factor registry (third-party packages register through
the ``zvt_crypto.factors`` entry-point group: importing the module is enough).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from zvt_crypto.contract.errors import ZvtCryptoError
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.params import resolve_params
from zvt_crypto.contract.registry import factors as factor_registry
from zvt_crypto.domain.factors import VALUE_COLUMNS

if TYPE_CHECKING:
    from zvt_crypto.factors.data import FactorInput
    from zvt_crypto.factors.indicators.spec import Indicator

LONG, NEUTRAL, SHORT = 1, 0, -1


class FactorOutputError(ZvtCryptoError):
    """A factor's function returned a frame without the columns the factor declares as its outputs."""


class Factor:
    """Base of every factor. Subclasses set ``name``, ``outputs`` and ``params`` (defaults, whose types the
    values must have) and implement :meth:`compute`; :meth:`warmup` and :meth:`signals` are optional."""

    name: ClassVar[str] = ""
    outputs: ClassVar[tuple[str, ...]] = ()
    params: ClassVar[dict[str, Any]] = {}
    category: ClassVar[str] = "other"
    #: bump when the computation changes: stored results of another version are recomputed, not mixed
    version: ClassVar[str] = "1"
    #: outputs that are running sums (continued from the last stored value on an incremental run)
    cumulative: ClassVar[tuple[str, ...]] = ()
    #: the entity type the factor reads ("pair" or "perp"); None: whatever the caller names
    entity_type: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            if len(cls.outputs) > len(VALUE_COLUMNS):
                raise TypeError(f"{cls.__name__}: at most {len(VALUE_COLUMNS)} outputs, got {len(cls.outputs)}")
            factor_registry.register(cls.name, cls)

    def __init__(self, **params: Any) -> None:
        self.p: dict[str, Any] = resolve_params(self.name, self.params, params, kind="factor")
        self.validate()

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.p.items())
        return f"{type(self).__name__}({args})"

    # -- what subclasses provide ------------------------------------------------------------------------------
    def validate(self) -> None:
        """Check parameter values together (e.g. ``fast < slow``); raise :class:`InvalidInputError`."""

    def warmup(self, level: Level) -> int | None:
        """Bars of ``level`` needed before the first final value; ``None``: the whole history."""
        return 0

    def compute(self, data: FactorInput) -> pd.DataFrame:  # pragma: no cover - abstract
        """Values for every bar of ``data`` (warm-up included), indexed ``(entity_id, timestamp)``."""
        raise NotImplementedError

    def signals(self, values: pd.DataFrame) -> pd.DataFrame | None:
        """Optional ``filter_result`` / ``score_result`` columns for ``values`` (same index)."""
        return None

    # -- naming ------------------------------------------------------------------------------------------------
    def factor_id(self, level: Level | str) -> str:
        """Deterministic, readable id of this factor at ``level``: ``macd:1h:fast=12,signal=9,slow=26``."""
        params = ",".join(f"{key}={_format(value)}" for key, value in sorted(self.p.items()))
        return f"{self.name}:{Level.parse(level)}:{params}" if params else f"{self.name}:{Level.parse(level)}"

    @classmethod
    def describe(cls) -> str:
        doc = (cls.__doc__ or "").strip().splitlines()
        return doc[0] if doc else ""


class IndicatorFactor(Factor):
    """A technical indicator (a function of one entity's bars) run on every entity of the input."""

    indicator: ClassVar[Indicator]

    def validate(self) -> None:
        # Run on no bars: the function's own parameter checks fire before any data is read.
        self.indicator(_EMPTY_BARS, **self.p)

    def warmup(self, level: Level) -> int | None:
        return self.indicator.warmup_bars(**self.p)

    def compute(self, data: FactorInput) -> pd.DataFrame:
        return per_entity(data.bars(), lambda bars: self.indicator(bars, **self.p), self.outputs, data.on_entity)

    @classmethod
    def describe(cls) -> str:
        doc = cls.indicator.doc.strip().splitlines()
        return doc[0] if doc else cls.indicator.name


_EMPTY_BARS = pd.DataFrame({name: pd.Series(dtype="float64") for name in ("open", "high", "low", "close", "volume")},
                           index=pd.DatetimeIndex([], tz="UTC", name="timestamp"))


def factor_from_indicator(spec: Indicator) -> type[IndicatorFactor]:
    """Wrap an indicator as a registered factor class of the same name."""
    attributes = {"name": spec.name, "outputs": spec.outputs, "params": dict(spec.params), "category": spec.category,
                  "cumulative": spec.cumulative, "indicator": spec, "__doc__": spec.doc,
                  "__module__": spec.function.__module__}
    return type(f"{spec.name.title().replace('_', '')}Factor", (IndicatorFactor,), attributes)


def register_function(*, outputs: Sequence[str], warmup: Callable[..., int | None], name: str | None = None,
                      category: str = "other", cumulative: Sequence[str] = ()) -> Callable[[Callable[..., Any]], Any]:
    """Register a plain function of one entity's bars as a factor (see the module docstring)."""
    from zvt_crypto.factors.indicators.spec import indicator

    def wrap(function: Callable[..., pd.DataFrame]) -> type[IndicatorFactor]:
        spec = indicator(outputs=tuple(outputs), warmup=warmup, category=category, name=name,
                         cumulative=tuple(cumulative), catalog=False)(function)
        return factor_from_indicator(spec)

    return wrap


def per_entity(frame: pd.DataFrame, function: Callable[[pd.DataFrame], pd.DataFrame],
               outputs: Sequence[str], on_entity: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Apply a one-entity function to each entity's block of an ``(entity_id, timestamp)`` frame.

    One Python call per entity (never per row); blocks are contiguous because frames are sorted by key.
    ``on_entity(done)`` hears the number of entities done after each one."""
    if frame.empty:
        index = pd.MultiIndex.from_arrays([pd.Index([], dtype=object), pd.DatetimeIndex([], tz="UTC")],
                                          names=["entity_id", "timestamp"])
        return pd.DataFrame({name: pd.Series(dtype="float64") for name in outputs}, index=index)
    parts = []
    for entity, block in frame.groupby(level="entity_id", sort=False, observed=True):
        values = function(block.droplevel("entity_id"))
        missing = [name for name in outputs if name not in values]
        if missing:
            raise FactorOutputError(f"factor function returned no column(s) {', '.join(missing)}")
        values = values[list(outputs)]
        values.index = pd.MultiIndex.from_arrays(
            [pd.Index([entity] * len(values), dtype=object), values.index], names=["entity_id", "timestamp"])
        parts.append(values)
        if on_entity is not None:
            on_entity(len(parts))
    return pd.concat(parts)


def get_factor(name: str) -> type[Factor]:
    """The factor class registered as ``name`` (built-ins are defined on first use)."""
    import zvt_crypto.factors.builtin  # noqa: F401 - defining the built-in factors registers them

    return factor_registry.get(name)


def factor_names() -> list[str]:
    import zvt_crypto.factors.builtin  # noqa: F401

    return factor_registry.names()


def make_factor(name: str, params: Mapping[str, Any] | None = None) -> Factor:
    """``get_factor(name)(**params)`` with parameters that may be strings (from the command line).

    >>> make_factor("rsi", {"window": "14"}).params
    {'window': 14}
    """
    return get_factor(name)(**dict(params or {}))


def _format(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)
