"""Fixtures of the dashboard tests: a store filled through the library (the real CSVs of ``backtesting``, a job
history written by the scheduler's own history writer), the app served by uvicorn in a thread or by a real
``zvt-crypto serve`` subprocess, and Playwright driving Debian's chromium.

Chromium: ``/usr/bin/chromium`` (or ``ZVT_CRYPTO_CHROMIUM``). Without it, or without Playwright, the browser tests
are skipped with the reason, unless ``ZVT_CRYPTO_REQUIRE_BROWSER=1`` (CI, ``.ci/run``), which makes them fail."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from zvt_crypto.contract.config import load_config
from zvt_crypto.contract.store import Store

ENV_REQUIRE_BROWSER = "ZVT_CRYPTO_REQUIRE_BROWSER"
ENV_CHROMIUM = "ZVT_CRYPTO_CHROMIUM"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TOKEN = "test-token-0123456789abcdef"
JOBS_TOML = """
[[jobs]]
name = "btc-1h"
exchange = "binance"
symbols = ["BTC/USDT"]
kinds = ["bars"]
levels = ["1h"]
every = "1h"

[[jobs]]
name = "eth-1d"
exchange = "binance"
symbols = ["ETH/USDT"]
kinds = ["bars"]
levels = ["1d"]
cron = "0 0 * * *"
"""
# A stored error holding markup and a URL credential: it must show as text, the password redacted.
HOSTILE_ERROR = "venue said <img src=x onerror=\"window.__pwned=1\"> at https://u:hunter2@api.example.com/x"


def chromium_path() -> str:
    """The chromium binary, or a skip (a failure when the browser is required) saying how to get it."""
    path = os.environ.get(ENV_CHROMIUM) or shutil.which("chromium") or "/usr/bin/chromium"
    problems = []
    if not Path(path).is_file():
        problems.append(f"no chromium at {path} (apt-get install chromium, or set {ENV_CHROMIUM})")
    if importlib.util.find_spec("playwright") is None:
        problems.append('Playwright is not installed (pip install -e ".[dev]")')
    if problems:
        message = "browser tests cannot run: " + "; ".join(problems)
        if os.environ.get(ENV_REQUIRE_BROWSER) == "1":
            pytest.fail(f"{message} ({ENV_REQUIRE_BROWSER}=1)", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch options pointed at Debian's chromium (``playwright install`` is never run)."""
    return {**browser_type_launch_args, "executable_path": chromium_path(), "args": CHROMIUM_ARGS}


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A browser test without pytest-playwright: the reason, not "fixture 'page' not found"."""
    if item.get_closest_marker("browser") and not item.config.pluginmanager.hasplugin("playwright"):
        chromium_path()
        problem = 'the pytest-playwright plugin is not installed or not enabled (pip install -e ".[dev]")'
        if os.environ.get(ENV_REQUIRE_BROWSER) == "1":
            pytest.fail(f"browser tests cannot run: {problem} ({ENV_REQUIRE_BROWSER}=1)", pytrace=False)
        pytest.skip(f"browser tests cannot run: {problem}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------------------------
# stores
# ---------------------------------------------------------------------------------------------------------------
def backtesting_csv(name: str) -> Path:
    spec = importlib.util.find_spec("backtesting")  # locates the package without importing it (and bokeh)
    if spec is None or spec.origin is None:
        pytest.fail('the backtesting package (dev extra) is not installed: pip install -e ".[dev]"')
    path = Path(spec.origin).parent / "test" / f"{name}.csv"
    assert path.is_file(), path
    return path


def fill_store(store: Store, site: Site | None = None) -> None:
    """Real bars (GOOG daily 2004–2013, EUR/USD hourly 2017–2018 from ``backtesting``) and a job history: an ok
    run of btc-1h and two failed runs in a row of eth-1d, written by the scheduler's history writer. With ``site``
    the ok run is real (:func:`run_job_like_the_scheduler`)."""
    from zvt_crypto.dataio.importers import import_bars
    from zvt_crypto.schedule.history import RunTotals, finish_run, new_run_id, start_run

    import_bars(store, backtesting_csv("GOOG"), exchange="nasdaq", symbol="GOOG/USD", level="1d")
    import_bars(store, backtesting_csv("EURUSD"), exchange="oanda", symbol="EUR/USD", level="1h")
    if site is not None:
        run_job_like_the_scheduler(store, site, "btc-1h")
    else:
        ok = new_run_id()
        start_run(store, "btc-1h", ok, "scheduled")
        finish_run(store, ok, "ok", RunTotals(rows=24, changed=24, requests=2, retries=1, gaps_found=1,
                                              gaps_filled=1))
    for _ in range(2):
        failed = new_run_id()
        start_run(store, "eth-1d", failed, "scheduled")
        finish_run(store, failed, "failed", RunTotals(requests=1), error=HOSTILE_ERROR)


@dataclass
class Site:
    """A home with a store and a config file (``[[jobs]]``), as a user's would be."""

    home: Path
    config_file: Path

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.home / 'zvt_crypto.db'}"

    def store(self) -> Store:
        return Store(self.db_url)


