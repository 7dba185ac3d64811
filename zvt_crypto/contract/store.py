"""The store: one database (SQLite file or PostgreSQL) behind an explicit ``Store`` object.

There is no global session: a ``Store`` owns an engine for one URL and hands out connections per call.
Opening it (lazily, on first use) creates the SQLite file's folder and applies Alembic migrations, so a
store made by an older version opens with a newer one. SQLite runs in WAL mode with a busy timeout: a
recorder writing and a notebook or dashboard reading the same file both work.

Bulk paths use Arrow-native drivers (measured in ``benchmarks/``): writes bind Arrow tables through ADBC
(``contract.writer``), large reads fetch columnar through connectorx (``contract.reader``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from zvt_crypto.contract.config import Config, load_config, redact_url
from zvt_crypto.contract.errors import StoreError

if TYPE_CHECKING:
    import pandas as pd

    from zvt_crypto.contract.schema import Schema
    from zvt_crypto.contract.writer import WriteResult

SQLITE_BUSY_TIMEOUT_MS = 30_000
SUPPORTED_DIALECTS = ("sqlite", "postgresql")
_MIGRATIONS = Path(__file__).with_name("migrations")


class Store:
    """A handle on one database. Cheap to create; nothing is opened until first use.

    >>> store = Store("sqlite:////tmp/zvt_crypto_doc.db")   # doctest: +SKIP
    >>> store.write(Bar, frame)                            # doctest: +SKIP
    WriteResult(schema='Bar', rows=1440, changed=1440)
    """

    def __init__(self, url: str | Config | None = None, *, echo: bool = False) -> None:
        if url is None:
            url = load_config()
        self.config = url if isinstance(url, Config) else None
        text = url.db_url if isinstance(url, Config) else url
        try:
            self.url: URL = make_url(text)
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises several types for bad URLs
            raise StoreError(
                f"invalid database URL {redact_url(text)!r}: {exc}; use e.g. sqlite:////path/to/zvt.db "
                "or postgresql+psycopg://user@host/db"
            ) from None
        if self.url.get_backend_name() not in SUPPORTED_DIALECTS:
            raise StoreError(
                f"unsupported database {self.url.get_backend_name()!r}; zvt_crypto supports "
                f"{' and '.join(SUPPORTED_DIALECTS)}"
            )
        if self.is_sqlite and self.url.database in (None, "", ":memory:"):
            raise StoreError("in-memory SQLite is not supported (bulk paths open their own connections); use a file")
        self._echo = echo
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    # -- identity ---------------------------------------------------------------------------------------------
    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def sqlite_path(self) -> Path:
        return Path(self.url.database or "").expanduser().resolve()

    def __repr__(self) -> str:
        return f"Store({redact_url(self.url.render_as_string(hide_password=False))!r})"

    # -- connections --------------------------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The engine, opening the store (folder, migrations) on first access."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    engine = self._create_engine()
                    from zvt_crypto.contract.migrate import upgrade

                    try:
                        upgrade(engine)
                    except Exception:
                        engine.dispose()
                        raise
                    self._engine = engine
        return self._engine

    def _create_engine(self) -> Engine:
        if self.is_sqlite:
            path = self.sqlite_path
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the data folder {path.parent}: {exc}; set ZVT_CRYPTO_HOME") from None
            engine = create_engine(
                self.url.set(database=str(path)),
                echo=self._echo,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                poolclass=NullPool,  # connections must not outlive their use: see SqliteFileGuard
            )
            _install_sqlite_pragmas(engine, sqlite_guard(path))
            return engine
        return create_engine(self.url, echo=self._echo, pool_pre_ping=True)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside a transaction, committed on success and rolled back on error."""
        with self.engine.begin() as connection:
            yield connection

    def session(self) -> Session:
        """A new ORM session (the caller closes it; use it as a context manager)."""
        return Session(self.engine)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- Arrow-native bulk paths --------------------------------------------------------------------------------
    @contextmanager
    def adbc_connection(self) -> Iterator[Any]:
        """A new ADBC DBAPI connection in autocommit mode (the caller manages BEGIN/COMMIT), closed on exit."""
        self.engine  # noqa: B018 - make sure the store exists and is migrated
        if not self.is_sqlite:
            import adbc_driver_postgresql.dbapi as adbc_postgresql

            with adbc_postgresql.connect(self.libpq_uri(), autocommit=True) as connection:
                yield connection
            return
        import adbc_driver_sqlite.dbapi as adbc_sqlite

        with self.sqlite_exclusive():
            connection = adbc_sqlite.connect(str(self.sqlite_path), autocommit=True)
            try:
                cursor = connection.cursor()
                cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
                cursor.execute("PRAGMA synchronous = NORMAL")
                cursor.close()
                yield connection
            finally:
                connection.close()

    @contextmanager
    def adbc_transaction(self) -> Iterator[Any]:
        """An ADBC cursor inside one transaction: committed when the block ends, rolled back if it raises.
        On SQLite the write lock is taken up front (``BEGIN IMMEDIATE``) so the batch never fails half-way
        on a lock upgrade."""
        with self.adbc_connection() as connection:
            cursor = connection.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE" if self.is_sqlite else "BEGIN")
                try:
                    yield cursor
                except BaseException:
                    with suppress(Exception):  # a broken connection cannot roll back; closing it aborts
                        cursor.execute("ROLLBACK")
                    raise
                cursor.execute("COMMIT")
            finally:
                cursor.close()

    @contextmanager
    def sqlite_exclusive(self) -> Iterator[None]:
        """Hold this process's guard of the SQLite file (no-op on PostgreSQL); see :class:`SqliteFileGuard`."""
        if not self.is_sqlite:
            yield
            return
        guard = sqlite_guard(self.sqlite_path)
        guard.acquire()
        try:
            yield
        finally:
            guard.release()

    def libpq_uri(self) -> str:
        """The PostgreSQL URL without the SQLAlchemy driver suffix (for ADBC and connectorx)."""
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def connectorx_uri(self) -> str:
        if self.is_sqlite:
            return "sqlite://" + quote(str(self.sqlite_path))
        return self.libpq_uri()

    # -- verbs --------------------------------------------------------------------------------------------------
    def write(self, schema: type["Schema"], frame: "pd.DataFrame", **kwargs: Any) -> "WriteResult":
        """Validate and upsert ``frame`` into ``schema``'s table in one transaction; see ``contract.writer``."""
        from zvt_crypto.contract.writer import write_frame

        return write_frame(self, schema, frame, **kwargs)


