"""The store: URL checks, lazy opening, migrations on open, SQLite WAL and concurrent processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import inspect, text

from zvt_crypto.contract.config import load_config
from zvt_crypto.contract.errors import StoreError
from zvt_crypto.contract.migrate import current_revision, head_revision
from zvt_crypto.contract.schema import Schema
from zvt_crypto.contract.store import SQLITE_BUSY_TIMEOUT_MS, Store, get_store
from zvt_crypto.domain import Bar

ALL_TABLES = {
    "bar", "crypto_asset", "crypto_pair", "crypto_perp", "funding_rate", "index_price_bar", "known_gap",
    "mark_price_bar", "open_interest", "order_book_snapshot", "trade", "factor_value", "factor_meta",
    "job_run", "scheduler_lock", "scheduler_job", "backtest_run", "backtest_trade", "backtest_equity",
    "paper_account", "paper_trade", "paper_order", "paper_equity", "signal_audit",
}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://user@host/db", "unsupported database 'mysql'"),
        ("sqlite://", "in-memory SQLite is not supported"),
        ("sqlite:///:memory:", "in-memory SQLite is not supported"),
        ("::not a url::", "invalid database URL"),
    ],
)
def test_rejected_urls(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        Store(url)


def test_repr_hides_password() -> None:
    store = Store("postgresql+psycopg://quant:hunter2@db.example/zvt")
    assert "hunter2" not in repr(store)
    assert "quant:***@db.example" in repr(store)
    assert store.dialect == "postgresql"
    assert not store.is_sqlite
    assert store.libpq_uri() == "postgresql://quant:hunter2@db.example/zvt"


def test_open_creates_folder_and_migrates(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "zvt.db"
    store = Store(f"sqlite:///{path}")
    assert not path.parent.exists()
    try:
        engine = store.engine
        assert path.is_file()
        assert current_revision(engine) == head_revision()
        assert set(inspect(engine).get_table_names()) == ALL_TABLES | {"alembic_version"}
        assert store.engine is engine  # opened once
    finally:
        store.dispose()


@pytest.mark.postgres
def test_postgresql_store_opens_and_migrates(pg_url_factory: Callable[..., str]) -> None:
    store = Store(pg_url_factory(migrated=False))
    try:
        assert current_revision(store.engine) == head_revision()
        assert set(inspect(store.engine).get_table_names()) == ALL_TABLES | {"alembic_version"}
    finally:
        store.dispose()


def test_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    store = Store(f"sqlite:///{blocker / 'sub' / 'zvt.db'}")
    with pytest.raises(StoreError, match="cannot create the data folder"):
        store.engine  # noqa: B018


def test_newer_store_is_refused(sqlite_store: Store) -> None:
    with sqlite_store.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    sqlite_store.dispose()
    with pytest.raises(StoreError, match=r"revision 9999, which this zvt_crypto .* made by a newer zvt_crypto"):
        Store(str(sqlite_store.url)).engine  # noqa: B018


def test_sqlite_pragmas(sqlite_store: Store) -> None:
    with sqlite_store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    with sqlite_store.adbc_connection() as adbc:
        cursor = adbc.cursor()
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"  # WAL is persistent: the bulk path's connections use it too
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] == SQLITE_BUSY_TIMEOUT_MS
        cursor.close()


HOLD_WRITE_LOCK = textwrap.dedent(
    """
    import sqlite3, sys
    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("DELETE FROM bar")
    print("locked", flush=True)
    sys.stdin.read()              # hold the write transaction until the test closes our stdin
    connection.execute("ROLLBACK")
    """
)


def test_wal_reader_not_blocked_by_a_writer(sqlite_store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    """Another process holds an uncommitted write; reads here neither wait nor see it."""
    sqlite_store.write(Bar, bars(n=10))
    holder = subprocess.Popen([sys.executable, "-c", HOLD_WRITE_LOCK, str(sqlite_store.sqlite_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        assert len(Bar.query_data(store=sqlite_store, level="1h")) == 10  # connectorx
        with sqlite_store.engine.connect() as connection:  # sqlite3 through SQLAlchemy
            assert connection.execute(text("SELECT count(*) FROM bar")).scalar() == 10
        assert time.monotonic() - started < 5
    finally:
        holder.communicate("", timeout=30)
    assert holder.returncode == 0
    assert len(Bar.query_data(store=sqlite_store, level="1h")) == 10


def test_nested_sqlite_connection_in_one_thread_is_an_error(sqlite_store: Store) -> None:
    """Two SQLite library copies on one file in one process corrupt it; a nested open fails loudly instead."""
    with sqlite_store.begin() as connection:
        connection.execute(text("SELECT 1"))
        with pytest.raises(StoreError, match=r"already has .* open"):
            Bar.query_data(store=sqlite_store, level="1h")
    assert Bar.query_data(store=sqlite_store, level="1h").empty  # released afterwards


def test_begin_rolls_back_on_error(store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    store.write(Bar, bars(n=3))
    with pytest.raises(RuntimeError), store.begin() as connection:
        connection.execute(text("DELETE FROM bar"))
        raise RuntimeError("boom")
    with store.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM bar")).scalar() == 3


def test_session(store: Store) -> None:
    with store.session() as session:
        assert session.execute(text("SELECT 1")).scalar() == 1


def test_concurrent_open_of_a_new_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    stores = [Store(url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def open_it(store: Store) -> None:
        barrier.wait()
        try:
            store.engine  # noqa: B018
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_it, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        assert all(current_revision(store.engine) == head_revision() for store in stores)
    finally:
        for store in stores:
            store.dispose()


OPEN_WHEN_TOLD = textwrap.dedent(
    """
    import logging, sys
    from zvt_crypto.contract.store import Store
    migrations = []
    handler = logging.Handler()
    handler.emit = migrations.append
    logging.getLogger("zvt_crypto.contract.migrate").addHandler(handler)
    logging.getLogger("zvt_crypto.contract.migrate").setLevel(logging.INFO)
    store = Store(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()          # every process opens the store at the same moment
    store.engine
    print("migrated" if migrations else "opened", flush=True)
    store.dispose()
    """
)


@pytest.mark.slow  # 12 interpreters importing the package at once: 3-4 s each
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_concurrent_first_open_by_processes(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """12 processes open one new store at once: all succeed, and exactly one of them migrates it."""
    url = (f"sqlite:///{tmp_path / 'race.db'}" if backend == "sqlite"
           else request.getfixturevalue("pg_url_factory")(migrated=False))
    processes = [subprocess.Popen([sys.executable, "-c", OPEN_WHEN_TOLD, url], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(12)]
    try:
        assert [process.stdout.readline().strip() for process in processes] == ["ready"] * 12  # type: ignore[union-attr]
        for process in processes:
            process.stdin.write("go\n")  # type: ignore[union-attr]
            process.stdin.flush()  # type: ignore[union-attr]
        results = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            process.kill()
    failures = [err for (_, err), process in zip(results, processes, strict=True) if process.returncode != 0]
    assert failures == []
    assert sorted(out.strip() for out, _ in results) == ["migrated"] + ["opened"] * 11
    store = Store(url)
    try:
        with store.begin() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
                head_revision()]
        assert set(inspect(store.engine).get_table_names()) == ALL_TABLES | {"alembic_version"}
    finally:
        store.dispose()


def test_get_store_caches_per_url(tmp_path: Path, zvt_home: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cached.db'}"
    assert get_store(url) is get_store(url)
    assert get_store(url) is not get_store(f"sqlite:///{tmp_path / 'other.db'}")
    mine = Store(url)
    assert get_store(mine) is mine
    default = get_store()
    assert default.sqlite_path == (zvt_home / "zvt_crypto.db").resolve()
    assert get_store(load_config()) is default
    assert not zvt_home.exists()  # handing out a store opens nothing


def test_schema_registry_lists_builtin_tables() -> None:
    from zvt_crypto.contract.schema import get_schema, schema_registry

    registry = schema_registry()
    assert {schema.__tablename__ for schema in registry.values()} >= ALL_TABLES
    assert get_schema("Bar") is Bar
    assert get_schema("bar") is Bar
    assert issubclass(get_schema("known_gap"), Schema)
    from zvt_crypto.contract.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="unknown schema 'Nope'"):
        get_schema("Nope")


# -- a writer process and a reader process on one SQLite file ---------------------------------------------------
BATCHES = 30
BATCH = 240

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np, pandas as pd
    from zvt_crypto.contract.store import Store
    from zvt_crypto.domain import Bar

    url, batches, size, done = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    store = Store(url)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    for i in range(batches):
        stamps = pd.date_range(start + pd.Timedelta(minutes=i * size), periods=size, freq="1min")
        price = 100.0 + np.arange(size)
        frame = pd.DataFrame({"entity_id": "pair_binance_BTC-USDT", "timestamp": stamps, "open": price,
                              "high": price + 1, "low": price - 1, "close": price, "volume": 1.0})
        result = store.write(Bar, frame, level="1m")
        assert result.changed == size, result
        time.sleep(0.01)
    done.write_text("done")
    print("wrote", batches * size)
    """
)

