"""The store: one database (SQLite file or PostgreSQL) behind an explicit ``Store`` object.

There is no global session: a ``Store`` owns an engine for one URL and hands out connections per call (the
bulk writer keeps its ADBC connection open between writes; ``dispose`` closes it).
Opening it (lazily, on first use) creates the SQLite file's folder and applies Alembic migrations, so a
store made by an older version opens with a newer one. SQLite runs in WAL mode with a busy timeout: a
recorder writing and a notebook or dashboard reading the same file both work.

Bulk paths use Arrow-native drivers (measured in ``benchmarks/``): writes bind Arrow tables through ADBC
(``contract.writer``), large reads fetch columnar through connectorx (``contract.reader``).
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from zvt_crypto.contract.config import Config, load_config, redact_url
from zvt_crypto.contract.errors import StoreError
from zvt_crypto.contract.migrate import upgrade

if TYPE_CHECKING:
    import pandas as pd

    from zvt_crypto.contract.schema import Schema
    from zvt_crypto.contract.writer import WriteResult

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: PostgreSQL ADBC connections a store keeps open between writes (one per concurrent writer, up to this many).
ADBC_KEPT_POSTGRESQL = 4
SUPPORTED_DIALECTS = ("sqlite", "postgresql")


class Store:
    """A handle on one database. Cheap to create; nothing is opened until first use.

    >>> store = Store("sqlite:////tmp/zvt_crypto_doc.db")   # doctest: +SKIP
    >>> store.write(Bar, frame)                            # doctest: +SKIP
    WriteResult(schema='Bar', rows=1440, inserted=1440, updated=0, kept=0)
    """

    def __init__(self, url: str | Config | None = None, *, echo: bool = False, create: bool = True) -> None:
        """``create=False``: a SQLite file that does not exist is an error rather than a new, empty store (the CLI
        creates only the default store under the data home unless asked: a typo in a path must not look like an
        empty store)."""
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
        self._create = create
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        # The writer's ADBC connections, kept open between writes (opening one and closing it — SQLite checkpoints
        # the WAL on the last close — cost more than writing a 1,000-row page). SQLite: at most one, parked in the
        # file's guard under this token while no write runs (any other connection to the file closes it first);
        # PostgreSQL: a small pool. Closed by ``dispose``, when the store is garbage-collected, or at exit.
        self._adbc_token = object()
        self._adbc_idle: list[tuple[Any, int]] = []  # PostgreSQL (connection, pid)
        self._adbc_idle_lock = threading.Lock()
        guarded = self.sqlite_path if self.is_sqlite else None  # the one file guard this store may park in
        weakref.finalize(self, _release_kept, self._adbc_token, self._adbc_idle, self._adbc_idle_lock, guarded)

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
                    from sqlalchemy.exc import DatabaseError, InterfaceError

                    try:
                        upgrade(engine)
                    except (DatabaseError, InterfaceError) as exc:  # OperationalError too: refused, bad password …
                        engine.dispose()
                        raise StoreError(self._open_failure(exc)) from exc
                    except Exception:
                        engine.dispose()
                        raise
                    self._engine = engine
        return self._engine

    @property
    def _origin(self) -> str:
        """Where the URL came from, for messages."""
        return self.config.db_url_origin if self.config is not None else "the database URL"

    def _open_failure(self, exc: Exception) -> str:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if self.is_sqlite:
            return (f"cannot open {self.sqlite_path} as a SQLite store ({reason}); it is not a zvt_crypto store or is "
                    f"damaged: check {self._origin}, or move the file away")
        return (f"cannot open the database {redact_url(str(self.url.render_as_string(hide_password=False)))} "
                f"({reason}); check that the server runs and accepts this user, or fix {self._origin}")

    def _check_sqlite_path(self, path: Path) -> None:
        """Create the file's folder when this store may be created; else insist that the file exists."""
        if path.exists():
            return
        if not self._create:
            raise StoreError(f"no store at {path} (named by {self._origin}); check the path, or pass --create to "
                             "start a new store there")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if self.config is not None and self.config.db_url_origin == "default":
                raise StoreError(f"cannot create the data folder {path.parent}: {reason}; set ZVT_CRYPTO_HOME (or "
                                 "--home) to a writable folder") from None
            raise StoreError(f"cannot create the data folder {path.parent} of the store named by {self._origin}: "
                             f"{reason}; fix that path") from None

    def _create_engine(self) -> Engine:
        if self.is_sqlite:
            path = self.sqlite_path
            self._check_sqlite_path(path)
            engine = create_engine(
                self.url.set(database=str(path)),
                echo=self._echo,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                poolclass=NullPool,  # connections must not outlive their use: see SqliteFileGuard
            )
            _install_sqlite_pragmas(engine, sqlite_guard(path))
            return engine
        try:
            return create_engine(self.url, echo=self._echo, pool_pre_ping=True)
        except ImportError as exc:
            raise StoreError(f"the PostgreSQL driver is not installed ({exc}); pip install "
                             '"zvt-crypto[postgres]"') from None

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside a transaction, committed on success and rolled back on error."""
        with self.engine.begin() as connection:
            yield connection

    def session(self) -> Session:
        """A new ORM session (the caller closes it; use it as a context manager)."""
        return Session(self.engine)

    def dispose(self) -> None:
        """Close the kept ADBC connections and the engine's pool (the store opens them again when used)."""
        _release_kept(self._adbc_token, self._adbc_idle, self._adbc_idle_lock,
                      self.sqlite_path if self.is_sqlite else None, wait=True)
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
        on a lock upgrade.

        The connection is kept for the next transaction when this one committed; after any error it is closed
        (the next transaction opens a new one), so a broken connection is never reused. A kept PostgreSQL
        connection the server dropped meanwhile is replaced by a new one."""
        self.engine  # noqa: B018 - make sure the store exists and is migrated
        if self.is_sqlite:
            guard = sqlite_guard(self.sqlite_path)
            parked = guard.acquire(claim=self._adbc_token)
            park = None
            try:  # from here on the guard is released whatever fails, opening the connection included
                kept_sqlite = self._kept_sqlite(parked)
                with _closing_on_failure(kept_sqlite[0]), _transaction(kept_sqlite[0], "BEGIN IMMEDIATE") as cursor:
                    yield cursor
                park = (self._adbc_token, kept_sqlite, _close_kept)
            finally:
                guard.release(park)
            return
        connection, kept = self._checkout_postgresql()
        with _closing_on_failure(connection[0]):
            try:
                cursor = connection[0].cursor()
                cursor.execute("BEGIN")
            except Exception:
                if not kept:
                    raise
                _close_kept(connection)  # the server dropped it while it was idle: use a new one
                connection = (self._connect_postgresql(), os.getpid())
                cursor = connection[0].cursor()
                cursor.execute("BEGIN")
        with _closing_on_failure(connection[0]), _transaction(connection[0], None, cursor) as cursor:
            yield cursor
        with self._adbc_idle_lock:
            if len(self._adbc_idle) < ADBC_KEPT_POSTGRESQL:
                self._adbc_idle.append(connection)
                return
        _close_kept(connection)

    def _kept_sqlite(self, parked: Any) -> tuple[Any, tuple[int, int] | None]:
        """This store's parked SQLite connection if it still opens the same file (the path may have been deleted
        and created again), else a new one. Called holding the file's guard."""
        try:
            stat = os.stat(self.sqlite_path)
            file_id = (stat.st_dev, stat.st_ino)
        except OSError:
            file_id = None
        if parked is not None:
            if file_id is not None and parked[1] == file_id:
                return parked
            _close_kept(parked)
        import adbc_driver_sqlite.dbapi as adbc_sqlite

        connection = adbc_sqlite.connect(str(self.sqlite_path), autocommit=True)
        try:
            cursor = connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()
        except BaseException:
            connection.close()
            raise
        if file_id is None:  # the connection created the file
            with suppress(OSError):
                stat = os.stat(self.sqlite_path)
                file_id = (stat.st_dev, stat.st_ino)
        return connection, file_id

    def _connect_postgresql(self) -> Any:
        import adbc_driver_postgresql.dbapi as adbc_postgresql

        return adbc_postgresql.connect(self.libpq_uri(), autocommit=True)

    def _checkout_postgresql(self) -> tuple[tuple[Any, int], bool]:
        """A kept PostgreSQL connection (True) or a new one (False)."""
        with self._adbc_idle_lock:
            while self._adbc_idle:
                connection = self._adbc_idle.pop()
                if connection[1] == os.getpid():
                    return connection, True
                # inherited over a fork: the parent's, neither ours to use nor to close
        return (self._connect_postgresql(), os.getpid()), False

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

    A connection may stay open while the guard is free — the writer's, kept between writes — if it is *parked*
    here (:meth:`release` with ``park``): whoever takes the guard next closes it first, unless it is its owner
    reclaiming it (``acquire(claim=owner)``). So there is still only one library copy with the file open whenever
    another one opens it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._parked: tuple[object, Any, Callable[[Any], None], int] | None = None  # owner, connection, close, pid

    def acquire(self, claim: object | None = None) -> Any:
        """Take the guard; returns the connection ``claim`` parked (else ``None``, any parked one closed)."""
        if self._owner == threading.get_ident():
            raise StoreError(
                f"this thread already has {self.path} open; finish (close) the open session or connection "
                "before starting another read or write on the same SQLite store"
            )
        self._lock.acquire()
        self._owner = threading.get_ident()
        parked, self._parked = self._parked, None
        if parked is None or parked[3] != os.getpid():  # one parked before a fork is the parent's: leave it be
            return None
        owner, connection, close, _pid = parked
        if claim is not None and owner is claim:
            return connection
        try:
            close(connection)
        except BaseException:
            self.release()
            raise
        return None

    def release(self, park: tuple[object, Any, Callable[[Any], None]] | None = None) -> None:
        """Free the guard; ``park=(owner, connection, close)`` leaves that connection open for ``owner``."""
        self._parked = None if park is None else (*park, os.getpid())
        self._owner = None
        self._lock.release()

    def discard(self, owner: object, wait: bool = True) -> None:
        """Close the connection ``owner`` parked, if it still is (``wait=False``: only if the guard is free now)."""
        if self._owner == threading.get_ident() or not self._lock.acquire(blocking=wait):
            return  # held by this thread (nothing is parked while it is held) or busy (its taker closes it)
        try:
            parked = self._parked
            if parked is not None and parked[0] is owner:
                self._parked = None
                if parked[3] == os.getpid():
                    with suppress(Exception):
                        parked[2](parked[1])
        finally:
            self._lock.release()