class SqliteFileGuard:
    """One SQLite library copy at a time per file, within this process.

    Python's ``sqlite3``, ADBC and connectorx each carry their own copy of SQLite. SQLite's locks are POSIX
    locks, which belong to the process: when one copy closes its file it silently drops the locks another copy
    holds, and may delete the WAL the other still uses — the corruption SQLite's documentation describes under
    "multiple copies of SQLite linked into the same application". So every connection to the file, whatever
    the library, is opened under this guard and closed before it is released; other threads wait their turn,
    other processes are unaffected (their locks work as usual). Opening a second connection from the thread
    that holds the guard would deadlock, so it is an error instead.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._owner: int | None = None

    def acquire(self) -> None:
        if self._owner == threading.get_ident():
            raise StoreError(
                f"this thread already has {self.path} open; finish (close) the open session or connection "
                "before starting another read or write on the same SQLite store"
            )
        self._lock.acquire()
        self._owner = threading.get_ident()

    def release(self) -> None:
        self._owner = None
        self._lock.release()


_guards: dict[Path, SqliteFileGuard] = {}
_guards_lock = threading.Lock()


def sqlite_guard(path: Path) -> SqliteFileGuard:
    with _guards_lock:
        guard = _guards.get(path)
        if guard is None:
            guard = _guards[path] = SqliteFileGuard(path)
        return guard


def _install_sqlite_pragmas(engine: Engine, guard: SqliteFileGuard) -> None:
    """Guarded connections, WAL + busy timeout on each, and real transactions (pysqlite's legacy mode defers
    BEGIN, which lets two writers race on DDL; SQLAlchemy documents this recipe)."""

    @event.listens_for(engine, "do_connect")
    def _guarded_connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        guard.acquire()
        try:
            return dialect.loaded_dbapi.connect(*cargs, **cparams)
        except BaseException:
            guard.release()
            raise

    @event.listens_for(engine, "close")
    def _on_close(_dbapi_connection: Any, _record: Any) -> None:
        guard.release()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))


_default_stores: dict[str, Store] = {}
_default_lock = threading.Lock()


def get_store(store: Store | Config | str | None = None) -> Store:
    """``store`` itself, or the store of a config / URL, or the default config's store.

    Stores made from a config or URL are cached per URL so repeated queries reuse one connection pool;
    nothing is shared between different URLs.
    """
    if isinstance(store, Store):
        return store
    config = store if isinstance(store, Config) else None
    url = store if isinstance(store, str) else (config or load_config()).db_url
    with _default_lock:
        cached = _default_stores.get(url)
        if cached is None:
            cached = _default_stores[url] = Store(config or url)
        return cached
