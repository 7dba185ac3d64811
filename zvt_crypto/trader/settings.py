"""The settings of a simulated account — one object for backtests, paper accounts, optimisation and walk-forward.

>>> settings = BacktestSettings(cash=5_000, fee=0.001, slippage=2, risk={"max_drawdown": 0.25})
>>> settings.to_dict()["slippage"], settings.risk.max_drawdown
({'model': 'FixedBps', 'bps': 2.0}, 0.25)
>>> BacktestSettings.from_dict(settings.to_dict()) == settings
True

Every check of a setting and its message lives here (:meth:`BacktestSettings.validate`, run when the object is
built), so a backtest and a paper account refuse the same input with the same words, and "paper equals backtest"
holds because both run :func:`~zvt_crypto.trader.engine.run_backtest` with the same object. It depends on no
engine (the engines are named here), so a live broker can reuse it.

What it covers: cash; fees (a rate, a ``(maker, taker)`` pair, or None: the markets' own); the slippage model;
leverage (one value or one per symbol; spot trades at 1); the margin model — isolated margin per position, with
``maintenance_margin`` and ``liquidation_fee`` (default: the maintenance rate, so the margin is lost, as on
Binance); risk limits; the engine; ``periods_per_year`` (annualisation of the metrics; None: inferred from the
bars). Funding is not a setting: perps pay and receive the recorded funding rates.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader.fees import fee_pair
from zvt_crypto.trader.risk import NO_LIMITS, RiskLimits
from zvt_crypto.trader.slippage import NO_SLIPPAGE, Slippage, as_slippage, slippage_from_dict

__all__ = ["ENGINES", "RECORDED_KEYS", "RUN_OPTIONS", "BacktestSettings"]

ENGINES = ("event", "vectorised")
#: settings that change no trade (the vectorised engine makes the event engine's trades; ``periods_per_year``
#: only annualises metrics): a paper account's definition leaves them out
RUN_OPTIONS = ("engine", "periods_per_year")
#: keys a stored run keeps next to its settings: what the run found out (the fee rates it charged), not an input
RECORDED_KEYS = ("fees",)


@dataclass(frozen=True)
class BacktestSettings:
    """The account and its costs (see the module docstring). Numbers are normalised (ints to floats, lists to
    tuples, a slippage number to :class:`~zvt_crypto.trader.slippage.FixedBps`, a risk mapping to
    :class:`~zvt_crypto.trader.risk.RiskLimits`) and checked when the object is built."""

    cash: float = 10_000.0
    fee: float | tuple[float, float] | None = None
    slippage: Slippage = field(default=NO_SLIPPAGE)
    leverage: float | tuple[float, ...] = 1.0
    maintenance_margin: float = 0.005
    liquidation_fee: float | None = None
    risk: RiskLimits = field(default=NO_LIMITS)
    engine: str = "event"
    periods_per_year: float | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise once, here
        if isinstance(self.slippage, Mapping):
            set_(self, "slippage", slippage_from_dict(dict(self.slippage)))
        else:
            set_(self, "slippage", as_slippage(self.slippage))
        if self.risk is None:
            set_(self, "risk", NO_LIMITS)
        elif isinstance(self.risk, Mapping):
            set_(self, "risk", _risk_from_dict(self.risk))
        if isinstance(self.fee, (list, tuple)):
            set_(self, "fee", tuple(self.fee))
        if isinstance(self.leverage, (list, tuple)):
            set_(self, "leverage", tuple(self.leverage))
        self.validate()
        for name in ("cash", "maintenance_margin", "liquidation_fee", "periods_per_year"):
            value = getattr(self, name)
            if value is not None:
                set_(self, name, float(value))
        if self.fee is not None:
            maker, taker = fee_pair(self.fee)
            set_(self, "fee", maker if isinstance(self.fee, (int, float)) else (maker, taker))
        leverage = self.leverage
        set_(self, "leverage", float(leverage) if isinstance(leverage, (int, float)) else
             tuple(float(x) for x in leverage))

    def validate(self) -> BacktestSettings:
        """Check every setting (the only place these checks and their messages live); returns the settings."""
        if not (_is_number(self.cash) and math.isfinite(self.cash) and self.cash > 0):
            raise InvalidInputError(f"cash must be a positive number, got {self.cash!r}")
        if self.fee is not None:
            fee_pair(self.fee)
        if not isinstance(self.slippage, Slippage):
            raise InvalidInputError(f"slippage must be a number of bps or a Slippage model, got {self.slippage!r}")
        levels: Any = (self.leverage,) if _is_number(self.leverage) else self.leverage
        if not isinstance(levels, (list, tuple)) or not levels or any(
                not _is_number(x) or not math.isfinite(x) or x < 1 for x in levels):
            raise InvalidInputError(f"leverage must be ≥ 1 (one value, or one per symbol), got {self.leverage!r}")
        if not (_is_number(self.maintenance_margin) and 0 <= self.maintenance_margin < 1):
            raise InvalidInputError(f"maintenance_margin must be in [0, 1), got {self.maintenance_margin!r}")
        if self.liquidation_fee is not None and not (_is_number(self.liquidation_fee)
                                                     and 0 <= self.liquidation_fee < 1):
            raise InvalidInputError(f"liquidation_fee must be in [0, 1) (a fraction of the notional) or None "
                                    f"(the maintenance rate), got {self.liquidation_fee!r}")
        if not isinstance(self.risk, RiskLimits):
            raise InvalidInputError(f"risk must be RiskLimits or a mapping of its limits, got {self.risk!r}")
        if self.engine not in ENGINES:
            raise InvalidInputError(f"unknown engine {self.engine!r}; use one of {', '.join(ENGINES)}")
        if self.periods_per_year is not None and not (
                _is_number(self.periods_per_year) and math.isfinite(self.periods_per_year)
                and self.periods_per_year > 0):
            raise InvalidInputError(f"periods per year must be a positive number, got {self.periods_per_year!r}")
        return self

    def leverages(self, symbols: Sequence[str], perp: Sequence[bool]) -> list[float]:
        """One leverage per symbol of a market (``perp``: which are perps); an error for a wrong count or a spot
        market with leverage."""
        levels = [self.leverage] * len(symbols) if isinstance(self.leverage, float) else list(self.leverage)
        if len(levels) != len(symbols):
            raise InvalidInputError(f"leverage: one value, or one per symbol ({len(symbols)}), got {levels!r}")
        for symbol, is_perp, value in zip(symbols, perp, levels, strict=True):
            if not is_perp and value != 1:
                raise InvalidInputError(f"{symbol} is a spot market: it trades at leverage 1")
        return levels

    def replace(self, **changes: Any) -> BacktestSettings:
        """A copy with ``changes`` (checked like any new settings)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self, *, run_options: bool = True) -> dict[str, Any]:
        """JSON-ready; :meth:`from_dict` reads it back. ``run_options=False`` leaves out :data:`RUN_OPTIONS` (what
        a paper account stores: its settings and definition hash predate them)."""
        out: dict[str, Any] = {
            "cash": self.cash,
            "fee": list(self.fee) if isinstance(self.fee, tuple) else self.fee,
            "slippage": self.slippage.to_dict(),
            "leverage": list(self.leverage) if isinstance(self.leverage, tuple) else self.leverage,
            "maintenance_margin": self.maintenance_margin,
            "liquidation_fee": self.liquidation_fee,
            "risk": self.risk.to_dict(),
            "engine": self.engine,
            "periods_per_year": self.periods_per_year,
        }
        if not run_options:
            for key in RUN_OPTIONS:
                del out[key]
        return out

    def run_kwargs(self) -> dict[str, Any]:
        """The settings as :func:`~zvt_crypto.trader.engine.run_backtest` keyword arguments."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> BacktestSettings:
        """Settings from :meth:`to_dict`'s form, or as stored before it existed: a paper account's ``settings``, or
        a stored run's columns and ``settings`` merged (its recorded ``fees`` are ignored: they are recomputed
        from the markets). A missing key takes its default; an unknown key is an error."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names) - set(RECORDED_KEYS))
        if unknown:
            raise InvalidInputError(f"unknown backtest setting(s) {', '.join(unknown)}; the settings are "
                                    f"{', '.join(names)}")
        return cls(**{key: values[key] for key in names if key in values})

    @classmethod
    def from_arguments(cls, settings: BacktestSettings | None, options: Mapping[str, Any] | None = None,
                       **given: Any) -> BacktestSettings:
        """What a function that takes both ``settings=`` and the separate keyword arguments runs with: ``settings``,
        or the keyword arguments (``given``, plus ``options``: ``optimize(..., risk=…)``) as settings. Both at once
        is an error, as is an unknown option (the message lists the accepted ones)."""
        options = dict(options or {})
        names = [f.name for f in dataclasses.fields(cls)]
        extra = sorted(set(options) - set(names))
        if extra:
            rest = sorted(set(names) - set(given))
            raise InvalidInputError(f"unknown backtest option(s) {', '.join(extra)}; also accepted: "
                                    f"{', '.join(rest)}")
        keywords = cls(**given, **options)
        if settings is None:
            return keywords
        if not isinstance(settings, BacktestSettings):
            raise InvalidInputError(f"settings must be BacktestSettings, got {type(settings).__name__}")
        if keywords != _DEFAULTS:
            raise InvalidInputError("pass the settings either as settings=BacktestSettings(...) or as keyword "
                                    "arguments (cash=, fee=, …), not both")
        return settings


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _risk_from_dict(values: Mapping[str, Any]) -> RiskLimits:
    names = [f.name for f in dataclasses.fields(RiskLimits)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise InvalidInputError(f"unknown risk limit(s) {', '.join(unknown)}; the limits are {', '.join(names)}")
    return RiskLimits(**values)


_DEFAULTS = BacktestSettings()
