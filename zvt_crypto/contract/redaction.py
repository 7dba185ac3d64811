"""Keeping secrets out of everything we print, log or store: one module every output path uses.

Two rules:

* **Text** (messages, log lines, stored errors): every URL in it loses its userinfo (``user:***@``, or ``***@``
  for a bare token) and the values of secret-looking query parameters (``?signature=***``). ccxt names the URL of
  a failed request in its exceptions, so a credential embedded in ``urls`` or a proxy setting would otherwise
  reach the terminal, ``schedule.log`` and the job history.
* **ccxt options** (``zvt-crypto info``): an allow-list. Only keys known to hold no secret are shown as they are
  (URLs among them redacted as above); every other value — ``apiKey``, ``login``, ``headers``, an option ccxt
  added last month — is shown as ``***``. A deny-list would leak every credential it did not foresee.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from zvt_crypto.contract.errors import exception_chain

REDACTED = "***"

# scheme://userinfo@ — RFC 3986 userinfo holds no "/", "?", "#" or "@" (they must be percent-encoded).
_USERINFO = re.compile(
    r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^\s/?#@:'\"<>]*)(?P<password>:[^\s/?#@'\"<>]*)?@"
)
# a query (or fragment) parameter whose name says it carries a credential
_SECRET_NAME = r"[\w.\-]*(?:key|token|secret|sig|pass|pwd|auth|credential|session)[\w.\-]*"
_SECRET_PARAM = re.compile(rf"(?P<lead>[?&;#](?P<name>{_SECRET_NAME})=)(?P<value>[^&;#\s'\"<>]*)", re.IGNORECASE)
_SECRET_KEY = re.compile(rf"^{_SECRET_NAME}$", re.IGNORECASE)

#: ccxt constructor keys shown as they are: settings, not credentials.
SAFE_CCXT_KEYS = frozenset({
    "timeout", "rateLimit", "enableRateLimit", "verbose", "hostname", "precisionMode", "paddingMode",
    "validateServerSsl", "validateClientSsl", "substituteCommonCurrencyCodes", "reduceFees", "commonCurrencies",
    "enableLastJsonResponse", "enableLastHttpResponse", "enableLastResponseHeaders", "newUpdates", "timeframes",
    "quoteJsonNumbers", "returnResponseHeaders", "throttle", "rollingWindowSize", "maxRequestsQueue",
})
#: ccxt keys holding URLs (endpoints, proxies): shown with their credentials redacted.
URL_CCXT_KEYS = frozenset({
    "urls", "proxy", "proxies", "proxyUrl", "proxy_url", "httpProxy", "http_proxy", "httpsProxy", "https_proxy",
    "socksProxy", "socks_proxy", "wsProxy", "ws_proxy", "wssProxy", "wss_proxy", "wsSocksProxy", "ws_socks_proxy",
    "aiohttp_proxy", "origin",
})


def _userinfo(match: re.Match[str]) -> str:
    if match.group("password") is not None:  # user:password@ → the user name stays (it tells which account)
        return f"{match.group('scheme')}{match.group('user')}:{REDACTED}@"
    return f"{match.group('scheme')}{REDACTED}@"  # a bare user part is a token more often than a name


def redact_text(text: str) -> str:
    """``text`` with the userinfo and secret query values of every URL in it replaced by ``***``.

    >>> redact_text("GET https://u:pw@host/api?symbol=BTC&signature=abc failed")
    'GET https://u:***@host/api?symbol=BTC&signature=*** failed'
    """
    if "://" not in text and "=" not in text:
        return text
    return redact_query(_USERINFO.sub(_userinfo, text))


def redact_query(text: str) -> str:
    """``text`` with the values of secret-looking URL query parameters (``signature=``, ``apikey=`` …) replaced."""
    return _SECRET_PARAM.sub(lambda match: match.group("lead") + REDACTED, text)


def url_origin(url: str) -> str:
    """Scheme and host of ``url`` only, for URLs whose path is the secret (Slack or Discord webhooks).

    >>> url_origin("https://u:pw@hooks.example.com:8443/services/T0/B0/XYZ")
    'https://hooks.example.com:8443/…'
    """
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}/…"


def redact_value(value: Any) -> Any:
    """:func:`redact_text` applied to every string in ``value`` (dicts, lists and tuples are copied)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(item) for item in value)
    return value


def redact_exception(exc: BaseException) -> BaseException:
    """Redact ``exc``'s arguments (what ``str(exc)`` shows) and those of its causes, in place; returns ``exc``.

    Used where an exception first leaves code that may put a URL in it (a ccxt client's HTTP call), so every later
    message, log line and stored error made from it is clean."""
    for current in exception_chain(exc):
        try:
            current.args = tuple(redact_value(arg) for arg in current.args)
        except (AttributeError, TypeError):  # an exception type with read-only args: leave it
            pass
    return exc


def _hidden(value: Any) -> Any:
    """Every leaf of ``value`` replaced by ``***`` (keys and empty values kept: they show the shape, not secrets)."""
    if isinstance(value, Mapping):
        return {key: _hidden(item) for key, item in value.items()}
    if value is None or value == "" or isinstance(value, bool):
        return value
    return REDACTED


def _options(value: Any) -> Any:
    """ccxt's ``options`` table: settings, except under secret-looking keys; URLs in it redacted."""
    if isinstance(value, Mapping):
        return {key: _hidden(item) if _SECRET_KEY.match(str(key)) else _options(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_options(item) for item in value]
    return redact_text(value) if isinstance(value, str) else value


def redact_ccxt_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """A printable copy of ccxt constructor options: :data:`SAFE_CCXT_KEYS` as they are, URLs
    (:data:`URL_CCXT_KEYS`) redacted, ``options`` but its secret-looking keys, and ``***`` for everything else."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key in SAFE_CCXT_KEYS:
            out[key] = value
        elif key in URL_CCXT_KEYS:
            out[key] = redact_value(value)
        elif key == "options":
            out[key] = _options(value)
        else:
            out[key] = _hidden(value)
    return out
