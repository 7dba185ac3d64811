"""Time series keyed by entity and UTC time: bars, trades, order books, funding, open interest, known gaps.

Bars of every level share one table per price kind, keyed ``(entity_id, level, timestamp)`` where
``timestamp`` is the bar's open time. On SQLite the tables are ``WITHOUT ROWID``: rows are stored in key
order, so reading one entity's range is a sequential scan and the key needs no second index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Float, Index, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from zvt_crypto.contract.schema import Schema, UtcMillis

_SQLITE_CLUSTERED = {"sqlite_with_rowid": False}


class _SeriesColumns:
    __kind__: ClassVar[str] = "series"
    __key__: ClassVar[tuple[str, ...]] = ("entity_id", "timestamp")

    entity_id: Mapped[str] = mapped_column(String(128), primary_key=True, sort_order=-30)
    timestamp: Mapped[datetime] = mapped_column(UtcMillis, primary_key=True, sort_order=-10)

    @declared_attr.directive
    def __table_args__(cls) -> Any:
        return (_SQLITE_CLUSTERED,)


class _LeveledColumns(_SeriesColumns):
    __key__: ClassVar[tuple[str, ...]] = ("entity_id", "level", "timestamp")

    entity_id: Mapped[str] = mapped_column(String(128), primary_key=True, sort_order=-30)
    level: Mapped[str] = mapped_column(String(4), primary_key=True, sort_order=-20)
    timestamp: Mapped[datetime] = mapped_column(UtcMillis, primary_key=True, sort_order=-10)


class _OhlcColumns(_LeveledColumns):
    open: Mapped[float] = mapped_column(Float, sort_order=-5)
    high: Mapped[float] = mapped_column(Float, sort_order=-5)
    low: Mapped[float] = mapped_column(Float, sort_order=-5)
    close: Mapped[float] = mapped_column(Float, sort_order=-5)


class Bar(_OhlcColumns, Schema):
    """OHLCV bars of pairs and perps at every level; ``timestamp`` is the open time (UTC).

    ``volume`` is in base units (contracts for inverse perps), ``quote_volume`` in quote units.
    """

    __tablename__ = "bar"
    __validators__ = ("aligned", "ohlc", "volume", "closed")

    volume: Mapped[float] = mapped_column(Float)
    quote_volume: Mapped[float | None] = mapped_column(Float)
    trade_count: Mapped[int | None] = mapped_column(BigInteger)


class MarkPriceBar(_OhlcColumns, Schema):
    """Mark-price bars of perps (the price used for margin and liquidation)."""

    __tablename__ = "mark_price_bar"
    __validators__ = ("aligned", "ohlc", "closed")


class IndexPriceBar(_OhlcColumns, Schema):
    """Index-price bars of perps (the venue's spot index the mark price tracks)."""

    __tablename__ = "index_price_bar"
    __validators__ = ("aligned", "ohlc", "closed")


class Trade(_SeriesColumns, Schema):
    """Public trades. Several trades share a millisecond, so the venue's ``trade_id`` completes the key."""

    __tablename__ = "trade"
    __key__ = ("entity_id", "timestamp", "trade_id")
    __validators__ = ("positive_price",)

    trade_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    price: Mapped[float] = mapped_column(Float)
    amount: Mapped[float] = mapped_column(Float)
    side: Mapped[str | None] = mapped_column(String(4))  # "buy" / "sell": the taker's side


class OrderBookSnapshot(_SeriesColumns, Schema):
    """Top-N order-book levels at one instant. ``bids`` / ``asks`` are ``[[price, amount], …]`` best first."""

    __tablename__ = "order_book_snapshot"

    depth: Mapped[int] = mapped_column(BigInteger)
    best_bid: Mapped[float | None] = mapped_column(Float)
    best_ask: Mapped[float | None] = mapped_column(Float)
    bids: Mapped[list[list[float]]] = mapped_column(JSON)
    asks: Mapped[list[list[float]]] = mapped_column(JSON)


class FundingRate(_SeriesColumns, Schema):
    """Funding rates of perps at each funding time; positive means longs pay shorts."""

    __tablename__ = "funding_rate"

    funding_rate: Mapped[float] = mapped_column(Float)
    mark_price: Mapped[float | None] = mapped_column(Float)


class OpenInterest(_LeveledColumns, Schema):
    """Open interest of perps sampled per period (``level``): in contracts and in quote value."""

    __tablename__ = "open_interest"
    __validators__ = ("aligned",)

    open_interest: Mapped[float] = mapped_column(Float)
    open_interest_value: Mapped[float | None] = mapped_column(Float)


class KnownGap(Schema):
    """A range the venue confirmed empty (an outage, a trading halt): coverage reports it as known, and
    recorders do not request it again unless asked to (``record … --recheck-gaps``). ``end_timestamp`` is
    inclusive (the last missing bar's open time)."""

    __tablename__ = "known_gap"
    __kind__ = "gap"
    __key__ = ("schema_name", "entity_id", "level", "start_timestamp")
    __table_args__ = (Index(None, "entity_id", "level"), _SQLITE_CLUSTERED)

    schema_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(128), primary_key=True, sort_order=-30)
    level: Mapped[str] = mapped_column(String(4), primary_key=True, sort_order=-20)
    start_timestamp: Mapped[datetime] = mapped_column(UtcMillis, primary_key=True, sort_order=-10)
    end_timestamp: Mapped[datetime] = mapped_column(UtcMillis)
    reason: Mapped[str | None] = mapped_column(String(256))
    confirmed_timestamp: Mapped[datetime | None] = mapped_column(UtcMillis)


SERIES_SCHEMAS: tuple[type[Schema], ...] = (
    Bar, MarkPriceBar, IndexPriceBar, Trade, OrderBookSnapshot, FundingRate, OpenInterest,
)
