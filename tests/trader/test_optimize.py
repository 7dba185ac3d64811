"""Optimisation (grid / random search) and running its trials, its overfitting statistics and the engine's ``start``
(indicator warm-up without trading). The search space: test_optimize_space.py; walk-forward: test_walkforward.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader import MarketData, SignalStrategy, Strategy, optimize, run_backtest
from zvt_crypto.trader.overfitting import (
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    sharpe_moments,
    sharpe_ratio,
)

SMA_GRID = {"fast": [3, 5, 8], "slow": [10, 20, 30]}


def frame_of(log_returns: np.ndarray, *, freq: str = "1h") -> pd.DataFrame:
    close = 100.0 * np.exp(np.cumsum(log_returns))
    open_ = np.r_[100.0, close[:-1]]  # no gaps: a position held through a bar earns exactly its return
    index = pd.date_range("2024-01-01", periods=len(close), freq=freq, tz="UTC")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.001,
                         "low": np.minimum(open_, close) * 0.999, "close": close, "volume": 1_000.0}, index=index)


def random_walk(n: int = 600, seed: int = 0, *, wave: float = 0.0, period: int = 40) -> MarketData:
    """A random walk (1h bars); ``wave`` plants a square-wave drift of that size per bar (a strong trend signal)."""
    rng = np.random.default_rng(seed)
    drift = wave * np.sign(np.sin(2 * np.pi * (np.arange(n) + 0.5) / period))
    return MarketData.from_frame(frame_of(rng.normal(0.0, 0.01, n) + drift), level="1h")


@pytest.fixture(scope="module")
def walk_data() -> MarketData:
    return random_walk(600, seed=11)


class CoinFlips(SignalStrategy):
    """Pure noise: holds the asset on a random half of the bars of the first half of the data and on the mirror
    image of those bars in the second half (on a palindromic price path its whole-sample P&L is zero)."""

    seed = 0

    def init(self) -> None:
        n = len(self.data.close)
        half = n // 2
        held = np.zeros(n, dtype=bool)
        first = np.random.default_rng(self.seed).random(half) < 0.5
        held[:half] = first
        held[n - half:] = first[::-1]
        want = np.r_[held[1:], False]  # decide at the close before the bar to hold
        self.entries, self.exits = want, ~want

    def signals(self) -> tuple[np.ndarray, np.ndarray]:
        return self.entries, self.exits


def palindrome(half: int = 800, seed: int = 0) -> MarketData:
    """A random walk that retraces its own path back to the start: every bar's move is undone later."""
    steps = np.random.default_rng(seed).normal(0.0, 0.01, half)
    return MarketData.from_frame(frame_of(np.r_[steps, -steps[::-1]], freq="1D"), level="1d")


class BuyEveryBar(Strategy):
    """Buys a little at every bar it sees (to show where trading starts)."""

    warmup = 0
    size = 0.01

    def next(self) -> None:
        self.buy(size=self.size)


# -- grid search -----------------------------------------------------------------------------------------------------
def test_grid_best_is_the_best_of_the_individual_backtests(walk_data: MarketData) -> None:
    result = optimize("sma_cross", walk_data, SMA_GRID, n_jobs=1, fee=0.001)
    assert result.n_trials == 9 and result.method == "grid" and result.metric == "sharpe"
    by_hand = {}
    for fast in SMA_GRID["fast"]:
        for slow in SMA_GRID["slow"]:
            run = run_backtest("sma_cross", walk_data, params={"fast": fast, "slow": slow}, fee=0.001)
            by_hand[(fast, slow)] = run
    best = max(by_hand, key=lambda key: by_hand[key].metrics["sharpe"])
    assert result.best_params == {"fast": best[0], "slow": best[1]}
    assert result.best_value == by_hand[best].metrics["sharpe"]
    # every row holds that trial's own metrics, sorted best first
    for _, row in result.trials.iterrows():
        run = by_hand[(row["fast"], row["slow"])]
        assert row["sharpe"] == run.metrics["sharpe"] and row["n_trades"] == run.metrics["n_trades"]
        assert row["final_equity"] == run.metrics["final_equity"]
    assert result.trials["sharpe"].is_monotonic_decreasing
    # the returns matrix is each trial's per-bar equity returns
    trial = int(result.trials["trial"].iloc[3])
    params = result.trial_params(trial)
    equity = by_hand[(params["fast"], params["slow"])].equity["equity"].to_numpy()
    np.testing.assert_array_equal(result.returns[trial].to_numpy(), equity[1:] / equity[:-1] - 1)
    assert result.returns.shape == (walk_data.n_bars - 1, 9)
    assert result.best_result().metrics["sharpe"] == result.best_value
    # minimising another metric ranks the other way
    low = optimize("sma_cross", walk_data, SMA_GRID, n_jobs=1, fee=0.001, metric="max_drawdown", maximize=False)
    assert low.best_value == min(run.metrics["max_drawdown"] for run in by_hand.values())


