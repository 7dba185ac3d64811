"""zvt_crypto: a quant research framework for crypto markets on one gap-audited store.

Importing the package is cheap and has no side effects: the names below resolve on first use (PEP 562), so
``import zvt_crypto as zc`` loads neither pandas nor SQLAlchemy nor ccxt until a name is used::

    import zvt_crypto as zc
    with zc.sim() as cfg:                    # the simulated Binance, offline
        zc.record("bars", exchange="binance", symbols=["BTC/USDT"], level="1h", start="2024-01-01", config=cfg)
    bars = zc.query_bars("binance", ["BTC/USDT"], "1h")
    result = zc.backtest("sma_cross", exchange="binance", symbols=["BTC/USDT"], level="1h", fee=0.001)
    result.stats, result.plot()

``help(zc.<name>)`` shows each one's arguments and an example; the modules behind them stay importable
(``from zvt_crypto.domain import Bar``, ``Bar.query_data(...)``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from zvt_crypto.contract.config import Config, load_config
    from zvt_crypto.contract.store import Store, get_store
    from zvt_crypto.domain.universe import get_entities
    from zvt_crypto.facade import backtest, coverage, optimize, paper, query_bars, record, sim, walk_forward
    from zvt_crypto.factors.base import make_factor
    from zvt_crypto.factors.engine import compute_factor, load_factor
    from zvt_crypto.factors.research import tear_sheet
    from zvt_crypto.trader.signals import SignalStrategy
    from zvt_crypto.trader.strategy import Strategy

_MODULES = {
    "zvt_crypto.contract.config": ("Config", "load_config"),
    "zvt_crypto.contract.store": ("Store", "get_store"),
    "zvt_crypto.domain.universe": ("get_entities",),
    "zvt_crypto.facade": ("backtest", "coverage", "optimize", "paper", "query_bars", "record", "walk_forward"),
    "zvt_crypto.factors.base": ("make_factor",),
    "zvt_crypto.factors.engine": ("compute_factor", "load_factor"),
    "zvt_crypto.factors.research": ("tear_sheet",),
    "zvt_crypto.trader.signals": ("SignalStrategy",),
    "zvt_crypto.trader.strategy": ("Strategy",),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}
# ``sim`` is the subpackage zvt_crypto.sim, callable as ``zc.sim(seed=7, now=None, *, home=None)`` (see its
# docstring): importing a subpackage sets it on this module, so a function of that name could not stay here.
_SUBPACKAGES = ("sim",)
__all__ = [
    "Config", "SignalStrategy", "Store", "Strategy", "__version__", "backtest", "compute_factor", "coverage",
    "get_entities", "get_store", "load_config", "load_factor", "make_factor", "optimize", "paper", "query_bars",
    "record", "sim", "tear_sheet", "walk_forward",
]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return import_module(f"zvt_crypto.{name}")
    if name not in _EXPORTS:
        raise AttributeError(f"module 'zvt_crypto' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBPACKAGES})
