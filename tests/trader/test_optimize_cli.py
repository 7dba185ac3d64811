"""``zvt-crypto optimize`` end to end on a store filled from a real file (backtesting.py's hourly EURUSD)."""

from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from zvt_crypto.cli import cli
from zvt_crypto.contract.store import Store
from zvt_crypto.dataio.importers import import_bars
from zvt_crypto.domain import BacktestRun
from zvt_crypto.trader import load_market_data, optimize

MARKET = ["--exchange", "oanda", "--symbol", "EUR/USD", "--level", "1h"]


@pytest.fixture
def eurusd(sqlite_store: Store) -> Store:
    spec = importlib.util.find_spec("backtesting")
    if spec is None or spec.origin is None:
        pytest.skip("the backtesting package is not installed")
    import_bars(sqlite_store, Path(spec.origin).parent / "test" / "EURUSD.csv", exchange="oanda", symbol="EUR/USD",
                level="1h")
    return sqlite_store


def invoke(store: Store, *args: str) -> object:
    return CliRunner().invoke(cli, ["--db-url", str(store.url), "optimize", *args])


def test_grid_search_prints_the_table_and_overfitting_and_writes_json(eurusd: Store, tmp_path: Path) -> None:
    out = tmp_path / "sweep.json"
    outcome = invoke(eurusd, "--strategy", "sma_cross", *MARKET, "--start", "2017-06-01", "--grid", "fast=5,10,20",
                     "--grid", "slow=30:90:30", "--param", "direction=both", "--fee", "0.0001", "--jobs", "2",
                     "--top", "3", "--out", str(out), "--store-best")
    assert outcome.exit_code == 0, outcome.output
    text = outcome.output
    assert "sma_cross: grid search, 9 trials, top 3 by sharpe" in text
    assert "deflated Sharpe ratio: " in text and "best of 9 unskilled trials" in text
    assert "probability of backtest overfitting (CSCV, 16 blocks, 12870 combinations): " in text
    document = json.loads(out.read_text())
    assert document["n_trials"] == 9 and len(document["trials"]) == 9
    assert document["data"]["symbols"] == ["EUR/USD"] and document["data"]["start"] == "2017-06-01T00:00:00Z"
    assert document["settings"]["fee"] == 0.0001 and document["settings"]["engine"] == "event"
    assert set(document["overfitting"]) >= {"deflated_sharpe", "pbo", "expected_max_sharpe", "n_trials"}
    assert 0.0 <= document["overfitting"]["pbo"] <= 1.0 and document["overfitting"]["n_trials"] == 9
    # the same sweep through the library picks the same winner with the same metrics
    data = load_market_data(exchange="oanda", symbols=["EUR/USD"], level="1h", start="2017-06-01", store=eurusd)
    library = optimize("sma_cross", data, {"direction": ["both"], "fast": [5, 10, 20], "slow": [30, 60, 90]},
                       fee=0.0001, n_jobs=1)
    assert document["best"]["params"] == library.best_params
    assert document["best"]["metrics"]["sharpe"] == pytest.approx(library.best_value)
    assert document["overfitting"]["pbo"] == pytest.approx(library.overfitting.pbo.pbo)
    assert f"best: direction=both fast={library.best_params['fast']} slow={library.best_params['slow']}" in text
    sharpes = [trial["metrics"]["sharpe"] for trial in document["trials"]]
    assert sharpes == sorted(sharpes, reverse=True)
    # the best run was stored, with a note that optimisation chose it
    runs = BacktestRun.query_data(index=None, store=eurusd)
    assert len(runs) == 1 and runs["note"].iloc[0].startswith("chosen by optimisation: best of 9 trials by sharpe")
    assert runs["params"].iloc[0]["fast"] == library.best_params["fast"]


