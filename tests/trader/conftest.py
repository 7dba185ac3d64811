"""Helpers for trader tests: bars from explicit OHLC rows, and a strategy that follows a script."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.trader import MarketData, Strategy, SymbolSpec

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def ohlc_frame(rows: Sequence[tuple[float, float, float, float]], *, freq: str = "1D", volume: float = 100.0,
               start: pd.Timestamp = T0) -> pd.DataFrame:
    """Bars from ``(open, high, low, close)`` rows, one per ``freq`` from ``start``."""
    table = np.asarray(rows, dtype=float)
    index = pd.date_range(start, periods=len(table), freq=freq, tz="UTC")
    return pd.DataFrame({"Open": table[:, 0], "High": table[:, 1], "Low": table[:, 2], "Close": table[:, 3],
                         "Volume": volume}, index=index)


def market(rows: Sequence[tuple[float, float, float, float]], symbol: str = "BTC/USDT", *, freq: str = "1D",
           volume: float = 100.0, funding: pd.DataFrame | None = None, **spec: Any) -> MarketData:
    """One symbol's bars with the given spec fields (``perp=True``, ``step=0.01`` …)."""
    level = {"1D": "1d", "1h": "1h", "1min": "1m"}.get(freq)
    spec_obj = SymbolSpec(symbol, symbol, **spec)
    return MarketData.from_frames({symbol: ohlc_frame(rows, freq=freq, volume=volume)}, specs={symbol: spec_obj},
                                  level=level, funding=funding)


class Script(Strategy):
    """Runs ``actions[bar]`` (a list of callables taking the strategy) at each bar's close, from bar 0."""

    warmup = 0
    actions = None

    def next(self) -> None:
        for action in (self.actions or {}).get(self.i, []):
            action(self)


@pytest.fixture
def script() -> Callable[..., Script]:
    def make(actions: dict[int, list[Callable[[Strategy], Any]]]) -> Script:
        return Script(actions=actions)

    return make