def run_job_like_the_scheduler(store: Store, site: Site, job: str) -> None:
    """One run of ``job`` (from the site's ``[[jobs]]``) by the scheduler's own job runner against a simulated
    Binance whose clock is now: its bars up to the last complete interval and its history row, as a live
    scheduler leaves them."""
    import pandas as pd

    from zvt_crypto.contract.config import load_config
    from zvt_crypto.schedule.config import load_schedule
    from zvt_crypto.schedule.runner import JobRunner
    from zvt_crypto.sim import SimulatedExchange

    config = load_config(site.config_file, env={})
    schedule = load_schedule(config)
    with SimulatedExchange(seed=7, now=pd.Timestamp.now(tz="UTC"), lifetime=300) as sim:
        outcome = JobRunner(store, sim.config(config), schedule.settings).execute(schedule.job(job), "scheduled")
    assert outcome is not None and outcome.status == "ok", outcome and outcome.error


def make_site(root: Path, *, filled: bool, extra_toml: str = "", scheduler_run: bool = False) -> Site:
    """``scheduler_run``: the ok run of job btc-1h is a real run against the simulator (else a written row)."""
    home = root / "home"
    home.mkdir(parents=True)
    config_file = root / "zvt.toml"
    config_file.write_text(f'home = "{home}"\n{extra_toml}\n{JOBS_TOML}', encoding="utf-8")
    site = Site(home, config_file)
    store = site.store()
    try:
        store.engine  # noqa: B018 - creates and migrates the store
        if filled:
            fill_store(store, site if scheduler_run else None)
    finally:
        store.dispose()
    return site


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path, filled=True)


@pytest.fixture
def empty_site(tmp_path: Path) -> Site:
    return make_site(tmp_path, filled=False)


def ui_context(site: Site, token: str | None = None) -> Any:
    from zvt_crypto.schedule import config as _schedule_config  # noqa: F401 - load_config accepts [[jobs]]
    from zvt_crypto.ui.context import UiContext
    from zvt_crypto.ui.settings import ServeSettings

    config = load_config(site.config_file, env={})
    return UiContext(config=config, store=Store(config, create=False), settings=ServeSettings(token=token))


