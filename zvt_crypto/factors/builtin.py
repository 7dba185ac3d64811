"""Defines (and so registers) every built-in factor: the technical indicators and the crypto-native,
multi-timeframe and ML factors. Imported on the first factor lookup, never at package import."""

from __future__ import annotations

from zvt_crypto.factors import crypto, ml, timeframes  # noqa: F401 - defining the classes registers them
from zvt_crypto.factors.base import factor_from_indicator
from zvt_crypto.factors.indicators import INDICATORS

TECHNICAL = {name: factor_from_indicator(spec) for name, spec in INDICATORS.items()}
