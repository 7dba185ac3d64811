"""``zvt-crypto record`` end to end: a subprocess, a config file pointing ccxt at the simulated Binance, a store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zvt_crypto.sim import SimulatedExchange

BARS = ("record", "bars", "--exchange", "binance", "--level", "1h", "--start", "2024-01-07", "--quiet")


# The user's retry keys: the default number of retries (5) with millisecond back-off, so a venue that always
# fails is given up in a fraction of a second instead of ~16 s.
FAST_RETRIES = "\n[exchanges.binance]\nmax_retries = 5\nretry_initial_seconds = 0.01\nretry_max_seconds = 0.05\n"


@pytest.fixture
def cli(sim: SimulatedExchange, tmp_path: Path):
    config = tmp_path / "zvt_crypto.toml"
    config.write_text(sim.config_toml() + FAST_RETRIES)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ZVT_CRYPTO_")}
    environment["ZVT_CRYPTO_HOME"] = str(tmp_path / "home")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "zvt_crypto", "--config", str(config), *args],
                              capture_output=True, text=True, env=environment, timeout=120)

    return run


def test_record_bars_then_coverage(cli, sim: SimulatedExchange) -> None:
    result = cli(*BARS, "--symbol", "BTC/USDT")
    assert result.returncode == 0, result.stderr
    assert "Bar from binance: 1 symbol(s), 24 rows written (24 received)" in result.stdout
    assert "FAILED" not in result.stdout
    assert sim.count("/api/v3/klines") >= 1  # from the simulator, not the real venue
    report = json.loads(cli("coverage", "--exchange", "binance", "--level", "1h", "--format", "json").stdout)
    assert [(row["entity_id"], row["rows"], row["first"], row["last"], row["gaps"]) for row in report] == [
        ("pair_binance_BTC-USDT", 24, "2024-01-07T00:00:00Z", "2024-01-07T23:00:00Z", [])]


def test_unknown_symbol(cli) -> None:
    result = cli(*BARS, "--symbol", "BTC/USDX")
    assert result.returncode == 1
    assert "error: unknown symbol(s) on binance: BTC/USDX" in result.stderr
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