_guards: dict[Path, SqliteFileGuard] = {}
_guards_lock = threading.Lock()


def sqlite_guard(path: Path) -> SqliteFileGuard:
    with _guards_lock:
        guard = _guards.get(path)
        if guard is None:
            guard = _guards[path] = SqliteFileGuard(path)
        return guard


def _close_kept(connection: tuple[Any, Any]) -> None:
    """Close a kept ``(ADBC connection, …)``; a connection that fails to close is gone all the same."""
    with suppress(Exception):
        connection[0].close()


def _release_kept(token: object, idle: list[tuple[Any, int]], lock: threading.Lock, path: Path | None,
                  wait: bool = False) -> None:
    """Close a store's kept ADBC connections: its parked SQLite one (in the guard of its own file ``path`` only:
    waiting on another file's guard would block on work that is not ours) and its idle PostgreSQL ones. From
    ``dispose`` (``wait``), and from the store's finalizer (never blocks: a busy guard's next taker closes it)."""
    with _guards_lock:
        guard = None if path is None else _guards.get(path)
    if guard is not None:
        guard.discard(token, wait=wait)
    if not lock.acquire(blocking=wait):
        return
    try:
        kept, idle[:] = list(idle), []
    finally:
        lock.release()
    for connection in kept:
        if connection[1] == os.getpid():
            _close_kept(connection)


