"""Errors of the trader: a strategy that peeks at the future, or one that fails while running."""

from __future__ import annotations

from zvt_crypto.contract.errors import InvalidInputError, ZvtCryptoError


class LookAheadError(ZvtCryptoError):
    """A strategy read data it could not have known at decision time (a bar after the current one, or an
    indicator whose past values change when the future is removed)."""


class StrategyError(ZvtCryptoError):
    """A strategy raised while the engine ran it; the message names the strategy, the bar and the cause."""


__all__ = ["InvalidInputError", "LookAheadError", "StrategyError"]
