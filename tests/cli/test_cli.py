"""The zvt-crypto command line, end to end on a real SQLite store: in this process through click's runner, and
through the real entry point in a subprocess for ``--version`` and ``demo``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.clirun import Ran, run_cli, run_cli_process
from zvt_crypto import __version__
from zvt_crypto.contract.migrate import head_revision


def run(home: Path, *args: str, env: dict[str, str] | None = None, check: bool = True,
        process: bool = False) -> Ran | subprocess.CompletedProcess[str]:
    """``zvt-crypto *args`` with ``home`` as the data home: in this process, or a subprocess when ``process``."""
    result = (run_cli_process if process else run_cli)(*args, home=home, env=env)
    if check:
        assert result.returncode == 0, f"{args}: {result.stderr}"
    return result


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("demo_home")
    result = run(home, "demo", process=True)  # the demo through the real entry point
    out = result.stdout
    # 3 pairs x 7 days of 1m bars from the simulated Binance, less its 17-minute ETH outage
    assert "Bar from binance: 3 symbol(s), 30223 rows written (30223 received)" in out
    assert "gaps 1 found / 0 filled / 1 confirmed empty" in out
    assert "retries" in out and "FAILED" not in out
    assert "pairs listed on binance as of 2023-11-01: BTC/USDT, ETH/USDT, LUNA/USDT\n" in out  # SOL lists in Dec
    assert "pairs listed on binance as of 2024-01-08: BTC/USDT, ETH/USDT, SOL/USDT\n" in out  # LUNA delisted
    return home


def test_version() -> None:
    result = subprocess.run([sys.executable, "-m", "zvt_crypto", "--version"], capture_output=True, text=True)
    assert result.stdout.strip() == f"zvt-crypto, version {__version__}"


@pytest.mark.slow  # the demo twice
def test_demo_is_idempotent(demo_home: Path) -> None:
    again = run(demo_home, "demo").stdout
    assert "markets from binance: 1 symbol(s), 0 rows written" in again
    assert "Bar from binance: 3 symbol(s), 0 rows written (30223 received)" in again
    assert "built 1h bars from complete 1m intervals: 503 bars, 0 new or changed" in again


@pytest.mark.slow  # on the demo's data
def test_coverage_json_reports_the_outage(demo_home: Path) -> None:
    report = json.loads(run(demo_home, "coverage", "--exchange", "binance", "--level", "1m", "--format", "json").stdout)
    by_entity = {row["entity_id"]: row for row in report}
    assert set(by_entity) == {"pair_binance_BTC-USDT", "pair_binance_ETH-USDT", "pair_binance_SOL-USDT"}
    eth = by_entity["pair_binance_ETH-USDT"]
    assert eth["missing"] == 17
    assert eth["gaps"] == [{"start": "2024-01-03T12:00:00Z", "end": "2024-01-03T12:16:00Z", "missing": 17,
                            "known": True, "reason": "binance returned no bars for this range"}]
    assert by_entity["pair_binance_SOL-USDT"]["first"] == "2024-01-01T00:00:00Z"
    csv_text = run(demo_home, "coverage", "--symbol", "BTC/USDT", "--exchange", "binance", "--format", "csv").stdout
    assert csv_text.splitlines()[0].startswith("entity_id,level,first,last,rows")
    assert len(csv_text.splitlines()) == 1 + 4  # BTC at 1m, 1h, 4h, 1d


@pytest.mark.slow  # on the demo's data
def test_query_formats(demo_home: Path) -> None:
    out = run(demo_home, "query", "Bar", "--exchange", "binance", "--symbol", "ETH/USDT", "--level", "4h",
              "--start", "2024-01-03T04:00", "--end", "2024-01-03T20:00", "--format", "json").stdout
    rows = json.loads(out)
    # the 12:00 bar is left out: the outage makes that 4h interval incomplete
    assert [row["timestamp"][11:16] for row in rows] == ["04:00", "08:00", "16:00", "20:00"]
    table = run(demo_home, "query", "crypto_pair", "--exchange", "binance", "--columns", "symbol,list_timestamp").stdout
    assert "SOL/USDT" in table and "2023-12-04" in table  # listing time from the first bar


@pytest.mark.slow  # on the demo's data
def test_query_newest_first_and_the_tail(demo_home: Path) -> None:
    args = ("query", "Bar", "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1m", "--format", "json")
    every = [row["timestamp"] for row in json.loads(run(demo_home, *args, "--limit", "0").stdout)]
    newest = [row["timestamp"] for row in json.loads(run(demo_home, *args, "--order", "desc", "--limit", "3").stdout)]
    tail = [row["timestamp"] for row in json.loads(run(demo_home, *args, "--tail", "3").stdout)]
    assert every == sorted(every) and len(every) > 3
    assert newest == every[:-4:-1]  # the last three, newest first
    assert tail == every[-3:]       # the last three, oldest first


@pytest.mark.slow  # on the demo's data
def test_export_then_import_round_trip(demo_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "eth_1h.csv"
    result = run(demo_home, "export", "bars", "--exchange", "binance", "--symbol", "ETH/USDT", "--level", "1h",
                 "--out", str(out))
    assert result.stdout.strip() == f"wrote 167 bars to {out}"
    exported = pd.read_csv(out)
    assert list(exported.columns[:6]) == ["timestamp", "open", "high", "low", "close", "volume"]
    assert exported["timestamp"].iloc[0] == "2024-01-01T00:00:00Z"

    other = tmp_path / "other_home"
    imported = run(other, "import", str(out), "--exchange", "binance", "--symbol", "ETH/USDT", "--level", "1h").stdout
    assert "imported 167 1h bars" in imported and "167 new, 0 stored bar(s) changed, 0 already stored" in imported
    again = run(other, "import", str(out), "--exchange", "binance", "--symbol", "ETH/USDT", "--level", "1h").stdout
    assert "0 new, 0 stored bar(s) changed, 167 already stored" in again
    round_trip = tmp_path / "round_trip.parquet"
    run(other, "export", "bars", "--exchange", "binance", "--symbol", "ETH/USDT", "--level", "1h",
        "--out", str(round_trip))
    back = pd.read_parquet(round_trip)
    pd.testing.assert_series_equal(back["close"], exported["close"], check_names=False)


def test_info_hides_secrets(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[exchanges.binance.ccxt]\ntimeout = 5000\nsecret = "file-secret-value"\n')
    result = run(tmp_path / "home", "--config", str(config), "info",
                 env={"ZVT_CRYPTO_BINANCE_API_KEY": "env-key-value"})
    details = json.loads(result.stdout)
    assert details["exchanges"]["binance"] == {"timeout": 5000, "secret": "***", "apiKey": "***"}
    assert "file-secret-value" not in result.stdout + result.stderr
    assert "env-key-value" not in result.stdout + result.stderr
    assert details["schema_revision"] == head_revision()
    assert details["rows"]["Bar"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("query", "Bar", "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1M"), "unknown level '1M'"),
        (("query", "Bar", "--level", "1h", "--start", "2024-02-01", "--end", "2024-01-01"), "is after end"),
        (("query", "Candles"), "unknown schema 'Candles'"),
        (("export", "bars", "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1h", "--out", "x.csv"),
         "no 1h bars found"),
        (("coverage", "--symbol", "BTC/USDT"), "symbols need an exchange"),
    ],
)
def test_errors_are_clear_and_fail(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run(tmp_path, *args, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_config_and_bad_files(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[store\nurl = 1\n")
    result = run(tmp_path, "--config", str(config), "info", check=False)
    assert result.returncode == 1 and str(config) in result.stderr and "not valid TOML" in result.stderr

    garbage = tmp_path / "garbage.csv"
    garbage.write_text("this,is\nnot,bars\n")
    result = run(tmp_path, "import", str(garbage), "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1m",
                 check=False)
    assert result.returncode == 1 and "garbage.csv" in result.stderr
    assert json.loads(run(tmp_path, "info").stdout)["rows"]["Bar"] == 0
