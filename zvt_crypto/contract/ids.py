"""Deterministic, readable identifiers.

Entity ids follow ZVT's ``{type}_{exchange}_{symbol}``, with the ccxt unified symbol made safe for URLs and
file names. Examples::

    pair_binance_BTC-USDT                   # spot BTC/USDT on binance
    perp_binanceusdm_BTC-USDT.USDT          # linear perpetual BTC/USDT:USDT
    perp_binanceusdm_BTC-USDT.USDT-240628   # dated future BTC/USDT:USDT-240628
    asset_binance_BTC                       # the asset BTC on binance

The safe symbol is written character by character (:func:`safe_symbol`; :func:`symbol_of` reads it back):

* ASCII letters and digits stand for themselves;
* ``:`` is written ``.``;
* before the first ``:``, ``/`` is written ``-``; after it, ``-`` stands for itself (ccxt joins the settle
  currency, expiry, strike and option type with ``-``: ``BTC/USD:BTC-240628-60000-C``);
* every other character — a literal ``.``, ``_``, ``~``, a ``-`` before the first ``:``, a ``/`` after it,
  spaces, punctuation, non-ASCII — is written as its UTF-8 bytes, ``~XX`` each (upper-case hex).

Why this scheme: each character maps to a fixed token sequence that depends only on whether a ``:`` came
before, ``~`` is always followed by exactly two hex digits, and UTF-8 is a prefix code, so an id is read back
token by token and two symbols never share an id (``X-Y/Z`` is ``X~2DY-Z``, ``X/Y-Z`` is ``X-Y~2DZ``;
``^/USDT`` is ``~5E-USDT``, ``币/USDT`` is ``~E5~B8~81-USDT``). The common forms — ``BASE/QUOTE``,
``BASE/QUOTE:SETTLE`` and dated futures and options — keep the readable ids of earlier versions. Ids of symbols
with a literal ``-`` or ``.`` in a currency code, a ``/`` after the ``:`` or a non-ASCII character changed (the
earlier scheme gave some of them one id for two symbols); migration 0007 renames them in existing stores.

A row is identified by its entity id, level (for bars) and UTC open time: see :func:`row_id`.
"""

from __future__ import annotations

import re
from typing import Literal

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.text import shown

EntityType = Literal["asset", "pair", "perp"]
ENTITY_TYPES: tuple[str, ...] = ("asset", "pair", "perp")

#: width of the ``entity_id`` columns
ENTITY_ID_LENGTH = 128
_EXCHANGE = re.compile(r"^[a-z0-9]+$")
#: one token of a safe symbol: a letter or digit, a separator, or one escaped byte
_TOKEN = re.compile(r"[A-Za-z0-9]|[-.]|~[0-9A-F]{2}")


def safe_symbol(symbol: str) -> str:
    """``BTC/USDT:USDT`` → ``BTC-USDT.USDT`` (the scheme is described in this module's docstring)."""
    out: list[str] = []
    settled = False  # a ":" came before
    for char in symbol:
        if char.isascii() and char.isalnum():
            out.append(char)
        elif char == ":":
            out.append(".")
            settled = True
        elif (char == "/" and not settled) or (char == "-" and settled):
            out.append("-")
        else:
            try:
                out.extend(f"~{byte:02X}" for byte in char.encode("utf-8"))
            except UnicodeEncodeError:  # a lone surrogate: no ccxt symbol has one
                raise InvalidInputError(f"invalid symbol {shown(symbol)}: it is not valid Unicode text") from None
    return "".join(out)


def unsafe_symbol(safe: str) -> str:
    """The ccxt symbol written ``safe`` by :func:`safe_symbol` (``BTC-USDT.USDT`` → ``BTC/USDT:USDT``).

    Raises ``ValueError`` for text that :func:`safe_symbol` never writes, so each symbol has exactly one id."""
    out: list[str] = []
    pending = bytearray()  # escaped bytes: a character may take up to four
    settled = False
    position = 0
    while position < len(safe):
        token = _TOKEN.match(safe, position)
        if token is None:
            raise ValueError(f"unexpected {safe[position]!r} at position {position}")
        text = token.group()
        position = token.end()
        if text.startswith("~"):
            pending.append(int(text[1:], 16))
            continue
        if pending:
            out.append(pending.decode("utf-8"))  # UnicodeDecodeError is a ValueError
            pending.clear()
        if text == ".":
            out.append(":")
            settled = True
        elif text == "-":
            out.append("-" if settled else "/")
        else:
            out.append(text)
    if pending:
        out.append(pending.decode("utf-8"))
    symbol = "".join(out)
    if safe_symbol(symbol) != safe:
        raise ValueError("it is not how the symbol is written (escape only what must be, upper-case hex)")
    return symbol


