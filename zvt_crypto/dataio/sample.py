"""Deterministic sample bars: a seeded geometric random walk on the 1m grid, valid OHLCV by construction.

Used by the offline demo and by tests; the same seed always gives the same bars.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.timeutil import TimeLike, ms_to_index, to_ms


def sample_bars(
    symbol: str,
    start: TimeLike,
    periods: int,
    level: Level | str = "1m",
    *,
    seed: int = 7,
    start_price: float = 100.0,
    volatility: float = 0.001,
) -> pd.DataFrame:
    """``periods`` bars of ``level`` from ``start`` (floored to the grid), columns timestamp (UTC) … trade_count.

    >>> sample_bars("BTC/USDT", "2024-01-01", 3).columns.tolist()
    ['timestamp', 'open', 'high', 'low', 'close', 'volume', 'quote_volume', 'trade_count']
    """
    lvl = Level.parse(level)
    rng = np.random.default_rng([seed, zlib.crc32(symbol.encode())])
    first = lvl.floor(to_ms(start))
    stamps = first + np.arange(periods, dtype=np.int64) * lvl.ms
    close = start_price * np.exp(np.cumsum(rng.normal(0.0, volatility, periods)))
    open_ = np.concatenate([[start_price], close[:-1]])
    wick = np.abs(rng.normal(0.0, volatility / 2, (2, periods))) * close
    high = np.maximum(open_, close) + wick[0]
    low = np.minimum(open_, close) - wick[1]
    volume = rng.gamma(2.0, 5.0, periods)
    return pd.DataFrame(
        {
            "timestamp": ms_to_index(stamps),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "quote_volume": volume * (open_ + close) / 2,
            "trade_count": rng.integers(10, 500, periods),
        }
    )