def test_parallel_result_equals_the_in_process_one(walk_data: MarketData) -> None:
    grid = {"fast": [3, 5, 8, 13], "slow": [20, 30, 40]}
    one = optimize("sma_cross", walk_data, grid, n_jobs=1, fee=0.001, slippage=2.0)
    two = optimize("sma_cross", walk_data, grid, n_jobs=2, fee=0.001, slippage=2.0)
    pd.testing.assert_frame_equal(one.trials, two.trials, check_exact=True)
    pd.testing.assert_frame_equal(one.returns, two.returns, check_exact=True)
    assert one.overfitting.as_dict() == two.overfitting.as_dict()
    assert one.to_dict()["trials"] == two.to_dict()["trials"]


@pytest.mark.parametrize(("max_workers", "n_tasks", "task_seconds", "expected"), [
    (8, 12, 0.05, 1),     # 0.6 s of trials: a pool's start-up (2 s) would cost more than it saves
    (2, 10, 0.3, 1),      # 3 s serial vs 2 + 1.5 s on two workers
    (2, 40, 0.3, 2),      # 12 s serial vs 2 + 6 s
    (8, 40, 0.3, 8),      # every worker pays: 2 + 1.5 s
    (8, 3, 10.0, 3),      # no more workers than trials
    (1, 1000, 1.0, 1),    # never more than asked for
    (4, 0, 1.0, 1),
])
def test_plan_workers_starts_a_pool_only_when_it_pays(max_workers: int, n_tasks: int, task_seconds: float,
                                                      expected: int) -> None:
    from zvt_crypto.trader.optimize_trials import plan_workers

    assert plan_workers(max_workers, n_tasks, task_seconds, start_seconds=2.0) == expected


