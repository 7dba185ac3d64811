"""Build ccxt clients from our configuration, and say clearly when a venue cannot serve a data kind."""

from __future__ import annotations

import difflib
from typing import Any

from zvt_crypto.contract.config import Config, deep_merge
from zvt_crypto.contract.errors import InvalidInputError, ZvtCryptoError
from zvt_crypto.recorders.venues import venue_profile

# Every request has a timeout and ccxt's own rate limiter stays on; the user's config may change both.
DEFAULT_CCXT_OPTIONS: dict[str, Any] = {"enableRateLimit": True, "timeout": 10_000}


class UnsupportedDataError(ZvtCryptoError):
    """The venue does not offer a data kind (its ccxt ``has`` flag is false)."""


def check_exchange_id(exchange_id: str) -> str:
    import ccxt

    if exchange_id not in ccxt.exchanges:
        close = difflib.get_close_matches(exchange_id, ccxt.exchanges, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see ccxt.exchanges for the list"
        raise InvalidInputError(f"unknown exchange {exchange_id!r}: not a ccxt exchange id{hint}")
    return exchange_id


def ccxt_options(exchange_id: str, config: Config) -> dict[str, Any]:
    """Defaults, then the venue profile, then the user's ``[exchanges.<id>.ccxt]`` table and env keys."""
    merged = deep_merge(DEFAULT_CCXT_OPTIONS, venue_profile(exchange_id).ccxt)
    return deep_merge(merged, config.ccxt_options(exchange_id))


def create_exchange(exchange_id: str, config: Config, *, asynchronous: bool = True) -> Any:
    """A ccxt client (``ccxt.async_support`` by default) configured for ``exchange_id``.

    The caller closes an async client (``await exchange.close()``)."""
    check_exchange_id(exchange_id)
    if asynchronous:
        import ccxt.async_support as ccxt_module
    else:
        import ccxt as ccxt_module  # type: ignore[no-redef]
    return getattr(ccxt_module, exchange_id)(ccxt_options(exchange_id, config))


def require(exchange: Any, capability: str, kind: str) -> None:
    """Raise :class:`UnsupportedDataError` if ``exchange.has[capability]`` is false."""
    if not exchange.has.get(capability):
        raise UnsupportedDataError(
            f"{exchange.id} does not offer {kind} through ccxt (has['{capability}'] is false); "
            "record this kind from another venue"
        )
