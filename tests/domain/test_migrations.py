"""Alembic migrations: an old store is upgraded in place, and the migrations match the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.pool import NullPool

import zvt_crypto.domain.builtin  # noqa: F401 - defines every table: the metadata the migrations must match
from zvt_crypto.contract.migrate import alembic_config, current_revision, head_revision, upgrade
from zvt_crypto.contract.schema import Schema
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar, FundingRate, KnownGap, Trade

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
TABLES_0001 = {"crypto_asset", "crypto_pair", "crypto_perp", "bar", "mark_price_bar", "index_price_bar"}
TABLES_0002 = {"trade", "order_book_snapshot", "funding_rate", "open_interest", "known_gap"}
TABLES_0003 = {"factor_value", "factor_meta"}
TABLES_0004 = {"job_run", "scheduler_lock", "scheduler_job"}
TABLES_0005 = {"backtest_run", "backtest_trade", "backtest_equity"}
TABLES_0006 = {"paper_account", "paper_trade", "paper_order", "paper_equity"}
#: every table the newest revision has; a new migration adds its tables here
TABLES_0008 = {"signal_audit"}
ALL_TABLES = TABLES_0001 | TABLES_0002 | TABLES_0003 | TABLES_0004 | TABLES_0005 | TABLES_0006 | TABLES_0008
HEAD = "0008"
BTC = "pair_binance_BTC-USDT"
JAN1 = 1_704_067_200_000


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database (no tables at all)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("pg_url_factory")(migrated=False)


@pytest.fixture
def raw_engine(empty_url: str) -> Iterator[Engine]:
    """A plain SQLAlchemy engine (no Store) on the empty database; closed connections are not pooled."""
    engine = create_engine(empty_url, poolclass=NullPool)
    yield engine
    engine.dispose()


def test_head_is_the_newest_revision() -> None:
    assert head_revision() == HEAD


def test_old_store_is_upgraded_on_open(raw_engine: Engine, empty_url: str) -> None:
    upgrade(raw_engine, "0001")
    assert current_revision(raw_engine) == "0001"
    tables = set(inspect(raw_engine).get_table_names())
    assert tables == TABLES_0001 | {"alembic_version"}

    rows = [
        {"e": BTC, "l": "1h", "t": JAN1 + i * 3_600_000, "o": 100.0 + i, "h": 102.0 + i, "lo": 99.0 + i,
         "c": 101.0 + i, "v": 10.0 * i, "q": None if i == 1 else 1000.0, "n": 7 + i}
        for i in range(3)
    ]
    with raw_engine.begin() as connection:  # what version 0001 of zvt_crypto wrote, in plain SQL
        connection.execute(
            text('INSERT INTO bar (entity_id, level, "timestamp", open, high, low, close, volume, quote_volume, '
                 "trade_count) VALUES (:e, :l, :t, :o, :h, :lo, :c, :v, :q, :n)"),
            rows,
        )
        connection.execute(
            text("INSERT INTO crypto_pair (entity_id, entity_type, exchange, symbol, active, base, quote) "
                 "VALUES ('pair_binance_BTC-USDT', 'pair', 'binance', 'BTC/USDT', true, 'BTC', 'USDT')")
        )
    raw_engine.dispose()

    store = Store(empty_url)
    try:
        assert current_revision(store.engine) == HEAD
        assert set(inspect(store.engine).get_table_names()) == ALL_TABLES | {"alembic_version"}

        old = Bar.query_data(store=store, level="1h", index=None)
        assert old["timestamp"].tolist() == [pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=i)
                                             for i in range(3)]
        assert old["close"].tolist() == [101.0, 102.0, 103.0]
        assert old["trade_count"].tolist() == [7, 8, 9]
        assert pd.isna(old["quote_volume"].iloc[1])
        assert store.write(Bar, old).changed == 0  # the old rows are exactly what the new code would write

        trades = pd.DataFrame({"entity_id": BTC, "timestamp": [JAN1, JAN1], "trade_id": ["a", "b"],
                               "price": [42000.0, 42001.0], "amount": [0.5, 0.25], "side": ["buy", "sell"]})
        assert store.write(Trade, trades).changed == 2
        assert Trade.query_data(store=store)["price"].tolist() == [42000.0, 42001.0]
        funding = pd.DataFrame({"entity_id": "perp_binanceusdm_BTC-USDT.USDT", "timestamp": [JAN1],
                                "funding_rate": [0.0001]})
        assert store.write(FundingRate, funding).changed == 1
        gap = pd.DataFrame({"schema_name": ["Bar"], "entity_id": [BTC], "level": ["1h"], "start_timestamp": [JAN1],
                            "end_timestamp": [JAN1 + 3_600_000]})
        assert store.write(KnownGap, gap).changed == 1
        assert len(KnownGap.query_data(store=store, level="1h")) == 1
    finally:
        store.dispose()


def test_upgrade_is_idempotent_and_downgrade_works(raw_engine: Engine) -> None:
    upgrade(raw_engine)
    upgrade(raw_engine)  # already at head: nothing happens
    assert current_revision(raw_engine) == HEAD
    with raw_engine.connect() as connection, connection.begin():
        command.downgrade(alembic_config(connection), "0001")
    assert current_revision(raw_engine) == "0001"
    assert set(inspect(raw_engine).get_table_names()) == TABLES_0001 | {"alembic_version"}
    upgrade(raw_engine)
    assert current_revision(raw_engine) == HEAD


def test_migrations_match_models(raw_engine: Engine) -> None:
    """What autogenerate would write for the current models: nothing (a missed migration fails here)."""
    upgrade(raw_engine)
    with raw_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Schema.metadata)
    assert differences == []


def test_drift_is_detected(raw_engine: Engine) -> None:
    """The drift check above can fail: a model column without a migration is reported."""
    from sqlalchemy import Column, Float, MetaData, Table

    upgrade(raw_engine)
    metadata = MetaData(naming_convention=Schema.metadata.naming_convention)
    for table in Schema.metadata.tables.values():
        table.to_metadata(metadata)
    Table("bar", metadata, Column("vwap", Float), extend_existing=True)
    with raw_engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [(diff[0], diff[3].name) for diff in differences] == [("add_column", "vwap")]



# -- 0007: injective entity ids ------------------------------------------------------------------------------
#: (table, entity type, symbol, the id versions before 0007 gave it, the id it has now)
OLD_IDS = [
    ("crypto_pair", "pair", "BTC/USDT", BTC, BTC),
    ("crypto_perp", "perp", "BTC/USDT:USDT-240628", "perp_binanceusdm_BTC-USDT.USDT-240628",
     "perp_binanceusdm_BTC-USDT.USDT-240628"),
    ("crypto_pair", "pair", "币/USDT", "pair_binance_~5E01-USDT", "pair_binance_~E5~B8~81-USDT"),
    ("crypto_pair", "pair", "X/Y-Z", "pair_binance_X-Y-Z", "pair_binance_X-Y~2DZ"),
    # a chain: the new id of the first is the old id of the second (U+02D5 was "~2D5")
    ("crypto_pair", "pair", "X-5/Z", "pair_binance_X-5-Z", "pair_binance_X~2D5-Z"),
    ("crypto_pair", "pair", "X\u02d5/Z", "pair_binance_X~2D5-Z", "pair_binance_X~CB~95-Z"),
    ("crypto_perp", "perp", "ETH2.S/ETH:ETH", "perp_binance_ETH2.S-ETH.ETH", "perp_binance_ETH2~2ES-ETH.ETH"),
    ("crypto_asset", "asset", "币", "asset_binance_~5E01", "asset_binance_~E5~B8~81"),
    ("crypto_asset", "asset", "BTC", "asset_binance_BTC", "asset_binance_BTC"),
]


def _migration_0007() -> object:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_revision("0007").module


def _store_at_0006(engine: Engine, entities: list[tuple[str, str, str, str, str]]) -> None:
    """A store as version 0006 wrote it: each entity with a bar, a factor value, a known gap, a backtest trade."""
    upgrade(engine, "0006")
    with engine.begin() as connection:
        for number, (table, kind, symbol, old, _) in enumerate(entities):
            row = {"entity_id": old, "entity_type": kind, "exchange": old.split("_")[1], "symbol": symbol,
                   "active": True}
            if kind != "asset":
                base, quote = symbol.split(":")[0].split("/")
                row |= {"base": base, "quote": quote}
            if kind == "perp":
                row |= {"settle": quote, "contract_size": 1.0, "linear": True}
            connection.execute(Schema.metadata.tables[table].insert(), row)
            connection.execute(
                text('INSERT INTO bar (entity_id, level, "timestamp", open, high, low, close, volume) '
                     "VALUES (:e, '1h', :t, 1, 1, 1, :c, 0)"), {"e": old, "t": JAN1, "c": 100.0 + number})
            for table in _migration_0007().ID_TABLES:  # type: ignore[attr-defined]
                if table not in ("bar", "crypto_asset", "crypto_pair", "crypto_perp"):
                    connection.execute(Schema.metadata.tables[table].insert(), _row_of(table, old, number))


def _row_of(table: str, entity: str, number: int) -> dict[str, object]:
    """A row of ``table`` for ``entity``: each required column filled with a value of its type."""
    from sqlalchemy import JSON, Boolean, Float, Integer, String

    row: dict[str, object] = {}
    for column in Schema.metadata.tables[table].columns:
        kind = column.type.impl if hasattr(column.type, "impl") else column.type
        if column.name == "entity_id":
            row[column.name] = entity
        elif not column.nullable or column.primary_key:
            row[column.name] = ("x" if isinstance(kind, String) else number if isinstance(kind, Integer)
                                else 1.0 if isinstance(kind, Float) else False if isinstance(kind, Boolean)
                                else [] if isinstance(kind, JSON) else None)
    return row


def _dump(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {table: sorted(map(tuple, connection.execute(text(f"SELECT * FROM {table}"))), key=repr)
                for table in sorted(ALL_TABLES - TABLES_0008)}  # the tables 0007 may touch


def test_0007_renames_every_table_holding_entity_ids() -> None:
    holding = {table.name for table in Schema.metadata.tables.values() if "entity_id" in table.columns}
    assert set(_migration_0007().ID_TABLES) == holding  # type: ignore[attr-defined]


def test_0007_gives_ambiguous_old_ids_their_injective_ids(raw_engine: Engine, empty_url: str) -> None:
    _store_at_0006(raw_engine, OLD_IDS)
    raw_engine.dispose()

    store = Store(empty_url)
    try:
        assert current_revision(store.engine) == HEAD
        with store.engine.connect() as connection:
            for table in _migration_0007().ID_TABLES:  # type: ignore[attr-defined]
                stored = set(connection.execute(text(f"SELECT entity_id FROM {table}")).scalars())
                expected = {new for held_in, *_, new in OLD_IDS if held_in == table or "crypto" not in table}
                assert stored == expected, table
        for number, (_, kind, symbol, _, new) in enumerate(OLD_IDS):
            if kind == "asset":
                continue
            exchange = new.split("_")[1]
            bars = Bar.query_data(store=store, exchange=exchange, symbols=[symbol], level="1h", index=None)
            assert bars["entity_id"].tolist() == [new]
            assert bars["close"].tolist() == [100.0 + number]  # each symbol kept its own row
    finally:
        store.dispose()


def test_0007_changes_nothing_in_a_store_of_common_ids(raw_engine: Engine) -> None:
    common = [entity for entity in OLD_IDS if entity[3] == entity[4]]
    _store_at_0006(raw_engine, common)
    before = _dump(raw_engine)
    upgrade(raw_engine)
    assert current_revision(raw_engine) == HEAD
    assert _dump(raw_engine) == before


def test_0007_downgrade_restores_the_old_ids(raw_engine: Engine) -> None:
    _store_at_0006(raw_engine, OLD_IDS)
    before = _dump(raw_engine)
    upgrade(raw_engine)
    assert _dump(raw_engine) != before
    with raw_engine.connect() as connection, connection.begin():
        command.downgrade(alembic_config(connection), "0006")
    assert _dump(raw_engine) == before
