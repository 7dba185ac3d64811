"""Stored runs (SQLite and PostgreSQL), re-runs that reproduce the fingerprint and metrics, the JSON and HTML outputs,
and the ``backtest`` / ``runs`` commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from zvt_crypto.cli import cli
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import BacktestRun, Bar
from zvt_crypto.trader import load_market_data, run_backtest
from zvt_crypto.trader.metrics import to_jsonable
from zvt_crypto.trader.storage import compare_runs, list_runs, load_run, rerun, save_run

BTC, ETH = "pair_binance_BTC-USDT", "pair_binance_ETH-USDT"


@pytest.fixture
def filled(bars: Callable[..., pd.DataFrame]) -> Callable[[Store], Store]:
    def fill(store: Store) -> Store:
        store.write(Bar, bars(BTC, n=300, seed=3))
        store.write(Bar, bars(ETH, n=300, seed=4))
        return store

    return fill


def test_a_stored_run_lists_loads_compares_and_reruns(store: Store, filled: Callable[[Store], Store]) -> None:
    filled(store)
    data = load_market_data(exchange="binance", symbols=["BTC/USDT", "ETH/USDT"], level="1h", store=store)
    result = run_backtest("sma_cross", data, params={"fast": 3, "slow": 10, "direction": "both"}, fee=0.001,
                          slippage=2.0)
    run_id = save_run(result, store)
    other = save_run(run_backtest("sma_cross", data, params={"fast": 5, "slow": 20}, fee=0.001), store)
    listed = list_runs(store)
    assert listed["run_id"].tolist()[:2] == [other, run_id] or set(listed["run_id"]) == {run_id, other}
    loaded = load_run(run_id, store)
    assert loaded.metrics == to_jsonable(result.metrics)
    assert loaded.fingerprint == result.fingerprint and loaded.version == result.version
    pd.testing.assert_series_equal(loaded.equity["equity"], result.equity["equity"], check_freq=False,
                                   check_index_type=False, check_names=False)
    assert loaded.trades["pnl"].tolist() == pytest.approx(result.trades["pnl"].tolist())
    assert len(loaded.open_trades) == len(result.open_trades)
    table = compare_runs([run_id, other], store)
    assert list(table.columns) == [run_id, other] and table.loc["params", other]["fast"] == 5
    again, same_data = rerun(run_id, store)
    assert same_data and to_jsonable(again.metrics) == loaded.metrics
    # the data changes: the fingerprint says so
    changed = Bar.query_data(entity_ids=[BTC], level="1h", store=store).reset_index()
    changed.loc[changed.index[-1], "volume"] += 1.0
    store.write(Bar, changed, level="1h")
    assert rerun(run_id, store)[1] is False
    with pytest.raises(InvalidInputError, match="no backtest run 'nope'; the latest are"):
        load_run("nope", store)


def test_market_data_is_the_runs_data_and_a_loaded_run_says_to_rerun(sqlite_store: Store,
                                                                      filled: Callable[[Store], Store]) -> None:
    filled(sqlite_store)
    data = load_market_data(exchange="binance", symbols=["BTC/USDT"], level="1h", store=sqlite_store)
    result = run_backtest("sma_cross", data, params={"fast": 3, "slow": 10}, fee=0.001)
    assert result.market_data is data
    run_id = save_run(result, sqlite_store)
    loaded = load_run(run_id, sqlite_store)
    with pytest.raises(InvalidInputError, match=rf"holds no market data: re-run it \(zvt-crypto runs rerun {run_id}\)"):
        _ = loaded.market_data


def test_json_and_html_outputs(sqlite_store: Store, filled: Callable[[Store], Store], tmp_path: Path) -> None:
    filled(sqlite_store)
    data = load_market_data(exchange="binance", symbols=["BTC/USDT"], level="1h", store=sqlite_store)
    result = run_backtest("sma_cross", data, params={"fast": 3, "slow": 10}, fee=0.001)
    document = json.loads(result.to_json(tmp_path / "run.json"))
    assert {"total_return", "final_equity", "n_trades", "max_drawdown", "sharpe"} <= set(document["metrics"])
    assert document["metrics"]["n_trades"] == len(result.trades) > 0
    trade = document["trades"][0]
    assert {"entry_time", "exit_time", "side", "size", "entry_price", "exit_price", "pnl", "fees"} <= set(trade)
    assert trade["entry_time"].endswith("Z") and trade["side"] == "long"
    assert document["equity"][0] == {"timestamp": "2024-01-01T00:00:00Z", "equity": 10_000.0}
    assert len(document["equity"]) == 300
    assert document["data_fingerprint"] == data.fingerprint
    page = result.report(tmp_path / "run.html").read_text()
    assert "plotly" in page.lower() and "Drawdown" in page and len(page) > 1_000_000  # plotly.js embedded


def test_backtest_command(sqlite_store: Store, filled: Callable[[Store], Store], tmp_path: Path) -> None:
    filled(sqlite_store)
    runner = CliRunner()
    base = ["--db-url", str(sqlite_store.url)]
    out, report = tmp_path / "out.json", tmp_path / "report.html"
    outcome = runner.invoke(cli, [*base, "backtest", "--strategy", "sma_cross", "--exchange", "binance",
                                  "--symbol", "BTC/USDT", "--level", "1h", "--start", "2024-01-02",
                                  "--param", "fast=3", "--param", "slow=12", "--fee", "0.001", "--slippage", "1",
                                  "--out", str(out), "--report", str(report)])
    assert outcome.exit_code == 0, outcome.output
    assert "sharpe" in outcome.output and "stored (zvt-crypto runs show" in outcome.output
    document = json.loads(out.read_text())
    assert document["params"]["fast"] == 3 and document["start"] == "2024-01-02T00:00:00Z"
    assert document["settings"]["slippage"] == {"model": "FixedBps", "bps": 1.0}
    assert report.exists()
    run_id = document["run_id"]
    assert BacktestRun.query_data(index=None, store=sqlite_store)["run_id"].tolist() == [run_id]

    outcome = runner.invoke(cli, [*base, "runs", "list"])
    assert outcome.exit_code == 0 and run_id in outcome.output
    outcome = runner.invoke(cli, [*base, "runs", "show", run_id, "--trades"])
    assert outcome.exit_code == 0 and "data_fingerprint" in outcome.output and "exit_reason" in outcome.output
    second = runner.invoke(cli, [*base, "backtest", "--strategy", "rsi_reversion", "--exchange", "binance",
                                 "--symbol", "BTC/USDT", "--level", "1h", "--engine", "vectorised"])
    assert second.exit_code == 0, second.output
    other = BacktestRun.query_data(index=None, store=sqlite_store, order="-created_timestamp")["run_id"].tolist()
    outcome = runner.invoke(cli, [*base, "runs", "compare", *other])
    assert outcome.exit_code == 0 and "sharpe" in outcome.output
    outcome = runner.invoke(cli, [*base, "runs", "rerun", run_id])
    assert outcome.exit_code == 0 and "unchanged" in outcome.output and "identical" in outcome.output


def test_backtest_engine_auto_runs_the_vectorised_path_with_the_event_engines_trades(
        sqlite_store: Store, filled: Callable[[Store], Store], tmp_path: Path) -> None:
    filled(sqlite_store)
    base = ["--db-url", str(sqlite_store.url), "backtest", "--strategy", "sma_cross", "--exchange", "binance",
            "--level", "1h", "--param", "fast=3", "--param", "slow=12", "--fee", "0.001", "--slippage", "2",
            "--no-store"]
    documents = {}
    for engine in ("auto", "event"):
        out = tmp_path / f"{engine}.json"
        outcome = CliRunner().invoke(cli, [*base, "--symbol", "BTC/USDT", "--engine", engine, "--out", str(out)])
        assert outcome.exit_code == 0, outcome.output
        documents[engine] = json.loads(out.read_text())
    auto, event = documents["auto"], documents["event"]
    assert (auto["engine"], event["engine"]) == ("vectorised", "event")
    assert len(auto["trades"]) > 5 and auto["trades"] == event["trades"]
    assert auto["open_trades"] == event["open_trades"] and auto["equity"] == event["equity"]
    # --out run.parquet: the equity curve, the rest of the JSON in its metadata
    out = tmp_path / "run.parquet"
    outcome = CliRunner().invoke(cli, [*base, "--symbol", "BTC/USDT", "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output
    table = pq.read_table(out)
    assert table.column("equity").to_pylist() == [point["equity"] for point in auto["equity"]]
    assert json.loads(table.schema.metadata[b"zvt_crypto"])["trades"] == auto["trades"]
    # two symbols: the vectorised path cannot run it, auto falls back to the event engine
    out = tmp_path / "two.json"
    outcome = CliRunner().invoke(cli, [*base, "--symbol", "BTC/USDT", "--symbol", "ETH/USDT", "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(out.read_text())["engine"] == "event"


@pytest.mark.parametrize(("args", "message"), [
    (["--strategy", "nope"], "unknown strategy 'nope'; known: bbands_breakout"),
    (["--strategy", "sma_cross", "--param", "fast=abc"], "parameter fast='abc' must be int"),
    (["--strategy", "sma_cross", "--param", "speed=3"], "has no parameter(s) speed"),
    (["--strategy", "sma_cross", "--param", "fast"], "bad parameter 'fast': write it as name=value"),
    (["--strategy", "sma_cross", "--start", "2030-01-01"], "no 1h bars of BTC/USDT on binance between 2030"),
    (["--strategy", "sma_cross", "--level", "2h"], "unknown level '2h'"),
    ([], "name a strategy"),
])
def test_bad_input_is_a_clear_error(sqlite_store: Store, filled: Callable[[Store], Store], args: list[str],
                                    message: str) -> None:
    filled(sqlite_store)
    defaults = ["--exchange", "binance", "--symbol", "BTC/USDT"]
    if "--level" not in args:
        defaults += ["--level", "1h"]
    outcome = CliRunner().invoke(cli, ["--db-url", str(sqlite_store.url), "backtest", *args, *defaults])
    assert outcome.exit_code == 1, outcome.output
    assert message in outcome.output


def test_backtest_and_optimize_state_their_annualisation(sqlite_store: Store, filled: Callable[[Store], Store],
                                                           tmp_path: Path) -> None:
    filled(sqlite_store)
    runner = CliRunner()
    base = ["--db-url", str(sqlite_store.url)]
    common = ["--strategy", "sma_cross", "--exchange", "binance", "--symbol", "BTC/USDT", "--level", "1h",
              "--fee", "0.001"]
    inferred, given = tmp_path / "inferred.json", tmp_path / "given.json"
    outcome = runner.invoke(cli, [*base, "backtest", *common, "--out", str(inferred)])
    assert outcome.exit_code == 0, outcome.output
    assert "365-day year" in outcome.output
    outcome = runner.invoke(cli, [*base, "backtest", *common, "--periods-per-year", "2000", "--out", str(given)])
    assert outcome.exit_code == 0, outcome.output
    first, second = json.loads(inferred.read_text()), json.loads(given.read_text())
    assert first["metrics"]["periods_per_year"] == 8760 and second["metrics"]["periods_per_year"] == 2000
    assert second["metrics"]["annualisation"] == "given" and second["settings"]["periods_per_year"] == 2000
    assert second["metrics"]["sharpe"] == pytest.approx(first["metrics"]["sharpe"] * (2000 / 8760) ** 0.5)
    shown = runner.invoke(cli, [*base, "runs", "show", second["run_id"]])
    assert shown.exit_code == 0 and "annualisation: given" in shown.output
    rerun_outcome = runner.invoke(cli, [*base, "runs", "rerun", second["run_id"]])
    assert rerun_outcome.exit_code == 0 and "identical" in rerun_outcome.output, rerun_outcome.output
    swept = runner.invoke(cli, [*base, "optimize", *common, "--grid", "fast=3,5", "--param", "slow=12", "--jobs",
                                "1", "--periods-per-year", "2000"])
    assert swept.exit_code == 0, swept.output
    assert "annualised with 2,000 bars a year (given)" in swept.output


def test_backtest_states_the_fee_it_charged_and_refuses_an_unknown_one(
        sqlite_store: Store, filled: Callable[[Store], Store], bars: Callable[..., pd.DataFrame],
        tmp_path: Path) -> None:
    filled(sqlite_store)  # bars without markets, as imported: no fee data stored
    runner = CliRunner()
    base = ["--db-url", str(sqlite_store.url)]
    out = tmp_path / "run.json"
    common = ["--strategy", "sma_cross", "--level", "1h", "--param", "fast=3", "--param", "slow=12"]
    outcome = runner.invoke(cli, [*base, "backtest", *common, "--exchange", "binance", "--symbol", "BTC/USDT",
                                  "--symbol", "ETH/USDT", "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output
    assert "fees: taker 0.1 %, maker 0.1 % (ccxt binance default) on BTC/USDT, ETH/USDT" in outcome.output
    document = json.loads(out.read_text())
    assert document["settings"]["fees"]["ETH/USDT"] == {"maker": 0.001, "taker": 0.001,
                                                        "source": "ccxt binance default"}
    assert document["metrics"]["fees_paid"] > 0
    stored = BacktestRun.query_data(index=None, store=sqlite_store)
    assert stored["settings"].iloc[0]["fees"] == document["settings"]["fees"]
    shown = runner.invoke(cli, [*base, "runs", "show", document["run_id"]])
    assert shown.exit_code == 0
    assert "fees: taker 0.1 %, maker 0.1 % (ccxt binance default) on BTC/USDT, ETH/USDT" in shown.output

    sqlite_store.write(Bar, bars(entity_id("somevenue", "GOOG/USD"), n=300, seed=5))
    unknown = [*base, "backtest", *common, "--exchange", "somevenue", "--symbol", "GOOG/USD"]
    outcome = runner.invoke(cli, unknown)
    assert outcome.exit_code == 1
    assert outcome.output.startswith("error: no fee known for GOOG/USD on somevenue") and "--fee" in outcome.output
    assert len(BacktestRun.query_data(index=None, store=sqlite_store)) == 1  # nothing stored
    outcome = runner.invoke(cli, [*unknown, "--fee", "0.0005"])
    assert outcome.exit_code == 0, outcome.output
    assert "fees: taker 0.05 %, maker 0.05 % (--fee) on GOOG/USD" in outcome.output
