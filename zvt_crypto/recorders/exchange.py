"""Build ccxt clients from our configuration, and say clearly when a venue cannot serve a data kind."""

from __future__ import annotations

import asyncio
import difflib
import logging
from collections.abc import Mapping
from typing import Any

from zvt_crypto.contract.config import Config, deep_merge
from zvt_crypto.contract.errors import InvalidInputError, ZvtCryptoError
from zvt_crypto.contract.redaction import redact_exception
from zvt_crypto.contract.text import shown
from zvt_crypto.recorders.venues import venue_profile

log = logging.getLogger(__name__)
# Every request has a timeout and ccxt's own rate limiter stays on; the user's config may change both.
DEFAULT_CCXT_OPTIONS: dict[str, Any] = {"enableRateLimit": True, "timeout": 10_000}


class UnsupportedDataError(ZvtCryptoError):
    """The venue does not offer a data kind (its ccxt ``has`` flag is false)."""


def check_ccxt_exchange(exchange_id: str) -> str:
    """``exchange_id`` if the installed ccxt has a client for it, else an error suggesting close ids (the form
    alone is :func:`zvt_crypto.contract.ids.check_exchange_id`, which needs no ccxt)."""
    import ccxt

    if exchange_id not in ccxt.exchanges:
        close = difflib.get_close_matches(exchange_id, ccxt.exchanges, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see ccxt.exchanges for the list"
        raise InvalidInputError(f"unknown exchange {shown(exchange_id)}: not a ccxt exchange id{hint}")
    return exchange_id


def ccxt_options(exchange_id: str, config: Config) -> dict[str, Any]:
    """Defaults, then the venue profile, then the user's ``[exchanges.<id>.ccxt]`` table and env keys."""
    merged = deep_merge(DEFAULT_CCXT_OPTIONS, venue_profile(exchange_id).ccxt)
    return deep_merge(merged, config.ccxt_options(exchange_id))


def create_exchange(exchange_id: str, config: Config, *, asynchronous: bool = True) -> Any:
    """A ccxt client (``ccxt.async_support`` by default) configured for ``exchange_id``.

    The caller closes an async client (``await exchange.close()``)."""
    check_ccxt_exchange(exchange_id)
    if asynchronous:
        import ccxt.async_support as ccxt_module
    else:
        import ccxt as ccxt_module
    client = getattr(ccxt_module, exchange_id)(ccxt_options(exchange_id, config))
    _warn_unknown_options(client, config.ccxt_options(exchange_id))
    _redact_request_errors(client)
    return client


def unknown_ccxt_options(client: Any, options: Mapping[str, Any]) -> list[str]:
    """Keys of ``options`` that are neither attributes of ccxt's exchange class nor in its ``describe()``: ccxt sets
    them on the client and never reads them, so a typo (``url`` for ``urls``) silently leaves the default in use."""
    known = set(client.describe())
    return [key for key in options if key not in known and not hasattr(type(client), key)]


def _warn_unknown_options(client: Any, options: Mapping[str, Any]) -> None:
    for key in unknown_ccxt_options(client, options):
        close = difflib.get_close_matches(key, [*client.describe(), *DEFAULT_CCXT_OPTIONS, "apiKey", "secret"], n=1)
        hint = f"; did you mean {close[0]}?" if close else "; see the ccxt manual's exchange properties"
        log.warning("[exchanges.%s.ccxt] %s is not a ccxt option: ccxt ignores it, so its default stays in use%s",
                    client.id, key, hint)


def _redact_request_errors(client: Any) -> None:
    """ccxt puts the requested URL in the exceptions of a failed request: scrub credentials embedded in it (userinfo,
    ``?signature=``) where the exception is raised, before any message, log line or stored error is made of it."""
    original = client.fetch
    if asyncio.iscoroutinefunction(original):

        async def fetch_async(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            try:
                return await original(url, method, headers, body)
            except Exception as exc:  # noqa: BLE001 - re-raised: the same exception, its traceback kept
                raise redact_exception(exc)  # noqa: B904

        client.fetch = fetch_async
        return

    def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        try:
            return original(url, method, headers, body)
        except Exception as exc:  # noqa: BLE001 - re-raised
            raise redact_exception(exc)  # noqa: B904

    client.fetch = fetch


def require(exchange: Any, capability: str, kind: str) -> None:
    """Raise :class:`UnsupportedDataError` if ``exchange.has[capability]`` is false."""
    if not exchange.has.get(capability):
        raise UnsupportedDataError(
            f"{exchange.id} does not offer {kind} through ccxt (has['{capability}'] is false); "
            "record this kind from another venue"
        )
