"""What the /backtests page (and later the REST API) reads of stored runs: the thinning of long series, the runs
with their headline metrics, one run's chart series, the normalised equity of several runs and a stored re-run."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar
from zvt_crypto.trader import load_market_data, run_backtest
from zvt_crypto.trader.results import buy_and_hold
from zvt_crypto.trader.run_views import (
    OVERVIEW_COLUMNS,
    downsample,
    downsample_positions,
    normalised_equity,
    rerun_and_store,
    run_view,
    runs_overview,
)
from zvt_crypto.trader.storage import load_run, save_run

BTC, ETH = "pair_binance_BTC-USDT", "pair_binance_ETH-USDT"


def test_downsampling_keeps_every_bucket_extreme_within_the_budget() -> None:
    rng = np.random.default_rng(7)
    values = np.cumsum(rng.normal(size=100_003))
    values[54_321] = values.min() - 50.0  # a one-bar crash: every-n-th-point thinning would lose it
    values[77_777] = values.max() + 50.0
    values[10:20] = np.nan
    kept = downsample_positions(values, 2_000)
    assert len(kept) <= 2_000 and np.all(np.diff(kept) > 0)
    assert {0, 54_321, 77_777, len(values) - 1} <= set(kept.tolist())
    assert not np.isnan(values[kept]).any()  # a NaN is never a bucket's low or high
    # each bucket's own low and high survive: the thinned line spans what every stretch of the chart spans
    size = -(-len(values) // (2_000 // 4))
    for start in range(0, len(values), size):
        block = values[start:start + size]
        inside = values[kept[(kept >= start) & (kept < start + size)]]
        assert np.nanmin(inside) == np.nanmin(block) and np.nanmax(inside) == np.nanmax(block)


def test_downsampling_returns_a_short_series_whole_and_refuses_a_tiny_budget() -> None:
    series = pd.Series([3.0, 1.0, 2.0], index=pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC"))
    assert downsample(series, 4).equals(series)
    with pytest.raises(InvalidInputError, match="too small"):
        downsample_positions(np.arange(10.0), 3)


def _two_runs(store: Store, bars: Callable[..., pd.DataFrame]) -> tuple[str, str]:
    store.write(Bar, bars(BTC, n=600, seed=3))
    store.write(Bar, bars(ETH, n=600, seed=4))
    data = load_market_data(exchange="binance", symbols=["BTC/USDT", "ETH/USDT"], level="1h", store=store)
    pair = save_run(run_backtest("sma_cross", data, params={"fast": 3, "slow": 10}, fee=0.001), store)
    single = load_market_data(exchange="binance", symbols=["BTC/USDT"], level="1h", store=store)
    btc = save_run(run_backtest("sma_cross", single, params={"fast": 5, "slow": 20}, fee=0.001, cash=5_000.0),
                   store, note="the BTC one")
    return pair, btc


def test_runs_overview_lists_the_runs_with_their_headline_metrics(store: Store,
                                                                  bars: Callable[..., pd.DataFrame]) -> None:
    pair, btc = _two_runs(store, bars)
    runs = runs_overview(store)
    assert list(runs.columns) == list(OVERVIEW_COLUMNS)
    assert set(runs["run_id"]) == {pair, btc}
    row = runs.set_index("run_id").loc[btc]
    stored = load_run(btc, store).metrics
    assert (row["total_return"], row["sharpe"], row["max_drawdown"], row["n_trades"]) == (
        stored["total_return"], stored["sharpe"], stored["max_drawdown"], stored["n_trades"])
    assert row["params"] == "direction=long, fast=5, fraction=1.0, slow=20" and row["note"] == "the BTC one"
    assert runs.set_index("run_id").loc[pair, "symbols"] == "BTC/USDT, ETH/USDT"


def test_run_view_thins_the_series_and_draws_buy_and_hold_from_the_bars(store: Store,
                                                                        bars: Callable[..., pd.DataFrame]) -> None:
    pair, _btc = _two_runs(store, bars)
    whole = load_run(pair, store)
    view = run_view(pair, store, budget=200)
    assert view.n_equity == 600 and len(view.equity) <= 200
    assert view.equity["drawdown"].min() == whole.equity["drawdown"].min()  # the trough survives
    assert view.equity["equity"].max() == whole.equity["equity"].max()
    data = load_market_data(exchange="binance", symbols=["BTC/USDT", "ETH/USDT"], level="1h", store=store)
    expected = pd.Series(buy_and_hold(data, 10_000.0), index=data.index).reindex(view.equity.index)
    pd.testing.assert_series_equal(view.benchmark, expected)
    assert set(view.prices) == {"BTC/USDT", "ETH/USDT"} and all(len(s) <= 200 for s in view.prices.values())
    assert len(view.trades) == len(whole.trades) + len(whole.open_trades)
    assert view.price_problem is None


def test_run_view_says_why_there_is_no_price_when_the_bars_are_gone(store: Store,
                                                                    bars: Callable[..., pd.DataFrame]) -> None:
    _pair, btc = _two_runs(store, bars)
    with store.engine.begin() as connection:
        connection.execute(Bar.__table__.delete())
    view = run_view(btc, store)
    assert view.prices == {} and view.benchmark is None
    assert view.price_problem is not None and "BTC/USDT" in view.price_problem
    assert len(view.equity) == 600  # the stored equity still draws


def test_normalised_equity_starts_every_run_at_one(store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    pair, btc = _two_runs(store, bars)
    curves = normalised_equity([pair, btc], store, budget=100)
    assert list(curves) == [pair, btc]
    for run_id, curve in curves.items():
        equity = load_run(run_id, store).equity["equity"]
        assert curve.iloc[0] == 1.0 and len(curve) <= 100
        assert curve.iloc[-1] == pytest.approx(equity.iloc[-1] / equity.iloc[0])
    with pytest.raises(InvalidInputError, match="no backtest run 'nope'"):
        normalised_equity([pair, "nope"], store)


def test_rerun_and_store_lands_a_new_run_with_the_same_metrics(store: Store,
                                                                bars: Callable[..., pd.DataFrame]) -> None:
    _pair, btc = _two_runs(store, bars)
    steps: list[str] = []
    new_id, same_data = rerun_and_store(btc, store, progress=steps.append)
    assert same_data and new_id != btc and steps[-1] == f"stored as {new_id}"
    runs = runs_overview(store).set_index("run_id")
    assert runs.loc[new_id, "note"] == f"rerun of {btc}"
    assert load_run(new_id, store).metrics == load_run(btc, store).metrics


def test_a_window_of_a_run_has_every_point_in_it_and_the_runs_own_benchmark(
        store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    pair, _btc = _two_runs(store, bars)
    whole = run_view(pair, store, budget=10_000)
    start, end = whole.equity.index[100], whole.equity.index[179]
    window = run_view(pair, store, budget=200, start=start, end=end)
    assert window.n_equity == 80 and list(window.equity.index) == list(whole.equity.index[100:180])
    pd.testing.assert_series_equal(window.benchmark, whole.benchmark.iloc[100:180])  # still from the run's start
    assert all(series.index[0] == start and series.index[-1] == end for series in window.prices.values())
    coarse = run_view(pair, store, budget=40)
    assert len(coarse.equity) < 80 and coarse.n_equity == 600
