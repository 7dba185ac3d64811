"""``--days N`` beside every ``--start``: the same as ``--start Nd`` (one parser of times, contract/timeutil.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest

import zvt_crypto.contract.timeutil as timeutil
from tests.clirun import run_cli
from zvt_crypto.cli import cli
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import to_ms
from zvt_crypto.dataio.sample import sample_bars
from zvt_crypto.domain import Bar

NOW = to_ms("2024-01-11T00:30:00Z")


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Ten days of 1h BTC bars, and a clock stopped at 2024-01-11 00:30 UTC."""
    url = f"sqlite:///{tmp_path / 'zvt.db'}"
    store = Store(url)
    store.write(Bar, sample_bars("BTC/USDT", "2024-01-01", 240, "1h").assign(entity_id="pair_binance_BTC-USDT"),
                level="1h")
    store.dispose()
    monkeypatch.setattr(timeutil, "now_ms", lambda: NOW)
    return url


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_command_that_takes_start_takes_days() -> None:
    with_start = {path: command for path, command in _commands(cli)
                  if any("--start" in param.opts for param in command.params)}
    assert len(with_start) >= 14  # record ×8, export ×6, coverage, query, factor ×2, backtest, optimize, paper ×2
    lacking = [" ".join(path) for path, command in with_start.items()
               if not any("--days" in param.opts for param in command.params)]
    assert lacking == []


@pytest.mark.parametrize("args", [
    ["export", "bars", "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1h"],
])
def test_days_is_start_n_days_back(db: str, tmp_path: Path, args: list[str]) -> None:
    files = {}
    for name, flags in (("days", ["--days", "3"]), ("start", ["--start", "3d"]),
                        ("iso", ["--start", "2024-01-08T00:30:00Z"])):
        files[name] = tmp_path / f"{name}.csv"
        result = run_cli("--db-url", db, *args, *flags, "--out", str(files[name]))
        assert result.returncode == 0, result.stderr
    text = files["days"].read_text()
    assert text == files["start"].read_text() == files["iso"].read_text()
    lines = text.splitlines()
    assert lines[1].startswith("2024-01-08T01:00:00Z,") and len(lines) - 1 == 71  # 01:00 on the 8th … 23:00 on the 10th


def test_query_with_days(db: str) -> None:
    base = ["--db-url", db, "query", "Bar", "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1h",
            "--limit", "100"]
    days = run_cli(*base, "--days", "1", "--format", "csv")
    start = run_cli(*base, "--start", "1d", "--format", "csv")
    assert days.returncode == 0, days.stderr
    assert days.stdout == start.stdout
    rows = days.stdout.splitlines()[1:]
    assert len(rows) == 23 and rows[0].startswith("pair_binance_BTC-USDT,2024-01-10 01:00:00+00:00,")


def test_days_and_start_together_or_not_positive_are_refused(db: str, tmp_path: Path) -> None:
    both = run_cli("--db-url", db, "export", "bars", "--exchange", "binance", "--symbol", "BTC/USDT", "--level",
                   "1h", "--days", "3", "--start", "2024-01-01", "--out", str(tmp_path / "x.csv"))
    assert both.returncode == 1
    assert both.stderr == "error: --days 3 and --start 2024-01-01 both say where to start; pass one of them\n"
    assert not (tmp_path / "x.csv").exists()
    backtest = run_cli("--db-url", db, "backtest", "--strategy", "sma_cross", "--exchange", "binance", "--symbol",
                       "BTC/USDT", "--level", "1h", "--start", "2024-01-01", "--days", "3")  # --days of data_options
    assert backtest.returncode == 1
    assert backtest.stderr == "error: --days 3 and --start 2024-01-01 both say where to start; pass one of them\n"
    zero = run_cli("--db-url", db, "query", "Bar", "--days", "0")
    assert zero.returncode == 2 and "Invalid value for '--days'" in zero.stderr
