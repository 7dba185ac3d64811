"""Every failure of the CLI is one ``error: …`` line with the next step (exit 1), never a traceback unless
``--debug``; user input in messages is escaped and bounded; only the default store is created unasked."""

from __future__ import annotations

import gzip
import socket
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from zvt_crypto.cli import cli
from zvt_crypto.recorders.base import run_coroutine
from zvt_crypto.sim import SimulatedExchange

FAST = "\n[exchanges.binance]\nmax_retries = 1\nretry_initial_seconds = 0.01\nretry_max_seconds = 0.05\n"
SPOT = 'options = { fetchCurrencies = false, fetchMargins = false, fetchMarkets = { types = ["spot"] } }\n'
BARS = ("record", "bars", "--exchange", "binance", "--level", "1h", "--start", "2024-01-07", "--quiet")


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def assert_error_line(result: Result, *phrases: str, status: int = 1) -> str:
    """One ``error:`` line holding ``phrases``, exit ``status``, no traceback; returns the line."""
    assert result.exit_code == status, result.output
    assert "Traceback" not in result.output and "Aborted!" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    for phrase in phrases:
        assert phrase in errors[0], errors[0]
    return errors[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def venue_config(tmp_path: Path, public_url: str, extra: str = "") -> Path:
    path = tmp_path / "venue.toml"
    path.write_text(f"{FAST}\n[exchanges.binance.ccxt]\n{SPOT}{extra}\n[exchanges.binance.ccxt.urls.api]\n"
                    f'public = "{public_url}"\n')
    return path


# -- the venue --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "phrase"), [
    # the port is taken when the test runs: one taken at collection names the test differently in each xdist worker
    ("http://127.0.0.1:{closed_port}/api/v3", "the venue did not answer"),
    ("http://no-such-host.invalid/api/v3", "host name does not resolve"),
])
def test_unreachable_venue(tmp_path: Path, url: str, phrase: str) -> None:
    config = venue_config(tmp_path, url.format(closed_port=closed_port()))
    line = assert_error_line(invoke("--config", str(config), *BARS, "--symbol", "BTC/USDT"), phrase, "run again")
    assert "no running event loop" not in line


def test_debug_shows_the_traceback_without_the_event_loop_noise(tmp_path: Path) -> None:
    config = venue_config(tmp_path, f"http://127.0.0.1:{closed_port()}/api/v3")
    result = invoke("--debug", "--config", str(config), *BARS, "--symbol", "BTC/USDT")
    assert result.exit_code == 1
    assert "Traceback" in result.output and "error: " in result.output
    assert "no running event loop" not in result.output


def test_run_coroutine_leaves_no_misleading_context() -> None:
    async def fails() -> None:
        raise ValueError("the real failure")

    with pytest.raises(ValueError, match="the real failure") as caught:
        run_coroutine(fails())
    assert caught.value.__context__ is None  # was "RuntimeError: no running event loop" on every traceback


def test_mistyped_ccxt_key_is_warned_about(tmp_path: Path, sim: SimulatedExchange) -> None:
    config = venue_config(tmp_path, f"{sim.url}/api/v3", extra=f'url = {{ api = {{ public = "{sim.url}" }} }}\n')
    result = invoke("--config", str(config), *BARS, "--symbol", "BTC/USDT")
    assert result.exit_code == 0, result.output
    assert "warning: [exchanges.binance.ccxt] url is not a ccxt option" in result.output
    assert "did you mean urls?" in result.output


def test_symbol_with_a_newline_cannot_forge_a_line(tmp_path: Path, sim: SimulatedExchange) -> None:
    config = venue_config(tmp_path, f"{sim.url}/api/v3")
    result = invoke("--config", str(config), *BARS, "--symbol", "BTC/USDX\nerror: forged")
    line = assert_error_line(result, "unknown symbol", r"'BTC/USDX\nerror: forged'")
    assert "forged" not in result.output.replace(line, "")


