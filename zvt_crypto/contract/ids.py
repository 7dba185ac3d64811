"""Deterministic, readable identifiers.

Entity ids follow ZVT's ``{type}_{exchange}_{symbol}``, with the ccxt unified symbol made safe for URLs and
file names: ``/`` becomes ``-`` and ``:`` becomes ``.``; any other character outside ``[A-Za-z0-9.-]`` is
written ``~XX`` (its hex code). Examples::

    pair_binance_BTC-USDT            # spot BTC/USDT on binance
    perp_binanceusdm_BTC-USDT.USDT   # linear perpetual BTC/USDT:USDT
    asset_binance_BTC                # the asset BTC on binance

A row is identified by its entity id, level (for bars) and UTC open time: see :func:`row_id`.
"""

from __future__ import annotations

import re
from typing import Literal

from zvt_crypto.contract.errors import InvalidInputError

EntityType = Literal["asset", "pair", "perp"]
ENTITY_TYPES: tuple[str, ...] = ("asset", "pair", "perp")

_SAFE = re.compile(r"[A-Za-z0-9.\-]")
_EXCHANGE = re.compile(r"^[a-z0-9]+$")


def safe_symbol(symbol: str) -> str:
    """``BTC/USDT:USDT`` → ``BTC-USDT.USDT``."""
    out = []
    for char in symbol.replace("/", "-").replace(":", "."):
        out.append(char if _SAFE.match(char) else f"~{ord(char):02X}")
    return "".join(out)


def entity_type_of_symbol(symbol: str) -> EntityType:
    """ccxt unified symbols of derivatives carry their settle currency after ``:``; spot ones do not."""
    return "perp" if ":" in symbol else "pair"


def check_exchange_id(exchange: str) -> str:
    if not exchange or not _EXCHANGE.match(exchange):
        raise InvalidInputError(
            f"invalid exchange id {exchange!r}: use the lower-case ccxt id such as 'binance' or 'binanceusdm'"
        )
    return exchange


def check_symbol(symbol: str, entity_type: str | None = None) -> str:
    """Reject text that is not a ccxt unified symbol (assets are plain codes such as ``BTC``)."""
    needs_slash = entity_type != "asset"
    if not symbol or symbol != symbol.strip() or (needs_slash and "/" not in symbol):
        raise InvalidInputError(
            f"invalid symbol {symbol!r}: use the ccxt unified form such as 'BTC/USDT' (spot) "
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
    return f"{kind}_{exchange}_{safe_symbol(symbol)}"


def parse_entity_id(value: str) -> tuple[str, str, str]:
    """Split an entity id into ``(type, exchange, safe_symbol)``."""
    parts = value.split("_", 2)
    if len(parts) != 3 or parts[0] not in ENTITY_TYPES or not _EXCHANGE.match(parts[1]) or not parts[2]:
        raise InvalidInputError(
            f"invalid entity id {value!r}: expected '{{type}}_{{exchange}}_{{symbol}}' such as 'pair_binance_BTC-USDT'"
        )
    return parts[0], parts[1], parts[2]


def row_id(entity: str, timestamp_ms: int, level: str | None = None) -> str:
    """Readable id of one row: ``pair_binance_BTC-USDT_1h_2024-01-01T00:00:00Z``."""
    from zvt_crypto.contract.timeutil import iso

    middle = f"_{level}" if level else ""
    return f"{entity}{middle}_{iso(timestamp_ms)}"
