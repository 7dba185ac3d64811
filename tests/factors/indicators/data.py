"""Bars for the indicator tests: real prices shipped with ``backtesting`` and synthetic random walks."""

from __future__ import annotations

import functools
import importlib.resources

import numpy as np
import pandas as pd

REAL = ("BTCUSD", "GOOG", "EURUSD")  # monthly 2012-2024 (156 bars), daily 2004-2013 (2148), hourly 2017-18 (5000)


@functools.cache
def real_bars(name: str) -> pd.DataFrame:
    """One of the CSVs in ``backtesting/test`` as bars: lower-case float columns on a UTC ``timestamp`` index."""
    path = importlib.resources.files("backtesting") / "test" / f"{name}.csv"
    with path.open() as handle:
        frame = pd.read_csv(handle, index_col=0, parse_dates=True)
    frame.columns = [column.lower() for column in frame.columns]
    frame.index = pd.DatetimeIndex(frame.index).tz_localize("UTC").as_unit("ms").rename("timestamp")
    return frame[["open", "high", "low", "close", "volume"]].astype("float64")


def make_bars(returns: np.ndarray, spreads: np.ndarray, volumes: np.ndarray, *, start: str = "2024-01-01",
              freq: str = "1min", tick: float | None = None, price: float = 100.0) -> pd.DataFrame:
    """Valid OHLCV bars from log returns, intrabar spreads (>= 0, relative) and volumes (>= 0).

    ``tick`` rounds prices to a grid, which makes ties and flat windows common.
    """
    n = len(returns)
    close = price * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[price], close[:-1]])
    high = np.maximum(open_, close) * (1.0 + spreads[:, 0])
    low = np.minimum(open_, close) / (1.0 + spreads[:, 1])
    if tick:
        open_, high, low, close = (np.maximum(np.round(x / tick), 1.0) * tick for x in (open_, high, low, close))
        high = np.maximum.reduce([open_, high, low, close])
        low = np.minimum.reduce([open_, high, low, close])
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", unit="ms", name="timestamp")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volumes}, index=index)


def random_bars(n: int, seed: int = 0, freq: str = "1min", tick: float | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 0.002, n)
    spreads = rng.exponential(0.001, (n, 2))
    volumes = rng.lognormal(3.0, 1.0, n) * (rng.random(n) > 0.02)  # some bars without volume
    return make_bars(returns, spreads, volumes, freq=freq, tick=tick)