def entity_type_of_symbol(symbol: str) -> EntityType:
    """ccxt unified symbols of derivatives carry their settle currency after ``:``; spot ones do not."""
    return "perp" if ":" in symbol else "pair"


def check_exchange_id(exchange: str) -> str:
    """``exchange`` if it is written as a ccxt id (lower-case letters and digits); whether ccxt knows it is
    :func:`zvt_crypto.recorders.exchange.check_ccxt_exchange`'s question."""
    if not exchange or not _EXCHANGE.match(exchange):
        raise InvalidInputError(
            f"invalid exchange id {shown(exchange)}: use the lower-case ccxt id such as 'binance' or 'binanceusdm'"
        )
    return exchange


def check_symbol(symbol: str, entity_type: str | None = None) -> str:
    """Reject text that is not a ccxt unified symbol (assets are plain codes such as ``BTC``)."""
    needs_slash = entity_type != "asset"
    if not symbol or symbol != symbol.strip() or (needs_slash and "/" not in symbol):
        raise InvalidInputError(
            f"invalid symbol {shown(symbol)}: use the ccxt unified form such as 'BTC/USDT' (spot) "
            "or 'BTC/USDT:USDT' (perpetual)"
        )
    return symbol


def entity_id(exchange: str, symbol: str, entity_type: EntityType | None = None) -> str:
    """Entity id of a ccxt unified ``symbol`` on ``exchange``.

    >>> entity_id("binance", "BTC/USDT")
    'pair_binance_BTC-USDT'
    >>> entity_id("binanceusdm", "BTC/USDT:USDT")
    'perp_binanceusdm_BTC-USDT.USDT'
    """
    check_exchange_id(exchange)
    check_symbol(symbol, entity_type)
    kind = entity_type or entity_type_of_symbol(symbol)
    if kind not in ENTITY_TYPES:
        raise InvalidInputError(f"unknown entity type {kind!r}; use one of {', '.join(ENTITY_TYPES)}")
    value = f"{kind}_{exchange}_{safe_symbol(symbol)}"
    if len(value) > ENTITY_ID_LENGTH:
        raise InvalidInputError(f"symbol {shown(symbol)} is too long: its entity id would exceed "
                                f"{ENTITY_ID_LENGTH} characters")
    return value


def parse_entity_id(value: str) -> tuple[str, str, str]:
    """Split an entity id into ``(type, exchange, safe_symbol)``."""
    parts = value.split("_", 2)
    if len(parts) != 3 or parts[0] not in ENTITY_TYPES or not _EXCHANGE.match(parts[1]) or not parts[2]:
        raise InvalidInputError(
            f"invalid entity id {shown(value)}: expected '{{type}}_{{exchange}}_{{symbol}}' such as "
            "'pair_binance_BTC-USDT'"
        )
    return parts[0], parts[1], parts[2]


def symbol_of(value: str) -> str:
    """The exact ccxt symbol (or asset code) of an entity id: ``perp_binanceusdm_BTC-USDT.USDT`` → ``BTC/USDT:USDT``.

    >>> symbol_of("pair_binance_X~2DY-Z")
    'X-Y/Z'
    """
    _, _, safe = parse_entity_id(value)
    try:
        return unsafe_symbol(safe)
    except ValueError as exc:
        raise InvalidInputError(
            f"invalid entity id {shown(value)}: its symbol part {shown(safe)} is malformed: {exc}") from None


def row_id(entity: str, timestamp_ms: int, level: str | None = None) -> str:
    """Readable id of one row: ``pair_binance_BTC-USDT_1h_2024-01-01T00:00:00Z``."""
    from zvt_crypto.contract.timeutil import iso

    middle = f"_{level}" if level else ""
    return f"{entity}{middle}_{iso(timestamp_ms)}"
