"""``zvt-crypto record`` end to end: a config file pointing ccxt at the simulated Binance, a store; in this process
(click's runner), and through the real entry point in a subprocess for a first recording and for Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.clirun import Ran, run_cli, run_cli_process
from zvt_crypto.sim import SimulatedExchange

BARS = ("record", "bars", "--exchange", "binance", "--level", "1h", "--start", "2024-01-07", "--quiet")


# The user's retry keys: the default number of retries (5) with millisecond back-off, so a venue that always
# fails is given up in a fraction of a second instead of ~16 s.
FAST_RETRIES = "\n[exchanges.binance]\nmax_retries = 5\nretry_initial_seconds = 0.01\nretry_max_seconds = 0.05\n"


@pytest.fixture
def cli(sim: SimulatedExchange, tmp_path: Path) -> Callable[..., Ran | subprocess.CompletedProcess[str]]:
    """``zvt-crypto --config <the simulator's> *args``: in this process, or a subprocess when ``process``."""
    config = tmp_path / "zvt_crypto.toml"
    config.write_text(sim.config_toml() + FAST_RETRIES)

    def run(*args: str, process: bool = False, path: Path | None = None) -> Ran | subprocess.CompletedProcess[str]:
        """``path``: a directory put first on a child process's PYTHONPATH (where a test installs a plugin)."""
        if path is not None:
            pythonpath = os.pathsep.join(filter(None, [str(path), os.environ.get("PYTHONPATH")]))
            return run_cli_process("--config", str(config), *args, home=tmp_path / "home",
                                   env={"PYTHONPATH": pythonpath})
        return (run_cli_process if process else run_cli)("--config", str(config), *args, home=tmp_path / "home")

    return run


def test_record_bars_then_coverage(cli, sim: SimulatedExchange) -> None:
    result = cli(*BARS, "--symbol", "BTC/USDT", process=True)  # the record group through the real entry point
    assert result.returncode == 0, result.stderr
    assert "Bar from binance: 1 symbol(s), 24 rows written (24 received)" in result.stdout
    assert "FAILED" not in result.stdout
    assert sim.count("/api/v3/klines") >= 1  # from the simulator, not the real venue
    report = json.loads(cli("coverage", "--exchange", "binance", "--level", "1h", "--format", "json").stdout)
    assert [(row["entity_id"], row["rows"], row["first"], row["last"], row["gaps"]) for row in report] == [
        ("pair_binance_BTC-USDT", 24, "2024-01-07T00:00:00Z", "2024-01-07T23:00:00Z", [])]


PLUGIN = '''
from zvt_crypto.recorders.bars import BarsRecorder


class BinanceBars(BarsRecorder):
    provider = "testplugin"
    exchanges = ("binance",)

    async def record_symbol(self, context, symbol):
        result = await super().record_symbol(context, symbol)
        result.notes.append("recorded by the zvt_crypto_testplugin recorder")
        return result
'''


def install_plugin(site: Path) -> Path:
    """A distribution on disk as pip leaves it: a module and its dist-info naming it in the recorders group."""
    site.mkdir()
    (site / "zvt_crypto_testplugin.py").write_text(PLUGIN)
    info = site / "zvt_crypto_testplugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zvt-crypto-testplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[zvt_crypto.recorders]\nbinance = zvt_crypto_testplugin\n")
    return site


def test_a_plugin_recorder_for_the_venue_wins(cli, sim: SimulatedExchange, tmp_path: Path) -> None:
    """A recorder that names binance, installed by entry point, records binance instead of the built-in generic
    one; uninstalled, the built-in records again."""
    site = install_plugin(tmp_path / "site")
    result = cli(*BARS, "--symbol", "BTC/USDT", path=site)
    assert result.returncode == 0, result.stderr
    assert "Bar from binance: 1 symbol(s), 24 rows written (24 received)" in result.stdout
    assert "BTC/USDT: recorded by the zvt_crypto_testplugin recorder" in result.stdout
    assert sim.count("/api/v3/klines") >= 1

    result = cli(*BARS, "--symbol", "ETH/USDT")  # the plugin not on the path
    assert result.returncode == 0, result.stderr
    assert "Bar from binance: 1 symbol(s), 24 rows written (24 received)" in result.stdout
    assert "testplugin" not in result.stdout


def test_unknown_symbol(cli) -> None:
    result = cli(*BARS, "--symbol", "BTC/USDX")
    assert result.returncode == 1
    assert "error: unknown symbol(s) on binance: 'BTC/USDX'" in result.stderr
    assert "Traceback" not in result.stderr