# ---------------------------------------------------------------------------------------------------------------
# servers
# ---------------------------------------------------------------------------------------------------------------
@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """``app`` under uvicorn in a daemon thread on a free 127.0.0.1 port; yields its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    started_seconds: float

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Send ``sig``; the exit status and what the process printed."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        stdout, stderr = self.process.communicate(timeout=30)
        return self.process.returncode, stdout, stderr


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            stdout, stderr = process.communicate()
            raise AssertionError(f"zvt-crypto serve ended with {process.returncode}:\n{stdout}\n{stderr}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        assert time.monotonic() < deadline, f"no 200 on {url}/healthz within {timeout} s"
        time.sleep(0.02)


@contextmanager
def serve_process(site: Site, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """``python -m zvt_crypto serve --port P --config FILE *args`` as a real process; stopped (SIGTERM) after."""
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ZVT_CRYPTO_")}
    environment.update(env or {})
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "zvt_crypto", "serve", "--port", str(port), "--config",
                                str(site.config_file), *args], env=environment, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield Served(url, process, time.monotonic() - started)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture
def serve_site() -> Callable[..., Any]:
    return serve_process


# ---------------------------------------------------------------------------------------------------------------
# stored backtest runs (the /backtests page)
# ---------------------------------------------------------------------------------------------------------------
#: two real backtests on the imported bars: GOOG daily (2,148 bars) and EUR/USD hourly (5,000 bars)
RUNS = (("nasdaq", "GOOG/USD", "1d", {"fast": 10, "slow": 30}), ("oanda", "EUR/USD", "1h", {"fast": 5, "slow": 20}))


def store_runs(store: Store) -> list[str]:
    """Backtest ``sma_cross`` on each of :data:`RUNS` through the library and store the runs; their ids."""
    from zvt_crypto.trader.data import load_market_data
    from zvt_crypto.trader.engine import run_backtest
    from zvt_crypto.trader.storage import save_run

    ids = []
    for exchange, symbol, level, params in RUNS:
        data = load_market_data(exchange=exchange, symbols=[symbol], level=level, store=store)
        ids.append(save_run(run_backtest("sma_cross", data, params=params, fee=0.001), store))
    return ids


@pytest.fixture
def runs_site(tmp_path: Path) -> tuple[Site, list[str]]:
    """The filled site with the two stored runs of :func:`store_runs`."""
    site = make_site(tmp_path, filled=True)
    store = site.store()
    try:
        return site, store_runs(store)
    finally:
        store.dispose()


# ---------------------------------------------------------------------------------------------------------------
# factors and paper accounts (pages /factors and /paper)
# ---------------------------------------------------------------------------------------------------------------
PAPER_ACCOUNT = "goog-sma"
PAPER_FIRST_STEP_UNTIL = "2011-12-31"
CROSS_SECTION = ("BTC/USDT", "ETH/USDT", "SOL/USDT")


def fill_research(store: Store, home: Path) -> None:
    """On top of :func:`fill_store`: RSI computed on GOOG's real daily bars; a cross-section for tear sheets (4h
    bars of three pairs recorded from the simulated Binance by the real recorder, RSI on them); and a paper account
    on GOOG (sma_cross) stepped up to :data:`PAPER_FIRST_STEP_UNTIL` (a later step processes the rest)."""
    from zvt_crypto.contract.config import load_config
    from zvt_crypto.factors import compute_factor, make_factor
    from zvt_crypto.recorders import BarsRecorder
    from zvt_crypto.sim import SimulatedExchange
    from zvt_crypto.trader.paper import PaperTrader

    compute_factor(make_factor("rsi"), exchange="nasdaq", level="1d", store=store).check()
    with SimulatedExchange(seed=7, lifetime=120) as sim:
        config = sim.config(load_config(env={"ZVT_CRYPTO_HOME": str(home)}))
        BarsRecorder(store, config).record(exchange="binance", symbols=CROSS_SECTION, level="4h", start="2023-10-01",
                                           show_progress=False)
    compute_factor(make_factor("rsi"), exchange="binance", level="4h", store=store).check()
    trader = PaperTrader(PAPER_ACCOUNT, "sma_cross", {"fast": 10, "slow": 30}, exchange="nasdaq",
                         symbols=["GOOG/USD"], level="1d", fee=0.001, start="2010-01-04").create(store)
    trader.step(store, until=PAPER_FIRST_STEP_UNTIL)


def make_research_site(root: Path) -> Site:
    site = make_site(root, filled=True)
    store = site.store()
    try:
        fill_research(store, site.home)
    finally:
        store.dispose()
    return site


@pytest.fixture(scope="session")
def research_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """A filled site with factors and a stepped paper account; read-only (copy it to change it)."""
    return make_research_site(tmp_path_factory.mktemp("research"))


#: set to a folder (e.g. docs/screenshots) to keep the browser tests' screenshots there too
ENV_SCREENSHOTS = "ZVT_CRYPTO_SCREENSHOTS"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Where the browser tests' screenshots go: a temp dir, and ``$ZVT_CRYPTO_SCREENSHOTS`` when set."""
    folders = [tmp_path_factory.mktemp("screenshots")]
    if os.environ.get(ENV_SCREENSHOTS):
        folders.append(Path(os.environ[ENV_SCREENSHOTS]))
        folders[-1].mkdir(parents=True, exist_ok=True)
    return folders
