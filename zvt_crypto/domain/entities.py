"""Tradable things: assets, spot pairs and perpetual swaps, one table each.

Rows are never deleted: a market that disappears keeps its row with ``active = False`` and a
``delist_timestamp``, so a universe can be asked "as of date D" (:func:`zvt_crypto.domain.universe.get_entities`).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Boolean, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from zvt_crypto.contract.schema import Schema, UtcMillis


class _EntityColumns:
    """Columns every entity has. ``symbol`` is the ccxt unified symbol (``BTC/USDT``, ``BTC/USDT:USDT``)
    or, for assets, the currency code (``BTC``)."""

    __kind__: ClassVar[str] = "entity"
    __key__: ClassVar[tuple[str, ...]] = ("entity_id",)
    __validators__: ClassVar[tuple[str, ...]] = ("entity",)

    entity_id: Mapped[str] = mapped_column(String(128), primary_key=True, sort_order=-20)
    entity_type: Mapped[str] = mapped_column(String(8), sort_order=-20)
    exchange: Mapped[str] = mapped_column(String(32), sort_order=-20)
    symbol: Mapped[str] = mapped_column(String(64), sort_order=-20)
    exchange_symbol: Mapped[str | None] = mapped_column(String(64), sort_order=-20)  # the venue's own id, e.g. BTCUSDT
    active: Mapped[bool] = mapped_column(Boolean, default=True, sort_order=-20)
    list_timestamp: Mapped[datetime | None] = mapped_column(UtcMillis, sort_order=-20)
    delist_timestamp: Mapped[datetime | None] = mapped_column(UtcMillis, sort_order=-20)
    precision_amount: Mapped[float | None] = mapped_column(Float, sort_order=-20)
    updated_timestamp: Mapped[datetime | None] = mapped_column(UtcMillis, sort_order=-20)


class _MarketColumns(_EntityColumns):
    """Columns of a tradable market (spot pair or perpetual): currencies, precision, limits and fees."""

    base: Mapped[str] = mapped_column(String(32), sort_order=-10)
    quote: Mapped[str] = mapped_column(String(32), sort_order=-10)
    precision_price: Mapped[float | None] = mapped_column(Float, sort_order=-10)
    min_amount: Mapped[float | None] = mapped_column(Float, sort_order=-10)
    max_amount: Mapped[float | None] = mapped_column(Float, sort_order=-10)
    min_price: Mapped[float | None] = mapped_column(Float, sort_order=-10)
    max_price: Mapped[float | None] = mapped_column(Float, sort_order=-10)
    min_cost: Mapped[float | None] = mapped_column(Float, sort_order=-10)
    maker_fee: Mapped[float | None] = mapped_column(Float, sort_order=-10)
    taker_fee: Mapped[float | None] = mapped_column(Float, sort_order=-10)


class CryptoAsset(_EntityColumns, Schema):
    """A currency on an exchange (``asset_binance_BTC``), with withdrawal limits and fee when known."""

    __tablename__ = "crypto_asset"
    __table_args__ = (Index(None, "exchange", "symbol", unique=True),)

    name: Mapped[str | None] = mapped_column(String(64))
    withdraw_fee: Mapped[float | None] = mapped_column(Float)
    min_withdraw: Mapped[float | None] = mapped_column(Float)
    max_withdraw: Mapped[float | None] = mapped_column(Float)


class CryptoPair(_MarketColumns, Schema):
    """A spot market (``pair_binance_BTC-USDT``)."""

    __tablename__ = "crypto_pair"
    __table_args__ = (Index(None, "exchange", "symbol", unique=True),)


class CryptoPerp(_MarketColumns, Schema):
    """A perpetual swap (``perp_binanceusdm_BTC-USDT.USDT``). Linear perps settle in the quote currency and
    have ``contract_size`` in base units; inverse perps settle in the base currency and have ``contract_size``
    in quote units (e.g. 100 USD per contract)."""

    __tablename__ = "crypto_perp"
    __table_args__ = (Index(None, "exchange", "symbol", unique=True),)

    settle: Mapped[str] = mapped_column(String(32))
    contract_size: Mapped[float] = mapped_column(Float, default=1.0)
    linear: Mapped[bool] = mapped_column(Boolean, default=True)


ENTITY_SCHEMAS: dict[str, type[Schema]] = {"asset": CryptoAsset, "pair": CryptoPair, "perp": CryptoPerp}
