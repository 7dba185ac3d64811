"""The container: MarketData built from frames on the union time grid, checked, windowed, pickled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader import MarketData, run_backtest


def test_from_frames_union_grid_and_checks() -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="D")
    a = pd.DataFrame({"Open": [1.0, 2, 3, 4], "High": [2.0, 3, 4, 5], "Low": [0.5, 1, 2, 3], "Close": [1.5, 2, 3, 4]},
                     index=index)
    b = a.iloc[[1, 3]]
    data = MarketData.from_frames({"A/USDT": a, "B/USDT": b})
    assert data.n_bars == 4 and np.isnan(data.open[0, 1]) and data.open[1, 1] == 2.0
    assert data.index.tz is not None and str(data.index.tz) == "UTC"
    assert np.isnan(data.close_filled[0, 1]) and data.close_filled[2, 1] == 2.0
    window = data.window(1, 3)
    assert window.n_bars == 2 and window.open[0, 0] == 2.0
    bad = a.copy()
    bad.iloc[2, 1] = 0.0  # high below the open
    with pytest.raises(InvalidInputError, match="inconsistent OHLC for A/USDT"):
        MarketData.from_frame(bad, symbol="A/USDT")
    with pytest.raises(InvalidInputError, match="no column"):
        MarketData.from_frame(a.drop(columns="Low"))
    with pytest.raises(InvalidInputError, match="at least 2 bars"):
        run_backtest("sma_cross", MarketData.from_frame(a.iloc[:1]))


def test_market_data_pickles() -> None:
    import pickle

    index = pd.date_range("2024-01-01", periods=3, freq="D")
    frame = pd.DataFrame({"open": [1.0, 2, 3], "high": [2.0, 3, 4], "low": [0.5, 1, 2], "close": [1.5, 2, 3]},
                         index=index)
    data = MarketData.from_frame(frame)
    copy = pickle.loads(pickle.dumps(data))
    assert copy.fingerprint == data.fingerprint


def test_the_package_keeps_its_public_names() -> None:
    """``zvt_crypto.trader.data`` was one module: code importing its names from there keeps working."""
    import zvt_crypto.trader.data as data
    from zvt_crypto.trader.data import container, loader

    assert data.MarketData is container.MarketData and data.SymbolSpec is container.SymbolSpec
    assert data.Funding is container.Funding and data.DataSource is container.DataSource
    assert data.load_market_data is loader.load_market_data and data.market_specs is loader.market_specs
    assert data.FIELDS == ("open", "high", "low", "close", "volume")
