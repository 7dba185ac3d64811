"""Factors on stored data: a technical library, crypto-native factors, multi-timeframe alignment,
cross-sectional scoring, ML factors and research tear sheets — persisted in the store and incremental.

>>> from zvt_crypto.factors import compute_factor, load_factor, make_factor
>>> compute_factor(make_factor("rsi", {"window": 14}), exchange="binance", symbols=["BTC/USDT"],
...                level="1h")  # doctest: +SKIP

Names resolve lazily, so importing this package costs nothing until a factor is used.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Factor": "zvt_crypto.factors.base",
    "FactorInput": "zvt_crypto.factors.data",
    "IndicatorFactor": "zvt_crypto.factors.base",
    "LONG": "zvt_crypto.factors.base",
    "NEUTRAL": "zvt_crypto.factors.base",
    "SHORT": "zvt_crypto.factors.base",
    "factor_names": "zvt_crypto.factors.base",
    "get_factor": "zvt_crypto.factors.base",
    "make_factor": "zvt_crypto.factors.base",
    "register_function": "zvt_crypto.factors.base",
    "FactorRun": "zvt_crypto.factors.engine",
    "compute_factor": "zvt_crypto.factors.engine",
    "load_factor": "zvt_crypto.factors.engine",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'zvt_crypto.factors' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