def test_default_jobs_run_a_small_sweep_in_this_process(walk_data: MarketData, monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    import joblib

    import zvt_crypto.trader.optimize_trials as trials

    grid = {"fast": [3, 5, 8], "slow": [20, 30]}
    one = optimize("sma_cross", walk_data, grid, n_jobs=1, fee=0.001)

    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pool was started for a sweep of milliseconds")

    monkeypatch.setattr(joblib, "Parallel", no_pool)
    monkeypatch.setattr(trials, "_workers", lambda n_jobs: 4)  # as on a 4-CPU machine
    default = optimize("sma_cross", walk_data, grid, fee=0.001)  # n_jobs=-1
    pd.testing.assert_frame_equal(one.trials, default.trials, check_exact=True)
    # a pool when the trials are long enough: plan_workers decides, and the result is the same
    monkeypatch.undo()
    monkeypatch.setattr(trials, "plan_workers", lambda max_workers, n_tasks, seconds: 2)
    pooled = optimize("sma_cross", walk_data, grid, fee=0.001)
    pd.testing.assert_frame_equal(one.trials, pooled.trials, check_exact=True)


def test_constraint_metric_function_and_skipped_sets(walk_data: MarketData) -> None:
    grid = {"fast": [3, 5, 10, 20], "slow": [10, 20]}
    result = optimize("sma_cross", walk_data, grid, n_jobs=1, constraint=lambda p: p["fast"] != 5,
                      metric=lambda m: m["total_return"] - m["fees_paid"] / 1e4)
    # (3,10) (3,20) (10,20) run; (5,·) by the constraint; (10,10) (20,10) (20,20): fast must be below slow
    assert sorted(map(tuple, result.trials[["fast", "slow"]].to_numpy().tolist())) == [(3, 10), (3, 20), (10, 20)]
    assert result.n_skipped["constraint"] == 2 and result.n_skipped["invalid"] == 3
    assert "fast (10) must be below slow (10)" in result.n_skipped["reason"]
    assert result.metric == "objective"
    assert result.trials["objective"].tolist() == sorted(
        (result.trials["total_return"] - 0.0).tolist(), reverse=True)  # no fee: the objective is the return


@pytest.mark.parametrize(("grid", "kwargs", "message"), [
    ({"speed": [1, 2]}, {}, "'sma_cross' has no parameter(s) speed; its parameters: direction='long', "
                            "fraction=1.0, fast=10, slow=30"),
    ({"fast": ["x"]}, {}, "parameter fast='x' must be int"),
    ({"fast": []}, {}, "fast: the list of values is empty"),
    ({"fast": (2, 9)}, {}, "is a (low, high) range: it needs method='random'"),
    ({"fast": (9, 2)}, {"method": "random"}, "the range (9, 2) is empty"),
    ({"fast": [40], "slow": [30]}, {}, "no parameter set left to try: 0 rejected by the constraint, 1 by strategy"),
    ({"fast": [5]}, {"constraint": lambda p: False}, "1 rejected by the constraint"),
    ({"fast": [5]}, {"method": "annealing"}, "unknown method 'annealing'"),
    ({"fast": [5]}, {"metric": "speed"}, "unknown metric 'speed'; use one of"),
    ({"fast": [5]}, {"engine": "gpu"}, "unknown engine 'gpu'"),
    ({}, {}, "give at least one parameter to vary"),
])
def test_bad_input_fails_before_any_backtest(walk_data: MarketData, grid: dict, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        optimize("sma_cross", walk_data, grid, n_jobs=1, **kwargs)
    assert message in str(info.value)


def test_random_search_runs_and_reproduces(walk_data: MarketData) -> None:
    grid = {"fast": (2, 9), "slow": (12, 40)}
    first = optimize("sma_cross", walk_data, grid, method="random", n_iter=6, seed=3, n_jobs=1)
    second = optimize("sma_cross", walk_data, grid, method="random", n_iter=6, seed=3, n_jobs=1)
    assert first.n_trials == 6
    pd.testing.assert_frame_equal(first.trials, second.trials)
    assert first.best_params == second.best_params


def test_pbo_is_high_for_noise_and_low_for_a_planted_signal() -> None:
    # noise: coin-flip strategies on a path that retraces itself — whatever a trial gains in one half of the
    # blocks it gives back in the other, so the in-sample winner is an out-of-sample loser
    noise = optimize(CoinFlips, palindrome(800, seed=5), {"seed": list(range(16))}, n_jobs=1, fee=0.0)
    report = noise.overfitting
    assert report.n_trials == 16 and report.pbo is not None and report.pbo.n_splits == 16
    assert report.pbo.pbo > 0.9
    assert report.deflated_sharpe < 0.9
    # a strong planted trend: the same moving-average pairs win in every block
    signal = optimize("sma_cross", random_walk(2400, seed=2, wave=0.004, period=48),
                      {"fast": [2, 4, 8, 16], "slow": [24, 48, 96, 192], "direction": ["both"]},
                      n_jobs=1, fee=0.0005, engine="vectorised")
    assert signal.overfitting.pbo.pbo < 0.1 and signal.overfitting.pbo.prob_oos_loss == 0.0
    assert signal.best_value > 3  # annualised


def test_deflated_sharpe_is_below_the_best_trials_psr_and_uses_every_trial() -> None:
    result = optimize(CoinFlips, random_walk(800, seed=4), {"seed": list(range(30))}, n_jobs=1, fee=0.0)
    report = result.overfitting
    matrix = result.returns.to_numpy()
    sharpes = sharpe_ratio(matrix)
    best = int(result.trials["trial"].iloc[0])
    assert best == int(np.nanargmax(sharpes)) and report.best == best
    sr, skew, kurt, n = sharpe_moments(matrix[:, best])
    assert report.best_sharpe == pytest.approx(sr) and report.n_obs == n == 799
    assert report.expected_max_sharpe == pytest.approx(expected_max_sharpe(30, float(np.var(sharpes, ddof=1))))
    psr = probabilistic_sharpe_ratio(sr, 0.0, n, skew, kurt)
    assert report.deflated_sharpe < psr - 0.1
    assert report.deflated_sharpe == pytest.approx(probabilistic_sharpe_ratio(sr, report.expected_max_sharpe, n,
                                                                             skew, kurt))


# -- the engine's start ----------------------------------------------------------------------------------------------
def test_start_warms_up_without_trading(walk_data: MarketData) -> None:
    result = run_backtest(BuyEveryBar, walk_data, start=100)
    assert result.trades.empty and len(result.open_trades) == 1
    fills = result.orders.dropna(subset=["fill_time"])
    assert fills["fill_time"].min() == walk_data.index[101]  # decided at bar 100's close, filled at 101's open
    assert (result.equity["equity"].iloc[:101] == 10_000.0).all()
    plain = run_backtest("sma_cross", walk_data, params={"fast": 3, "slow": 10})
    late = run_backtest("sma_cross", walk_data, params={"fast": 3, "slow": 10}, start=300)
    assert (late.trades["entry_bar"] > 300).all() and len(late.trades) < len(plain.trades)
    # after start the signals are the same: the trades that open later than the first exit after 300 agree
    assert run_backtest("sma_cross", walk_data, params={"fast": 3, "slow": 10}, start=0).trades.equals(plain.trades)
    vector = run_backtest("sma_cross", walk_data, params={"fast": 3, "slow": 10}, start=300, engine="vectorised")
    assert vector.trades.equals(late.trades)
    with pytest.raises(InvalidInputError, match="start=600 is outside the data's 600 bars"):
        run_backtest("sma_cross", walk_data, start=600)


# -- walk-forward ----------------------------------------------------------------------------------------------------
def test_window_metrics_do_not_depend_on_whether_the_run_metrics_were_read(walk_data: MarketData) -> None:
    """The run's totals are public (``metric_inputs``) and reading ``metrics`` no longer consumes them: a window's
    fees were 0 when the run's metrics had been read first."""
    from zvt_crypto.trader.optimize import window_metrics

    fresh = run_backtest(BuyEveryBar, walk_data, start=100, fee=0.001)
    unread = window_metrics(fresh, 100)
    read = run_backtest(BuyEveryBar, walk_data, start=100, fee=0.001)
    assert read.metrics["fees_paid"] > 0 and read.metric_inputs["fees_paid"] == read.metrics["fees_paid"]
    assert window_metrics(read, 100)["fees_paid"] == unread["fees_paid"] == read.metrics["fees_paid"]
