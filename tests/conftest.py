"""Shared fixtures: an isolated data home, real SQLite files and a real PostgreSQL server.

PostgreSQL: when ``ZVT_CRYPTO_TEST_PG_URL`` is set (an admin URL such as
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) that server is used; otherwise a throw-away server is
started once per session with ``initdb`` + ``pg_ctl`` (as the ``postgres`` user when running as root) on a free
port, with fsync off, and stopped at the end. Every test gets a fresh database. Without PostgreSQL binaries the
PostgreSQL-parametrized tests are skipped, unless ``ZVT_CRYPTO_REQUIRE_POSTGRES=1`` (CI), which makes them fail.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from zvt_crypto.contract import store as store_module
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.store import Store
from zvt_crypto.sim import DEFAULT_NOW, SimulatedExchange

ENV_PG_URL = "ZVT_CRYPTO_TEST_PG_URL"
ENV_REQUIRE_PG = "ZVT_CRYPTO_REQUIRE_POSTGRES"
# Variables the tests themselves read; every other ZVT_CRYPTO_* variable is cleared per test.
_KEEP_ENV = {ENV_PG_URL, ENV_REQUIRE_PG, "ZVT_CRYPTO_REQUIRE_BROWSER"}  # the last: tests/ui/conftest.py
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
T0 = pd.Timestamp("2024-01-01", tz="UTC")


def pytest_configure(config: pytest.Config) -> None:
    """One OpenMP thread per test process (before scikit-learn loads its OpenMP runtime; a value the caller set
    wins): the tests fit models on a few thousand rows, where a team of spinning threads per core only fights the
    other processes for the cores — test_ml.py took 47 s instead of 8 s on a busy 2-core machine, and one of its
    tests 130 s under ``-n 2``."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")


# ---------------------------------------------------------------------------------------------------------------
# isolation
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def zvt_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point ``ZVT_CRYPTO_HOME`` at a temp dir and drop every other ``ZVT_CRYPTO_*`` setting of the caller."""
    for key in list(os.environ):
        if key.startswith("ZVT_CRYPTO_") and key not in _KEEP_ENV:
            monkeypatch.delenv(key)
    home = tmp_path / "zvt_home"
    monkeypatch.setenv("ZVT_CRYPTO_HOME", str(home))
    yield home
    # get_store() caches stores per URL: close their pools so databases can be dropped.
    for cached in list(store_module._default_stores.values()):
        cached.dispose()
    store_module._default_stores.clear()


@pytest.fixture(autouse=True, scope="session")
def ccxt_closes_without_pause() -> Iterator[None]:
    """ccxt's async clients sleep ``timeout_on_exit`` (250 ms) in ``close()`` for TLS sockets to wind down; the
    tests speak plain HTTP to 127.0.0.1 and close a client in nearly every recorder test, so they skip it."""
    import ccxt.async_support

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ccxt.async_support.Exchange, "timeout_on_exit", 0)
        yield


@pytest.fixture(autouse=True)
def venues_unpaced(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against the loopback simulator, ccxt's rate limiter and our default request budget (binanceusdm: one request
    per 150 ms) only wait on the wall clock: they made most of a recorder test's time. Both are off unless a test is
    marked ``paced`` (the tests of the defaults themselves); a config that sets ``requests_per_minute`` or
    ``enableRateLimit`` still gets it, so pacing keeps its own tests (test_resilience.py)."""
    if request.node.get_closest_marker("paced"):
        return
    from zvt_crypto.recorders.exchange import DEFAULT_CCXT_OPTIONS
    from zvt_crypto.recorders.resilience import VENUE_DEFAULTS

    monkeypatch.setitem(DEFAULT_CCXT_OPTIONS, "enableRateLimit", False)
    for exchange_id in ("binance", "binanceusdm"):  # the simulator's venues
        monkeypatch.setitem(VENUE_DEFAULTS, exchange_id, {**VENUE_DEFAULTS[exchange_id], "requests_per_minute": 0})


# ---------------------------------------------------------------------------------------------------------------
# PostgreSQL server
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class PgServer:
    admin_url: str  # a URL of the maintenance database, used to create and drop test databases
    data_dir: Path | None = None  # set when the server was started by this session
    bin_dir: Path | None = None

    def url(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    def create_database(self, template: str | None = None, options: str = "") -> str:
        name = f"zvt_test_{uuid.uuid4().hex[:12]}"
        suffix = (f" TEMPLATE {template}" if template else "") + (f" {options}" if options else "")
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f"CREATE DATABASE {name}{suffix}"))
        finally:
            engine.dispose()
        return name

    def drop_database(self, name: str) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        finally:
            engine.dispose()


