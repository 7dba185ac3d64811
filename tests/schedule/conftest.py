"""Scheduler tests: config files pointing ccxt at the simulated Binance, a daemon in a real subprocess, polling.

The simulator runs in the test process; its clock moves only when a test advances it, so "the venue closed more
bars" is a step the test takes, and the daemon (second-level intervals) must pick them up on its own. Outcomes
are polled from the store with a timeout: nothing asserts how fast a tick comes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from zvt_crypto.contract.config import Config, load_config
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import JobRun
from zvt_crypto.sim import SimulatedExchange

# The user's [exchanges.<id>] retry keys with millisecond back-off, so a venue that is down fails a run in a fraction
# of a second instead of ~16 s: the simulated Binance keeps the default number of retries (5), the dead venue one.
FAST_RETRIES = "\n[exchanges.binance]\nmax_retries = 5\nretry_initial_seconds = 0.01\nretry_max_seconds = 0.05\n"
FAST_CLIENT = "max_retries = 1\nretry_initial_seconds = 0.01\nretry_max_seconds = 0.05\n"


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dead_venue_toml(exchange_id: str = "binanceusdm") -> str:
    """``[exchanges.<id>]`` pointing ccxt at a closed port: every request is refused at once."""
    url = f"http://127.0.0.1:{closed_port()}"
    return (f"\n[exchanges.{exchange_id}]\n{FAST_CLIENT}\n[exchanges.{exchange_id}.ccxt]\n"
            'options = { fetchCurrencies = false, fetchMargins = false }\n\n'
            f"[exchanges.{exchange_id}.ccxt.urls.api]\n"
            f'fapiPublic = "{url}/fapi/v1"\nfapiPublicV2 = "{url}/fapi/v2"\nfapiData = "{url}/futures/data"\n'
            f'public = "{url}/api/v3"\ndapiPublic = "{url}/dapi/v1"\n')


class DaemonEnv:
    """A config file (simulator + jobs), a data home and the environment of ``zvt-crypto`` subprocesses."""

    def __init__(self, sim: SimulatedExchange, tmp_path: Path) -> None:
        self.sim = sim
        self.home = tmp_path / "home"
        self.config_path = tmp_path / "zvt_crypto.toml"
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("ZVT_CRYPTO_")}
        self.env["ZVT_CRYPTO_HOME"] = str(self.home)
        self.processes: list[subprocess.Popen[str]] = []
        self._store: Store | None = None

    def write(self, jobs_toml: str, extra: str = "") -> Path:
        self.config_path.write_text(self.sim.config_toml(("binance",)) + FAST_RETRIES + extra + "\n" + jobs_toml)
        return self.config_path

    @property
    def db_path(self) -> Path:
        return self.home / "zvt_crypto.db"

    def config(self) -> Config:
        return load_config(self.config_path, home=self.home, env={})

    @property
    def store(self) -> Store:
        """The daemon's store, opened from the test process (another process: SQLite locks work as usual)."""
        if self._store is None:
            self._store = Store(self.config())
        return self._store

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "zvt_crypto", "--config", str(self.config_path), *args],
                              capture_output=True, text=True, env=self.env, timeout=timeout)

    def invoke(self, *args: str) -> Any:
        """A read-only command in this process (click's runner): no interpreter start-up to wait for."""
        from click.testing import CliRunner

        from zvt_crypto.cli import cli

        return CliRunner().invoke(cli, ["--config", str(self.config_path), "--home", str(self.home), *args])

    def start(self) -> subprocess.Popen[str]:
        """``zvt-crypto schedule run`` in the background (its stderr in a file, read by :meth:`stderr`)."""
        path = self.home.parent / f"daemon{len(self.processes)}.err"
        with path.open("w") as log:  # the child keeps its own descriptor
            process = subprocess.Popen([sys.executable, "-m", "zvt_crypto", "schedule", "run", "--config",
                                        str(self.config_path)], stdout=subprocess.DEVNULL, stderr=log, text=True,
                                       env=self.env)
        process.stderr_path = str(path)  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    @staticmethod
    def stderr(process: subprocess.Popen[str]) -> str:
        return Path(process.stderr_path).read_text()  # type: ignore[attr-defined]

    def runs(self, job: str | None = None) -> list[dict[str, Any]]:
        table = JobRun.__table__
        query = select(table).order_by(table.c.started_timestamp)
        if job is not None:
            query = query.where(table.c.job == job)
        with self.store.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
        if self._store is not None:
            self._store.dispose()


@pytest.fixture
def daemon_env(sim: SimulatedExchange, tmp_path: Path) -> Iterator[DaemonEnv]:
    env = DaemonEnv(sim, tmp_path)
    yield env
    env.close()


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition",
             process: subprocess.Popen[str] | None = None) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds (or if ``process``
    exits meanwhile) with its stderr."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            pytest.fail(f"the daemon exited ({process.returncode}) while waiting for {what}:\n"
                        f"{DaemonEnv.stderr(process)[-3000:]}")
        if time.monotonic() > deadline:
            tail = DaemonEnv.stderr(process)[-3000:] if process is not None else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")
        time.sleep(0.1)