@atexit.register
def _close_parked() -> None:
    """At exit, close the parked SQLite connections (SQLite then checkpoints the WAL into the file)."""
    with _guards_lock:
        guards = list(_guards.values())
    for guard in guards:
        if guard._lock.acquire(blocking=False):
            try:
                parked, guard._parked = guard._parked, None
                if parked is not None and parked[3] == os.getpid():
                    with suppress(Exception):
                        parked[2](parked[1])
            finally:
                guard._lock.release()


@contextmanager
def _closing_on_failure(connection: Any) -> Iterator[None]:
    try:
        yield
    except BaseException:
        with suppress(Exception):
            connection.close()
        raise


@contextmanager
def _transaction(connection: Any, begin: str | None, cursor: Any = None) -> Iterator[Any]:
    """``begin`` (``None``: ``cursor`` has begun already), the block, ``COMMIT``; ``ROLLBACK`` if the block raises.
    The cursor is closed either way."""
    cursor = cursor if cursor is not None else connection.cursor()
    try:
        if begin is not None:
            cursor.execute(begin)
        try:
            yield cursor
        except BaseException:
            with suppress(Exception):  # a broken connection cannot roll back; closing it aborts
                cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
    finally:
        with suppress(Exception):
            cursor.close()


def _set_pragmas(dbapi_connection: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _install_sqlite_pragmas(engine: Engine, guard: SqliteFileGuard) -> None:
    """Guarded connections, WAL + busy timeout on each, and real transactions (pysqlite's legacy mode defers
    BEGIN, which lets two writers race on DDL; SQLAlchemy documents this recipe)."""

    @event.listens_for(engine, "do_connect")
    def _guarded_connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        # The pragmas run here, inside the guard's try: a connection that fails them (a file that is not a
        # database) never reaches the pool, so no "close" event would ever release the guard it took.
        guard.acquire()
        connection = None
        try:
            connection = dialect.loaded_dbapi.connect(*cargs, **cparams)
            _set_pragmas(connection)
            return connection
        except BaseException:
            if connection is not None:
                with suppress(Exception):
                    connection.close()
            guard.release()
            raise

    @event.listens_for(engine, "close")
    def _on_close(_dbapi_connection: Any, _record: Any) -> None:
        guard.release()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))


_default_stores: dict[str, Store] = {}
_default_lock = threading.Lock()


#: what the public functions accept as ``store``: a store, a config, a database URL, or None (the configured store)
StoreLike: TypeAlias = "Store | Config | str | None"


def get_store(store: StoreLike = None) -> Store:
    """``store`` itself, or the store of a config / URL, or the default config's store.

    Stores made from a config or URL are cached per URL so repeated queries reuse one connection pool;
    nothing is shared between different URLs.

    >>> get_store() is get_store(load_config())        # the configured store, one per URL
    True
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