def _pg_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _pg_temp_root() -> str | None:
    """/dev/shm when it is a writable tmpfs (CREATE DATABASE is several times faster in memory), else the default."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(args: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: run them as the ``postgres`` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def _missing_postgres(reason: str) -> None:
    if os.environ.get(ENV_REQUIRE_PG) == "1":
        pytest.fail(f"{ENV_REQUIRE_PG}=1 but PostgreSQL is unavailable: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A running PostgreSQL server (the one named by ``ZVT_CRYPTO_TEST_PG_URL``, or a throw-away one)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing_postgres("the psycopg driver is not installed (pip install 'psycopg[binary]')")
    preset = os.environ.get(ENV_PG_URL)
    if preset:
        yield PgServer(admin_url=preset)
        return
    bin_dir = _pg_bin_dir()
    if bin_dir is None:
        _missing_postgres("no initdb under /usr/lib/postgresql/*/bin (apt-get install -y postgresql)")
    assert bin_dir is not None
    base = Path(tempfile.mkdtemp(prefix="zvt_pg_", dir=_pg_temp_root()))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data = base / "data"
    port = _free_port()
    run = dict(check=True, capture_output=True, text=True, timeout=120)
    try:
        subprocess.run(
            _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                          "--locale=C.UTF-8", "--no-sync"]),
            **run,
        )
        options = (f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=200")
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-w", "-t", "60",
                          "-o", options, "start"]),
            **run,
        )
    except subprocess.CalledProcessError as exc:
        log = (base / "server.log").read_text() if (base / "server.log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {exc.stderr}\n{log}", pytrace=False)
    server = PgServer(admin_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", data_dir=data,
                      bin_dir=bin_dir)
    try:
        yield server
    finally:
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_template(pg_server: PgServer) -> Iterator[str]:
    """A database migrated to head once per session; test databases are cloned from it (fast)."""
    name = pg_server.create_database()
    template_store = Store(pg_server.url(name))
    template_store.engine  # noqa: B018 - migrate to head
    template_store.dispose()  # CREATE DATABASE … TEMPLATE needs the template to have no connections
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def pg_url_factory(pg_server: PgServer, request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """``make(migrated=True)`` → URL of a new database, dropped after the test (``migrated=False``: empty)."""
    created: list[str] = []

    def make(migrated: bool = True) -> str:
        template = request.getfixturevalue("pg_template") if migrated else None
        name = pg_server.create_database(template)
        created.append(name)
        return pg_server.url(name)

    yield make
    for cached in list(store_module._default_stores.values()):
        cached.dispose()
    for name in created:
        pg_server.drop_database(name)


@pytest.fixture
def pg_url(pg_url_factory: Callable[..., str]) -> str:
    """URL of a fresh PostgreSQL database already migrated to head."""
    return pg_url_factory()


# ---------------------------------------------------------------------------------------------------------------
# stores
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite store migrated to head once per session; tests get copies of it (migrating each new file
    costs ~50 ms; ``test_store`` and ``test_migrations`` cover opening and migrating fresh files)."""
    path = tmp_path_factory.mktemp("sqlite_template") / "zvt.db"
    template = Store(f"sqlite:///{path}")
    template.engine  # noqa: B018 - migrate to head
    template.dispose()
    return path


def _sqlite_copy(template: Path, tmp_path: Path) -> Store:
    target = tmp_path / "store" / "zvt.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)
    return Store(f"sqlite:///{target}")


@pytest.fixture
def sqlite_store(sqlite_template: Path, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty SQLite store (a file in ``tmp_path``)."""
    store = _sqlite_copy(sqlite_template, tmp_path)
    yield store
    store.dispose()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store on each backend."""
    if request.param == "sqlite":
        opened = _sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    else:
        opened = Store(request.getfixturevalue("pg_url"))
    yield opened
    opened.dispose()


# ---------------------------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------------------------
def make_bars(
    entity_id: str = "pair_binance_BTC-USDT",
    n: int = 24,
    level: str = "1h",
    start: pd.Timestamp = T0,
    seed: int = 0,
) -> pd.DataFrame:
    """``n`` valid consecutive bars of one entity (columns, not an index; ``level`` included)."""
    rng = np.random.default_rng(seed)
    step = Level.parse(level).ms
    timestamps = pd.to_datetime(Level.parse(level).ceil(int(start.value // 1_000_000)) + np.arange(n) * step,
                                unit="ms", utc=True)
    open_ = 100 + rng.random(n) * 10
    close = 100 + rng.random(n) * 10
    return pd.DataFrame(
        {
            "entity_id": entity_id,
            "level": str(Level.parse(level)),
            "timestamp": timestamps,
            "open": open_,
            "high": np.maximum(open_, close) + 1.0,
            "low": np.minimum(open_, close) - 1.0,
            "close": close,
            "volume": rng.random(n) * 100,
            "quote_volume": rng.random(n) * 10_000,
            "trade_count": rng.integers(1, 1000, n),
        }
    )


@pytest.fixture
def bars() -> Callable[..., pd.DataFrame]:
    """The :func:`make_bars` factory."""
    return make_bars


# ---------------------------------------------------------------------------------------------------------------
# the simulated exchange (tests/sim, tests/recorders, tests/cli)
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def shared_sim() -> Iterator[SimulatedExchange]:
    """One simulated Binance per test session (its data generation is cached), on 127.0.0.1."""
    with SimulatedExchange(seed=7, lifetime=1200) as sim:
        yield sim


@pytest.fixture
def sim(shared_sim: SimulatedExchange) -> Iterator[SimulatedExchange]:
    """The shared server with no faults, an empty request log and the default clock."""
    shared_sim.faults.clear()
    shared_sim.reset_requests()
    shared_sim.set_now(DEFAULT_NOW)
    yield shared_sim
    shared_sim.faults.clear()
    shared_sim.set_now(DEFAULT_NOW)