# -- the store --------------------------------------------------------------------------------------------------
def test_postgresql_refused() -> None:
    url = f"postgresql+psycopg://quant@127.0.0.1:{closed_port()}/zvt"
    assert_error_line(invoke("--db-url", url, "info"), "cannot open the database", "check that the server runs")


def test_postgresql_driver_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg → ImportError, as when not installed
    result = invoke("--db-url", "postgresql+psycopg://quant@127.0.0.1:1/zvt", "info")
    assert_error_line(result, 'pip install "zvt-crypto[postgres]"')


def test_file_that_is_not_a_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("just some notes\n" * 100)
    assert_error_line(invoke("--db-url", f"sqlite:///{path}", "info"), str(path), "not a zvt_crypto store")
    assert path.read_text() == "just some notes\n" * 100


@pytest.mark.parametrize("schema", ["JobRun", "SchedulerJob"])
def test_query_tables_without_entities(schema: str) -> None:
    result = invoke("query", schema)
    assert result.exit_code == 0, result.output
    assert "no rows for this selection" in result.output
    assert_error_line(invoke("query", schema, "--exchange", "binance"), "not kept per market")


def test_mistyped_db_url_folder_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "zvt.db"
    assert_error_line(invoke("--db-url", f"sqlite:///{path}", "info"), "no store at", "named by --db-url",
                      "--create")
    assert not path.parent.exists()
    result = invoke("--db-url", f"sqlite:///{path}", "--create", "info")
    assert result.exit_code == 0, result.output
    assert path.is_file()
    assert invoke("--db-url", f"sqlite:///{path}", "info").exit_code == 0  # it exists now


def test_default_store_is_created_silently(tmp_path: Path) -> None:
    home = tmp_path / "fresh_home"
    result = invoke("--home", str(home), "info")
    assert result.exit_code == 0, result.output
    assert (home / "zvt_crypto.db").is_file()


def test_db_url_folder_problem_names_the_db_url(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    line = assert_error_line(invoke("--db-url", f"sqlite:///{blocker}/sub/zvt.db", "--create", "info"),
                             "named by --db-url")
    assert "ZVT_CRYPTO_HOME" not in line


# -- input files and config -------------------------------------------------------------------------------------
def test_truncated_csv_gz(tmp_path: Path) -> None:
    times = pd.date_range("2023-01-01", periods=50_000, freq="1min", tz="UTC")
    frame = pd.DataFrame({"timestamp": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "open": 1.0, "high": 2.0, "low": 0.5,
                          "close": 1.5, "volume": 10.0})
    data = gzip.compress(frame.to_csv(index=False).encode())
    path = tmp_path / "bars.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    result = invoke("import", str(path), "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1m")
    assert_error_line(result, str(path), "complete")


def test_a_huge_cell_is_shown_cut(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,"
                    + "x" * 100_000 + ",10\n")
    result = invoke("import", str(path), "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1m")
    line = assert_error_line(result, "non-numeric", "(100,000 characters)")
    assert len(line) < 400


def test_missing_config_file_hint_names_its_origin(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.toml")
    line = assert_error_line(invoke("--config", missing, "info"), "does not exist", "--config")
    assert "ZVT_CRYPTO_CONFIG" not in line
    assert_error_line(invoke("info", env={"ZVT_CRYPTO_CONFIG": missing}), "does not exist", "ZVT_CRYPTO_CONFIG")


def test_schedule_history_accepts_config_after_the_subcommand(tmp_path: Path) -> None:
    config = tmp_path / "jobs.toml"
    config.write_text('[[jobs]]\nname = "spot"\nexchange = "binance"\nsymbols = ["BTC/USDT"]\nlevels = ["1h"]\n'
                      'every = "1h"\n')
    for command in ("history", "status", "list"):
        result = invoke("schedule", command, "--config", str(config))
        assert result.exit_code == 0, (command, result.output)