def test_failing_venue_names_the_failed_symbol(cli, sim: SimulatedExchange) -> None:
    sim.inject("drop", "/api/v3/klines", count=None)  # every klines request loses its connection
    result = cli(*BARS, "--symbol", "BTC/USDT")  # retried (6 attempts, fast back-off: FAST_RETRIES), reported
    assert result.returncode == 1, result.stdout
    assert "Bar from binance: 1 symbol(s), 0 rows written" in result.stdout
    assert "5 retries" in result.stdout
    assert sim.count("/api/v3/klines") >= 6  # every attempt reached the venue
    failed = [line for line in result.stdout.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and failed[0].strip().startswith("BTC/USDT: FAILED — ")
    assert "ExchangeNotAvailable" in failed[0] or "NetworkError" in failed[0]


def test_markets_that_never_load_are_an_error_line(cli, sim: SimulatedExchange) -> None:
    sim.inject("junk", "/api/v3/exchangeInfo", count=None)  # a 200 HTML page, every time
    result = cli(*BARS, "--symbol", "BTC/USDT")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]  # after the warnings of the retries
    assert last.startswith("error: binance: could not load its markets (BadResponse: binance answered with a "
                           "non-JSON body"), result.stderr
    assert "gave up after 6 request(s)" in last and "check its status page" in last
    assert "Traceback" not in result.stderr
    assert sim.count("/api/v3/exchangeInfo") == 6  # each retry asked the venue again


@pytest.mark.slow  # a real process, pressed Ctrl-C after a 4 s window, then run again: ~10 s
def test_ctrl_c_says_what_is_stored_and_a_rerun_resumes(sim: SimulatedExchange, tmp_path: Path) -> None:
    config = tmp_path / "zvt_crypto.toml"
    config.write_text(sim.config_toml() + FAST_RETRIES)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ZVT_CRYPTO_")}
    environment["ZVT_CRYPTO_HOME"] = str(tmp_path / "home")
    database = tmp_path / "home" / "zvt_crypto.db"
    command = [sys.executable, "-m", "zvt_crypto", "--config", str(config), "record", "bars", "--exchange", "binance",
               "--symbol", "BTC/USDT", "--level", "1m", "--start", "2024-01-05", "--quiet"]
    expected = 3 * 1440  # 2024-01-05 00:00 up to the simulator's now, 2024-01-08 00:00: 5 pages of 1000

    def stored() -> int:
        if not database.exists():
            return 0
        with sqlite3.connect(database, timeout=30) as connection:
            try:
                return int(connection.execute("SELECT count(*) FROM bar WHERE level = '1m'").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):  # not migrated yet
                    return 0
                raise

    # a page every 2 s: the first batch is stored after ~3 pages, the run ends after 5: ~4 s to press Ctrl-C in,
    # wide enough for a loaded machine (with 1 s the run sometimes ended before the test saw a row)
    sim.inject("slow", "/api/v3/klines", delay=2.0, count=None)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    deadline = time.monotonic() + 60
    while stored() == 0 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before the test saw a stored row: nothing to interrupt"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    rows = stored()
    assert process.returncode == 130, (out, err)
    assert 0 < rows < expected
    assert f"BTC/USDT on binance: {rows} rows written by this run, {rows} stored, the last at" in out, out
    assert "error: interrupted" in err and "run the same command again to resume" in err, err
    assert "Traceback" not in err and "Aborted!" not in err, err

    sim.faults.clear()
    again = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"{expected - rows} rows written" in again.stdout, again.stdout  # only what was missing
    with sqlite3.connect(database) as connection:
        count, distinct = connection.execute(
            "SELECT count(*), count(DISTINCT timestamp) FROM bar WHERE level = '1m'").fetchone()
    assert count == distinct == expected  # no duplicate, no hole


def test_recheck_gaps_and_coverage_of_a_range(cli, sim: SimulatedExchange) -> None:
    sim.add_gap("2024-01-07T10:00:00Z", "2024-01-07T12:00:00Z", symbol="BTC/USDT")
    assert cli(*BARS, "--symbol", "BTC/USDT").returncode == 0
    report = json.loads(cli("coverage", "--exchange", "binance", "--level", "1h", "--format", "json").stdout)
    assert [(gap["start"], gap["known"]) for gap in report[0]["gaps"]] == [("2024-01-07T10:00:00Z", True)]
    sim.faults.clear()  # the venue now serves the outage's bars
    result = cli(*BARS[:-3], "--symbol", "BTC/USDT", "--recheck-gaps", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "gaps 1 found / 1 filled / 0 confirmed empty" in result.stdout
    ranged = json.loads(cli("coverage", "--exchange", "binance", "--level", "1h", "--start", "2024-01-06",
                            "--end", "2024-01-07T23:00:00Z", "--format", "json").stdout)
    assert [(row["rows"], row["expected"], row["missing"]) for row in ranged] == [(24, 48, 24)]
    assert [(gap["start"], gap["end"], gap["missing"], gap["known"]) for gap in ranged[0]["gaps"]] == [
        ("2024-01-06T00:00:00Z", "2024-01-06T23:00:00Z", 24, False)]  # never recorded: a hole of the range
    refused = cli("record", "funding", "--exchange", "binanceusdm", "--symbol", "BTC/USDT:USDT", "--recheck-gaps")
    assert refused.returncode == 2 and "No such option '--recheck-gaps'" in refused.stderr