def test_random_walk_forward(eurusd: Store, tmp_path: Path) -> None:
    out = tmp_path / "wf.json"
    outcome = invoke(eurusd, "--strategy", "sma_cross", *MARKET, "--grid", "fast=3:12", "--grid", "slow=20:60",
                     "--method", "random", "--n-iter", "6", "--seed", "1", "--walk-forward", "--train", "60d",
                     "--test", "30d", "--jobs", "1", "--engine", "vectorised", "--fee", "0.0001", "--out", str(out))
    assert outcome.exit_code == 0, outcome.output
    text = outcome.output
    assert "walk-forward: " in text and "out-of-sample (stitched): sharpe" in text
    assert "walk-forward efficiency (OOS sharpe / mean IS sharpe" in text
    assert "deflated Sharpe ratio: " in text and "(stitched out-of-sample: per-bar Sharpe" in text
    document = json.loads(out.read_text())
    folds = document["folds"]
    assert document["windows"] == {"train": 1440, "test": 720, "step": 720, "warmup": 1440, "anchored": False}
    assert len(folds) == (5000 - 1440) // 720 == 4
    for earlier, later in itertools.pairwise(folds):
        assert earlier["test_end"] < later["test_start"]
    assert folds[-1]["test_end"] == "2018-02-07T15:00:00Z"
    for fold in folds:
        assert 3 <= fold["params"]["fast"] <= 12 and 20 <= fold["params"]["slow"] <= 60
        assert {"is_sharpe", "oos_sharpe", "oos_return", "oos_trades"} <= set(fold)
    assert document["full_sweep"]["n_trials"] == 6 and document["overfitting"]["n_trials"] == 6
    stamps = [point["timestamp"] for point in document["equity"]]
    assert document["equity"][0]["equity"] == 10_000.0 and len(stamps) == 4 * 720 + 1  # the windows meet
    assert stamps == sorted(set(stamps)) and stamps[-1] == folds[-1]["test_end"]


@pytest.mark.parametrize(("args", "message"), [
    (["--strategy", "nope", "--grid", "fast=3,5"], "unknown strategy 'nope'; known: bbands_breakout"),
    (["--strategy", "sma_cross", "--grid", "speed=3,5"], "'sma_cross' has no parameter(s) speed; its parameters:"),
    (["--strategy", "sma_cross", "--grid", "fast"], "bad grid 'fast': write name=v1,v2,v3"),
    (["--strategy", "sma_cross", "--grid", "fast=9:3"], "bad grid fast=9:3: the range is empty (low > high)"),
    (["--strategy", "sma_cross", "--grid", "fast=a,b"], "parameter fast='a' must be int"),
    (["--strategy", "sma_cross"], "give at least one --grid NAME=SPEC"),
    (["--strategy", "sma_cross", "--grid", "fast=50,60"], "no parameter set left to try"),
    (["--strategy", "sma_cross", "--grid", "fast=3,5", "--metric", "speed"], "unknown metric 'speed'"),
    (["--strategy", "sma_cross", "--grid", "fast=3,5", "--walk-forward", "--train", "400d", "--test", "30d"],
     "the windows do not fit the data: train 9600 + test 720 = 10320 bars, the data has 5000 (1h bars "
     "2017-04-19T09:00:00Z … 2018-02-07T15:00:00Z; asked train='400d', test='30d')"),
    (["--strategy", "sma_cross", "--grid", "fast=3,5", "--walk-forward", "--train", "60d"],
     "--walk-forward needs --train and --test"),
    (["--strategy", "sma_cross", "--grid", "fast=3,5", "--train", "60d"], "need --walk-forward"),
    (["--strategy", "sma_cross", "--grid", "fast=3,5", "--param", "fast=4"], "fast given both as --param and --grid"),
    (["--strategy", "sma_cross", "--grid", "fast=3,5", "--start", "2030-01-01"], "no 1h bars of EUR/USD on oanda"),
])
def test_bad_input_is_a_clear_error(eurusd: Store, args: list[str], message: str) -> None:
    outcome = invoke(eurusd, *args, *MARKET, "--jobs", "1", "--fee", "0.0001")
    assert outcome.exit_code == 1, outcome.output
    assert message in outcome.output


@pytest.mark.parametrize("walk", [[], ["--walk-forward", "--train", "60d", "--test", "30d"]])
def test_a_market_without_a_known_fee_is_refused(eurusd: Store, walk: list[str]) -> None:
    """Imported EUR/USD on oanda: no fee stored, and ccxt has no oanda fee table — no sweep at zero fees."""
    outcome = invoke(eurusd, "--strategy", "sma_cross", *MARKET, "--grid", "fast=3,5", *walk, "--jobs", "1")
    assert outcome.exit_code == 1
    assert outcome.output.startswith("error: no fee known for EUR/USD on oanda") and "--fee" in outcome.output
    outcome = invoke(eurusd, "--strategy", "sma_cross", *MARKET, "--grid", "fast=3,5", *walk, "--jobs", "1",
                     "--fee", "0.0002")
    assert outcome.exit_code == 0, outcome.output
    assert "fees: taker 0.02 %, maker 0.02 % (--fee) on EUR/USD" in outcome.output
