"""ML factors: the label's sign, walk-forward training without look-ahead, a planted signal is learnt, and the
predictions are stored like any factor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar
from zvt_crypto.factors.base import register_function
from zvt_crypto.factors.engine import compute_factor, load_factor
from zvt_crypto.factors.ml import MLForecast, forward_return

IDS = ["pair_binance_BTC-USDT", "pair_binance_ETH-USDT", "pair_binance_SOL-USDT"]
T0 = pd.Timestamp("2024-01-01", tz="UTC")


@register_function(outputs=("last_return",), warmup=lambda: 1, name="test_last_return")
def last_return(bars: pd.DataFrame) -> pd.DataFrame:
    """The last bar's return: the feature of the planted-signal test."""
    return bars["close"].pct_change(fill_method=None).to_frame("last_return")


def momentum_bars(n: int, seed: int = 0, phi: float = 0.5) -> pd.DataFrame:
    """Prices whose returns follow an AR(1): the next return is ``phi`` times the last one plus noise."""
    rng = np.random.default_rng(seed)
    frames = []
    for k, entity in enumerate(IDS):
        noise = rng.normal(0, 0.01, n)
        returns = np.zeros(n)
        for i in range(1, n):
            returns[i] = phi * returns[i - 1] + noise[i]
        close = 100 * (1 + k) * np.cumprod(1 + returns)
        open_ = np.concatenate([[close[0]], close[:-1]])
        frames.append(pd.DataFrame({
            "entity_id": entity, "timestamp": pd.date_range(T0, periods=n, freq="1h"), "open": open_,
            "high": np.maximum(open_, close) * 1.001, "low": np.minimum(open_, close) * 0.999, "close": close,
            "volume": 1.0 + rng.random(n)}))
    return pd.concat(frames)


def test_the_label_is_positive_when_the_price_rises() -> None:
    index = pd.MultiIndex.from_product([["a"], pd.date_range(T0, periods=4, freq="1h")],
                                       names=["entity_id", "timestamp"])
    close = pd.Series([100.0, 110.0, 121.0, 121.0], index=index)
    np.testing.assert_allclose(forward_return(close, 1).to_numpy(), [0.1, 0.1, 0.0, np.nan])
    np.testing.assert_allclose(forward_return(close, 2).to_numpy(), [0.21, 0.1, np.nan, np.nan])


def test_a_planted_signal_is_learnt_walk_forward(sqlite_store: Store) -> None:
    sqlite_store.write(Bar, momentum_bars(1500), level="1h")
    factor = MLForecast(features="test_last_return", horizon=1, retrain_every=100, min_train=200)
    run = compute_factor(factor, entity_ids=IDS, level="1h", store=sqlite_store)
    assert run.rows == 3 * 1500
    values = load_factor(factor, entity_ids=IDS, level="1h", store=sqlite_store)
    realised = forward_return(Bar.query_data(entity_ids=IDS, level="1h", store=sqlite_store)["close"], 1)
    both = pd.concat([values["prediction"], realised.rename("realised")], axis=1).dropna()
    assert len(both) > 3 * 1200  # predictions from the first retrain point with 200 samples on
    assert both["prediction"].corr(both["realised"]) > 0.3  # phi = 0.5: the next return is predictable
    assert set(values["filter_result"].dropna().unique()) <= {-1, 1}
    assert values["score_result"].between(0, 1).all() or values["score_result"].isna().any()


def test_predictions_never_use_the_future(sqlite_store: Store) -> None:
    """Replace every bar after a cut with another path: predictions up to the cut are identical."""
    bars = momentum_bars(900, seed=3)
    other = momentum_bars(900, seed=4)
    cut = T0 + pd.Timedelta(hours=600)
    altered = pd.concat([bars[bars["timestamp"] <= cut], other[other["timestamp"] > cut]])
    factor = MLForecast(features="test_last_return", horizon=3, retrain_every=50, min_train=100, model="hgb")
    first = factor.compute(_input(sqlite_store, bars))
    second = factor.compute(_input(sqlite_store, altered))
    upto = first.index.get_level_values("timestamp") <= cut
    assert first["prediction"][upto].notna().sum() > 1000
    pd.testing.assert_series_equal(first["prediction"][upto], second["prediction"][upto])
    assert not first["prediction"][~upto].equals(second["prediction"][~upto])


def test_incremental_predictions_equal_a_full_run(sqlite_store: Store) -> None:
    bars = momentum_bars(700, seed=5)
    factor = MLForecast(features="test_last_return", horizon=2, retrain_every=60, min_train=100)
    sqlite_store.write(Bar, bars[bars["timestamp"] < T0 + pd.Timedelta(hours=500)], level="1h")
    compute_factor(factor, entity_ids=IDS, level="1h", store=sqlite_store)
    sqlite_store.write(Bar, bars, level="1h")
    second = compute_factor(factor, entity_ids=IDS, level="1h", store=sqlite_store)
    assert second.rows == 3 * 200
    stored = load_factor(factor, entity_ids=IDS, level="1h", store=sqlite_store)
    full = factor.compute(_input(sqlite_store, bars))
    pd.testing.assert_series_equal(stored["prediction"], full["prediction"].rename("prediction"),
                                   check_index_type=False, check_categorical=False)


def test_bad_parameters() -> None:
    with pytest.raises(InvalidInputError, match="unknown factor 'nope'"):
        MLForecast(features="nope")
    with pytest.raises(InvalidInputError, match="model must be one of"):
        MLForecast(features="test_last_return", model="svm")
    with pytest.raises(InvalidInputError, match="horizon must be"):
        MLForecast(features="test_last_return", horizon=0)


def _input(store: Store, bars: pd.DataFrame) -> object:
    from zvt_crypto.contract.levels import Level
    from zvt_crypto.factors.data import FactorInput

    data = FactorInput(store, IDS, Level.parse("1h"))
    data.set_main_bars(bars.set_index(["entity_id", "timestamp"]).sort_index()[["open", "high", "low", "close",
                                                                                 "volume"]])
    return data
