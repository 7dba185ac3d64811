"""The domain schemas: keys, columns, table options, and the ORM view of UTC millisecond times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import BigInteger, select, text

from zvt_crypto.contract.schema import Schema, UtcMillis, schema_registry
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import (
    ENTITY_SCHEMAS,
    SERIES_SCHEMAS,
    Bar,
    CryptoAsset,
    CryptoPair,
    CryptoPerp,
    FundingRate,
    IndexPriceBar,
    KnownGap,
    MarkPriceBar,
    OpenInterest,
    OrderBookSnapshot,
    Trade,
)

ALL = [CryptoAsset, CryptoPair, CryptoPerp, Bar, MarkPriceBar, IndexPriceBar, Trade, OrderBookSnapshot, FundingRate,
       OpenInterest, KnownGap]


def test_registry_holds_every_schema() -> None:
    registry = schema_registry()
    for schema in ALL:
        assert registry[schema.__name__] is schema
    assert ENTITY_SCHEMAS == {"asset": CryptoAsset, "pair": CryptoPair, "perp": CryptoPerp}
    assert set(SERIES_SCHEMAS) == {Bar, MarkPriceBar, IndexPriceBar, Trade, OrderBookSnapshot, FundingRate,
                                   OpenInterest}


@pytest.mark.parametrize("schema", ALL, ids=lambda schema: schema.__name__)
def test_key_is_the_primary_key(schema: type[Schema]) -> None:
    """Writes upsert ON CONFLICT (__key__): it must be exactly the table's primary key."""
    primary = [column.name for column in schema.__table__.primary_key.columns]
    assert set(schema.__key__) == set(primary)
    assert len(schema.__key__) == len(primary)


@pytest.mark.parametrize("schema", ALL, ids=lambda schema: schema.__name__)
def test_times_are_utc_millis(schema: type[Schema]) -> None:
    for column in schema.__table__.columns:
        if column.name.endswith("timestamp"):
            assert isinstance(column.type, UtcMillis), column.name
            assert isinstance(column.type.impl_instance, BigInteger)


def test_kinds_and_levels() -> None:
    assert {schema.__kind__ for schema in ENTITY_SCHEMAS.values()} == {"entity"}
    assert {schema.__kind__ for schema in SERIES_SCHEMAS} == {"series"}
    assert KnownGap.__kind__ == "gap"
    assert [schema for schema in ALL if schema.has_level()] == [Bar, MarkPriceBar, IndexPriceBar, OpenInterest,
                                                                KnownGap]


def test_column_order() -> None:
    assert Bar.column_names() == ["entity_id", "level", "timestamp", "open", "high", "low", "close", "volume",
                                  "quote_volume", "trade_count"]
    assert Trade.column_names()[:3] == ["entity_id", "timestamp", "trade_id"]
    assert CryptoPerp.column_names()[:4] == ["entity_id", "entity_type", "exchange", "symbol"]
    assert CryptoPerp.column_names()[-3:] == ["settle", "contract_size", "linear"]


def test_series_tables_are_clustered_on_sqlite() -> None:
    for schema in [*SERIES_SCHEMAS, KnownGap]:
        assert schema.__table__.dialect_options["sqlite"]["with_rowid"] is False, schema.__name__
    assert CryptoPair.__table__.dialect_options["sqlite"]["with_rowid"] is True


def test_entities_are_unique_per_exchange_and_symbol() -> None:
    for schema in ENTITY_SCHEMAS.values():
        unique = [index for index in schema.__table__.indexes if index.unique]
        assert [[column.name for column in index.columns] for index in unique] == [["exchange", "symbol"]]


def test_validators() -> None:
    assert Bar.__validators__ == ("aligned", "ohlc", "volume", "closed")
    assert MarkPriceBar.__validators__ == IndexPriceBar.__validators__ == ("aligned", "ohlc", "closed")
    assert OpenInterest.__validators__ == ("aligned",)
    assert Trade.__validators__ == ("positive_price",)
    assert {schema.__validators__ for schema in ENTITY_SCHEMAS.values()} == {("entity",)}


def test_orm_round_trip_of_utc_times(store: Store) -> None:
    """ORM objects take aware or naive datetimes (naive = UTC) and give back UTC-aware ones."""
    tokyo = timezone(timedelta(hours=9))
    with store.session() as session:
        session.add_all([
            Bar(entity_id="pair_binance_BTC-USDT", level="1h", timestamp=datetime(2024, 1, 1, 9, tzinfo=tokyo),
                open=1.0, high=2.0, low=0.5, close=1.5, volume=3.0),
            Bar(entity_id="pair_binance_BTC-USDT", level="1h", timestamp=datetime(2024, 1, 1, 1),
                open=1.0, high=2.0, low=0.5, close=1.5, volume=3.0),
            CryptoPair(entity_id="pair_binance_BTC-USDT", entity_type="pair", exchange="binance", symbol="BTC/USDT",
                       base="BTC", quote="USDT"),
        ])
        session.commit()
    with store.session() as session:
        stamps = session.scalars(select(Bar.timestamp).order_by(Bar.timestamp)).all()
        pair = session.get(CryptoPair, "pair_binance_BTC-USDT")
        assert pair is not None
        assert pair.active is True  # the column default
        assert pair.list_timestamp is None
    assert stamps == [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 1, tzinfo=UTC)]
    assert all(stamp.tzinfo is not None and stamp.utcoffset() == timedelta(0) for stamp in stamps)
    with store.begin() as connection:  # stored as integer epoch milliseconds
        raw = connection.execute(text('SELECT "timestamp" FROM bar ORDER BY "timestamp"')).scalars().all()
    assert raw == [1_704_067_200_000, 1_704_070_800_000]
