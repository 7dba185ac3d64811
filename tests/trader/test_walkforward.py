"""Walk-forward analysis: fold windows, durations as bars, honest out-of-sample runs stitched into one curve."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.trader.test_optimize import BuyEveryBar, random_walk
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader import MarketData, optimize, walk_forward
from zvt_crypto.trader.metrics import compute_metrics
from zvt_crypto.trader.optimize import bar_returns
from zvt_crypto.trader.walkforward import fold_windows, window_bars


@pytest.fixture(scope="module")
def walk_data() -> MarketData:
    return random_walk(600, seed=11)


def test_fold_windows() -> None:
    assert [(w.train_start, w.train_stop, w.test_start, w.test_stop) for w in fold_windows(11, 4, 2)] == [
        (1, 5, 5, 7), (3, 7, 7, 9), (5, 9, 9, 11)]
    assert [w.train_start for w in fold_windows(11, 4, 2, anchored=True)] == [0, 0, 0]
    assert [(w.test_start, w.test_stop) for w in fold_windows(12, 4, 2, 3)] == [(4, 6), (7, 9), (10, 12)]
    with pytest.raises(InvalidInputError, match="test windows would overlap"):
        fold_windows(20, 4, 3, 2)
    with pytest.raises(InvalidInputError, match=r"train 8 \+ test 4 = 12 bars, the data has 10"):
        fold_windows(10, 8, 4)


def test_window_bars(walk_data: MarketData) -> None:
    assert window_bars("2d", walk_data) == 48 and window_bars("500", walk_data) == 500
    assert window_bars(pd.Timedelta(hours=5), walk_data) == 5 and window_bars(7, walk_data) == 7
    for bad in ("soon", "30m", 0):
        with pytest.raises(InvalidInputError):
            window_bars(bad, walk_data, "train")


def test_walk_forward_folds_are_honest_and_stitch(walk_data: MarketData) -> None:
    grid = {"fast": [3, 5], "slow": [10, 20]}
    wf = walk_forward("sma_cross", walk_data, grid, train="5d", test="2d", n_jobs=1, fee=0.001)
    n, train, test = walk_data.n_bars, 120, 48
    assert wf.spans == {"train": train, "test": test, "step": test, "warmup": train, "anchored": False}
    folds = wf.folds
    assert len(folds) == (n - train) // test == 10
    index = walk_data.index
    # test windows meet without overlap and end at the last bar; each train window is the bars just before
    starts = [index.get_loc(t) for t in folds["test_start"]]
    ends = [index.get_loc(t) for t in folds["test_end"]]
    assert ends[-1] == n - 1 and all(e - s + 1 == test for s, e in zip(starts, ends, strict=True))
    assert all(starts[k + 1] == ends[k] + 1 for k in range(len(starts) - 1))
    assert [index.get_loc(t) for t in folds["train_end"]] == [s - 1 for s in starts]
    # each fold's parameters are the winners of an optimisation on its train window alone
    for window, (_, row) in zip(wf.windows, folds.iterrows(), strict=True):
        alone = optimize("sma_cross", walk_data.window(window.train_start, window.train_stop), grid, n_jobs=1,
                         fee=0.001)
        assert row["params"] == alone.best_params and row["is_sharpe"] == alone.best_value
    # out-of-sample trades are inside their fold's test window
    trades = wf.trades
    assert len(trades) == folds["oos_trades"].sum() > 0
    for _, trade in trades.iterrows():
        fold = folds.iloc[int(trade["fold"])]
        assert fold["test_start"] <= trade["entry_time"] <= trade["exit_time"] <= fold["test_end"]
    # the stitched curve starts at the close before the first test bar and chains the folds' own returns
    equity = wf.equity["equity"]
    assert equity.index[0] == index[starts[0] - 1] and equity.index[-1] == index[-1]
    assert len(equity) == len(folds) * test + 1 and equity.iloc[0] == 10_000.0
    pieces = []
    for window, run in zip(wf.windows, wf.fold_results, strict=True):
        act = train - 1  # the test run reads the train window's bars first (warm-up), acts from its last close
        assert run.equity.index[0] == index[window.test_start - train] and len(run.equity) == train + test
        curve = run.equity["equity"].to_numpy()[act:]
        assert curve[0] == 10_000.0 and (run.trades["entry_bar"] > act).all()
        pieces.append(bar_returns(curve))
    np.testing.assert_allclose(bar_returns(equity.to_numpy()), np.concatenate(pieces), rtol=0, atol=1e-12)
    assert equity.iloc[-1] / 10_000.0 == pytest.approx(np.prod(1 + folds["oos_return"]))
    expected = compute_metrics(equity, trades, wf.equity["exposure"].to_numpy(), periods_per_year=8760)
    assert wf.metrics["sharpe"] == pytest.approx(expected["sharpe"])
    assert wf.oos_metric == wf.metrics["sharpe"]
    assert wf.is_mean == pytest.approx(folds["is_sharpe"].mean())
    expected_efficiency = wf.oos_metric / wf.is_mean if wf.is_mean > 0 else math.nan
    assert wf.efficiency == pytest.approx(expected_efficiency, nan_ok=True)
    # overfitting: DSR of the stitched out-of-sample returns against every trial; PBO of the full-data sweep
    assert wf.full.n_trials == 4 and wf.overfitting.n_trials == 4
    assert wf.overfitting.n_obs == len(equity) - 1
    assert wf.overfitting.pbo.pbo == wf.full.overfitting.pbo.pbo
    document = wf.to_dict()
    assert len(document["folds"]) == 10 and document["folds"][0]["test_start"].endswith("Z")
    assert document["overfitting"]["pbo"] == wf.overfitting.pbo.pbo


def test_walk_forward_out_of_sample_trades_start_in_the_test_window(walk_data: MarketData) -> None:
    wf = walk_forward(BuyEveryBar, walk_data, {"size": [0.01]}, train=200, test=100, n_jobs=1)
    assert len(wf.folds) == 4
    for window, run in zip(wf.windows, wf.fold_results, strict=True):
        fills = run.orders.dropna(subset=["fill_time"])
        assert fills["fill_time"].min() == walk_data.index[window.test_start]  # the first test bar's open
        assert fills["fill_time"].max() <= walk_data.index[window.test_stop - 1]


def test_walk_forward_anchored_steps_and_errors(walk_data: MarketData) -> None:
    grid = {"fast": [3], "slow": [10, 20]}
    anchored = walk_forward("sma_cross", walk_data, grid, train=200, test=100, anchored=True, n_jobs=1)
    assert (anchored.folds["train_start"] == walk_data.index[0]).all()
    gaps = walk_forward("sma_cross", walk_data, grid, train=200, test=100, step=150, warmup=30, n_jobs=1)
    assert len(gaps.folds) == 3 and gaps.spans["warmup"] == 30
    assert [w.test_start for w in gaps.windows] == [200, 350, 500]
    assert len(gaps.equity) == 3 * 101  # each fold's own first point: the windows do not meet
    with pytest.raises(InvalidInputError) as info:
        walk_forward("sma_cross", walk_data, grid, train="30d", test="7d", n_jobs=1)
    assert ("train 720 + test 168 = 888 bars, the data has 600 (1h bars 2024-01-01T00:00:00Z … "
            "2024-01-25T23:00:00Z; asked train='30d', test='7d')") in str(info.value)
    with pytest.raises(InvalidInputError, match="test windows would overlap"):
        walk_forward("sma_cross", walk_data, grid, train=200, test=100, step=50, n_jobs=1)
