"""The writer keeps its ADBC connection between writes: on SQLite parked in the file's guard (every other
connection to the file closes it first), on PostgreSQL in a small pool; never after a failed transaction;
closed by ``dispose``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from zvt_crypto.contract.errors import StoreError
from zvt_crypto.contract.store import Store, sqlite_guard
from zvt_crypto.domain import Bar

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def parked(store: Store) -> object | None:
    """The connection ``store`` parked in its file's guard (``None``: none is open)."""
    entry = sqlite_guard(store.sqlite_path)._parked
    return entry[1][0] if entry is not None and entry[0] is store._adbc_token else None


def count(store: Store) -> int:
    with store.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM bar")).scalar()


def test_sqlite_writes_reuse_one_connection_and_dispose_closes_it(sqlite_store: Store, bars: Callable[..., pd.DataFrame]
                                                                  ) -> None:
    sqlite_store.write(Bar, bars(n=10))
    first = parked(sqlite_store)
    assert first is not None
    sqlite_store.write(Bar, bars(n=10, start=T0 + pd.Timedelta(hours=10)))
    assert parked(sqlite_store) is first  # the same connection, not a new one per write
    sqlite_store.dispose()
    assert parked(sqlite_store) is None
    assert not Path(f"{sqlite_store.sqlite_path}-wal").exists()  # the last connection closed: WAL checkpointed
    assert count(sqlite_store) == 20


def test_any_other_connection_closes_the_parked_one_first(sqlite_store: Store, bars: Callable[..., pd.DataFrame]
                                                          ) -> None:
    sqlite_store.write(Bar, bars(n=10))
    assert parked(sqlite_store) is not None
    assert len(Bar.query_data(store=sqlite_store, level="1h")) == 10  # connectorx, under the guard
    assert parked(sqlite_store) is None
    sqlite_store.write(Bar, bars(n=10, start=T0 + pd.Timedelta(hours=10)))
    assert parked(sqlite_store) is not None
    assert count(sqlite_store) == 20  # SQLAlchemy's sqlite3: also closes it first
    assert parked(sqlite_store) is None
    other = Store(str(sqlite_store.url))  # another store on the same file
    try:
        sqlite_store.write(Bar, bars(n=10, start=T0 + pd.Timedelta(hours=20)))
        other.write(Bar, bars(n=10, start=T0 + pd.Timedelta(hours=30)))
        assert parked(sqlite_store) is None and parked(other) is not None
    finally:
        other.dispose()
    assert count(sqlite_store) == 40


def test_writes_from_several_threads_share_the_kept_connection(sqlite_store: Store,
                                                               bars: Callable[..., pd.DataFrame]) -> None:
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for j in range(5):
                sqlite_store.write(Bar, bars(entity_id=f"pair_binance_C{i}-USDT", n=10,
                                             start=T0 + pd.Timedelta(hours=10 * j)))
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert count(sqlite_store) == 4 * 5 * 10


def test_a_failed_transaction_closes_its_connection(sqlite_store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    sqlite_store.write(Bar, bars(n=10))
    with sqlite_store.begin() as connection:  # the database itself refuses a row
        connection.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON bar WHEN NEW.close = 13.5 "
                                "BEGIN SELECT RAISE(ABORT, 'refused'); END"))
    frame = bars(n=10, start=T0 + pd.Timedelta(hours=10))
    frame.loc[5, "close"] = 13.5
    frame.loc[5, ["open", "low", "high"]] = [13.5, 13.0, 14.0]
    sqlite_store.write(Bar, bars(n=1, start=T0 + pd.Timedelta(hours=30)))
    assert parked(sqlite_store) is not None
    with pytest.raises(StoreError, match="refused"):
        sqlite_store.write(Bar, frame)
    assert parked(sqlite_store) is None  # not reused after the database failed
    assert count(sqlite_store) == 11  # nothing of the failed batch
    sqlite_store.write(Bar, frame.drop(index=5))
    assert count(sqlite_store) == 20


def test_postgresql_keeps_its_connections_and_replaces_one_the_server_dropped(
    pg_url_factory: Callable[..., str], bars: Callable[..., pd.DataFrame]
) -> None:
    store = Store(pg_url_factory())
    try:
        store.write(Bar, bars(n=10))
        assert len(store._adbc_idle) == 1
        kept = store._adbc_idle[0][0]
        store.write(Bar, bars(n=10, start=T0 + pd.Timedelta(hours=10)))
        assert store._adbc_idle[0][0] is kept
        with store.engine.connect() as connection:  # the server ends the kept session (restart, idle timeout)
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        store.write(Bar, bars(n=10, start=T0 + pd.Timedelta(hours=20)))
        assert store._adbc_idle[0][0] is not kept
        assert count(store) == 30
    finally:
        store.dispose()
    assert store._adbc_idle == []


def test_a_connection_that_cannot_be_opened_releases_the_file(sqlite_store: Store, bars: Callable[..., pd.DataFrame],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening the writer's connection fails (out of file handles, say): the write fails with that error and the
    file's guard is free again, for this thread and for others (before the fix the next access hung)."""
    import adbc_driver_sqlite.dbapi as adbc_sqlite

    sqlite_store.engine  # noqa: B018 - migrate first (it uses its own connection)
    real = adbc_sqlite.connect

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(adbc_sqlite, "connect", refuse)
    with pytest.raises(StoreError, match=r"nothing was written: .*Too many open files"):
        sqlite_store.write(Bar, bars(n=5))
    monkeypatch.setattr(adbc_sqlite, "connect", real)
    done: list[int] = []
    other = threading.Thread(target=lambda: done.append(sqlite_store.write(Bar, bars(n=5)).changed), daemon=True)
    other.start()
    other.join(timeout=30)
    assert done == [5]  # another thread got the file
    assert sqlite_store.write(Bar, bars(n=5, start=T0 + pd.Timedelta(hours=5))).changed == 5  # and this one too
    assert count(sqlite_store) == 10