READER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sqlalchemy import text
    from zvt_crypto.contract.store import Store
    from zvt_crypto.domain import Bar

    url, size, done = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    store = Store(url)
    seen = []
    while True:
        finished = done.exists()
        frame = Bar.query_data(store=store, level="1m", columns=["close"])   # connectorx path
        with store.engine.connect() as connection:                        # SQLAlchemy path
            counted = connection.execute(text("SELECT count(*) FROM bar")).scalar()
        for count in (len(frame), counted):
            if count % size:
                print("PARTIAL", count)
                sys.exit(3)
        if not frame.index.is_monotonic_increasing:
            sys.exit(4)
        seen.append(len(frame))
        if finished:
            break
    print("reads", len(seen), "distinct", len(set(seen)), "last", seen[-1])
    """
)


def test_writer_and_reader_processes_share_a_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    Store(url).engine.dispose()  # create and migrate first, so both processes start on a ready file
    done = tmp_path / "writer.done"
    reader = subprocess.Popen([sys.executable, "-c", READER, url, str(BATCH), str(done)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, url, str(BATCHES), str(BATCH), str(done)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        w_out, w_err = writer.communicate(timeout=120)
        r_out, r_err = reader.communicate(timeout=120)
    finally:
        for process in (writer, reader):
            if process.poll() is None:
                process.kill()
    assert writer.returncode == 0, w_err
    assert reader.returncode == 0, r_out + r_err
    assert w_out.split() == ["wrote", str(BATCHES * BATCH)]
    words = r_out.split()
    reads, distinct, last = int(words[1]), int(words[3]), int(words[5])
    assert last == BATCHES * BATCH  # the reader's final look (after the writer finished) sees everything
    assert reads >= 2
    assert distinct >= 2  # it really read while the writer was writing
    assert len(Bar.query_data(store=Store(url), level="1m")) == BATCHES * BATCH


def test_a_file_that_is_not_a_database_leaves_its_guard_free(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("these are my notes, not a database\n" * 100)
    for _ in range(2):  # the second attempt would wait forever on a guard the first one never released
        with pytest.raises(StoreError):
            Store(f"sqlite:///{notes}").engine  # noqa: B018 - opening is the test
    taken = threading.Event()

    def take() -> None:
        with Store(f"sqlite:///{notes}").sqlite_exclusive():
            taken.set()

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert taken.is_set(), "the guard of a file that failed to open stayed held"


def test_dispose_does_not_wait_for_another_files_guard(tmp_path: Path) -> None:
    mine, theirs = Store(f"sqlite:///{tmp_path / 'a.db'}"), Store(f"sqlite:///{tmp_path / 'b.db'}")
    mine.engine  # noqa: B018
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with theirs.sqlite_exclusive():
            holding.set()
            done.wait(timeout=60)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert holding.wait(timeout=30)
    try:
        disposer = threading.Thread(target=mine.dispose, daemon=True)
        disposer.start()
        disposer.join(timeout=30)
        assert not disposer.is_alive(), "disposing one store waited for another file's guard"
    finally:
        done.set()
        holder.join(timeout=30)
