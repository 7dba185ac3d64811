"""``zvt-crypto paper``: create, step (in fresh processes, as bars arrive), status, trades, reset, delete — and
bad input that exits 1 with a one-line error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import make_bars
from tests.trader.test_paper import BTC_PERP, assert_same_as_backtest, goog_bars
from zvt_crypto.cli import cli
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar
from zvt_crypto.trader.paper import PaperTrader, account_trades

pytest.importorskip("backtesting")


def run(store: Store, *args: str, answer: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--db-url", str(store.url), "paper", *args], input=answer)


def test_the_paper_commands_on_growing_data(sqlite_store: Store) -> None:
    store = sqlite_store
    bars = goog_bars(slice(0, 200))
    store.write(Bar, bars.iloc[:120])
    created = run(store, "create", "goog", "--strategy", "sma_cross", "--exchange", "binance", "--symbol",
                  "GOOG/USD", "--level", "1d", "--param", "fast=5", "--param", "slow=15", "--fee", "0.001",
                  "--max-drawdown", "0.5", "--start", str(bars["timestamp"].iloc[60]), "--warmup", "40")
    assert created.exit_code == 0, created.output
    assert "paper account goog: sma_cross(direction='long', fraction=1.0, fast=5, slow=15)" in created.output
    assert run(store, "create", "goog", "--strategy", "sma_cross", "--exchange", "binance", "--symbol", "GOOG/USD",
               "--level", "1d", "--param", "fast=5", "--param", "slow=15", "--fee", "0.001", "--max-drawdown",
               "0.5").exit_code == 0  # the same definition again: nothing changes

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path.cwd()), os.environ.get("PYTHONPATH")]))}
    assert "goog: 60 new bars" in run(store, "step", "goog").output
    for end in (150, 200):  # then each step in a new process, after the recorder stored more bars
        store.write(Bar, bars.iloc[:end])
        done = subprocess.run([sys.executable, "-m", "zvt_crypto", "--db-url", str(store.url), "paper", "step",
                               "goog"], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("goog: ") and "new bars to" in done.stdout
    assert_same_as_backtest(PaperTrader.load("goog", store), store)
    again = run(store, "step", "--all")
    assert again.exit_code == 0 and "goog: no new bars (last bar " in again.output

    status = run(store, "status")
    assert status.exit_code == 0 and "goog" in status.output and "sma_cross" in status.output
    detail = run(store, "status", "goog")
    assert detail.exit_code == 0 and "last_bar:" in detail.output and "equity:" in detail.output
    trades = run(store, "trades", "goog")
    assert trades.exit_code == 0 and "exit_timestamp" in trades.output
    assert len(trades.output.splitlines()) == len(account_trades("goog", store)) + 1
    assert "filled_size" in run(store, "trades", "goog", "--orders").output

    changed = run(store, "create", "goog", "--strategy", "sma_cross", "--exchange", "binance", "--symbol",
                  "GOOG/USD", "--level", "1d", "--param", "fast=6", "--param", "slow=15")
    assert changed.exit_code == 1 and "exists with a different definition" in changed.output
    assert "--reset" in changed.output

    reset = run(store, "reset", "goog")
    assert reset.exit_code == 0 and account_trades("goog", store).empty
    assert "goog: 140 new bars" in run(store, "step", "goog").output
    for answer in ("n\n", "", None):  # declined, just Enter (the default is no), no answer at all (a script)
        kept = run(store, "delete", "goog", answer=answer)
        assert kept.exit_code == 1 and not account_trades("goog", store).empty, kept.output
    assert "pass --yes" in kept.output and "Traceback" not in kept.output
    assert run(store, "delete", "goog", answer="y\n").output.strip().endswith("paper account goog deleted")
    run(store, "create", "goog", "--strategy", "sma_cross", "--exchange", "binance", "--symbol", "GOOG/USD",
        "--level", "1d")
    assert run(store, "delete", "goog", "--yes").output.strip() == "paper account goog deleted"
    assert "no paper accounts yet" in run(store, "status").output


def test_a_perp_without_funding_says_what_to_record(sqlite_store: Store) -> None:
    store = sqlite_store
    bars = make_bars(BTC_PERP, n=30)
    store.write(Bar, bars)
    created = run(store, "create", "p", "--strategy", "sma_cross", "--exchange", "binanceusdm", "--symbol",
                  "BTC/USDT:USDT", "--level", "1h", "--param", "fast=3", "--param", "slow=8", "--start",
                  str(bars["timestamp"].iloc[10]), "--warmup", "10")
    assert created.exit_code == 0, created.output
    assert "fees: taker 0.05 %, maker 0.02 % (ccxt binanceusdm linear default) on BTC/USDT:USDT" in created.output
    command = "zvt-crypto record funding --exchange binanceusdm --symbol BTC/USDT:USDT"
    step = run(store, "step", "p")
    assert step.exit_code == 0 and "p: no new bars; waiting for funding rates of BTC/USDT:USDT" in step.output
    assert command in step.output
    detail = run(store, "status", "p")
    assert detail.exit_code == 0 and "waiting:" in detail.output and command in detail.output
    listing = run(store, "status")
    assert listing.exit_code == 0 and "\np: waiting for funding rates of BTC/USDT:USDT" in listing.output
    assert command in listing.output


def test_an_account_on_a_market_without_a_known_fee_is_refused(sqlite_store: Store) -> None:
    store = sqlite_store
    store.write(Bar, make_bars(entity_id("somevenue", "GOOG/USD"), n=30))
    create = ["create", "g", "--strategy", "sma_cross", "--exchange", "somevenue", "--symbol", "GOOG/USD",
              "--level", "1h"]
    refused = run(store, *create)
    assert refused.exit_code == 1
    assert refused.output.startswith("error: no fee known for GOOG/USD on somevenue") and "--fee" in refused.output
    assert "no paper account 'g'" in run(store, "status", "g").output  # nothing stored
    created = run(store, *create, "--fee", "0.001")
    assert created.exit_code == 0, created.output
    assert "fees: taker 0.1 %, maker 0.1 % (--fee) on GOOG/USD" in created.output


@pytest.mark.parametrize(("args", "message"), [
    (["step"], "name one account (zvt-crypto paper step NAME) or pass --all"),
    (["step", "ghost"], "no paper account 'ghost' (accounts: none yet)"),
    (["status", "ghost"], "no paper account 'ghost'"),
    (["trades", "bad name"], "paper account name must be"),
    (["delete", "ghost"], "no paper account 'ghost'"),
    (["create", "x", "--strategy", "nope", "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1h"],
     "nope"),
    (["create", "x", "--strategy", "sma_cross", "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1h",
      "--param", "fast"], "bad parameter 'fast'"),
    (["create", "x", "--strategy", "sma_cross", "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1h",
      "--max-drawdown", "1.5"], "max_drawdown is a fraction"),
])
def test_bad_input_exits_1_with_a_clear_error(sqlite_store: Store, args: list[str], message: str) -> None:
    result = run(sqlite_store, *args)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: ") and message in result.output
