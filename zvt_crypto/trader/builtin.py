"""Built-in strategies, registered by name (importing this module defines them).

Signal strategies (one symbol or several; ``direction`` long / short / both; vectorised path on one symbol):

* ``sma_cross`` — fast SMA crosses above the slow one: enter; below: exit (backtesting.py's example).
* ``rsi_reversion`` — RSI crosses up through ``lower``: enter; crosses up through ``upper``: exit.
* ``bbands_breakout`` — close crosses above the upper Bollinger band: enter; below the middle band: exit.
* ``macd_trend`` — MACD crosses above its signal line: enter; below: exit.

Portfolios (target weights, long and short, rebalanced at the next open; :mod:`.portfolio`):

* ``target_weights`` — weights given as a frame (``weights=``).
* ``factor_weights`` — a stored factor ranked across the symbols: top ``n`` long, bottom ``n`` short.
* ``xs_momentum`` — cross-sectional momentum long/short (perps or spot).
* ``funding_carry`` — short the highest funding carry, long the lowest (perps).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader import portfolio  # noqa: F401 - defines (registers) the portfolio strategies
from zvt_crypto.trader.signals import SignalStrategy
from zvt_crypto.trader.strategy import cross_above, crossover, sma


def _check_windows(strategy: SignalStrategy, **windows: int) -> None:
    for key, value in windows.items():
        if value < 1:
            raise InvalidInputError(f"strategy {strategy.label()!r}: {key} must be ≥ 1, got {value}")


class SmaCross(SignalStrategy):
    """Moving-average cross: enter when the fast SMA crosses above the slow one, exit when it crosses below."""

    name = "sma_cross"
    fast = 10
    slow = 30

    def validate(self) -> None:
        super().validate()
        _check_windows(self, fast=self.fast, slow=self.slow)
        if self.fast >= self.slow:
            raise InvalidInputError(f"strategy 'sma_cross': fast ({self.fast}) must be below slow ({self.slow})")

    def init(self) -> None:
        self.fast_ma = [self.I(sma, data.close, self.fast, name=f"sma{self.fast}") for data in self.datas]
        self.slow_ma = [self.I(sma, data.close, self.slow, name=f"sma{self.slow}") for data in self.datas]

    def next(self) -> None:
        for k in range(len(self.datas)):
            fast, slow = self.fast_ma[k], self.slow_ma[k]
            self.act(crossover(fast, slow), crossover(slow, fast), k)

    def signals(self) -> tuple[np.ndarray, np.ndarray]:
        fast, slow = self.fast_ma[0], self.slow_ma[0]
        return cross_above(fast, slow), cross_above(slow, fast)


def _indicator(name: str, **params: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A function of one symbol's bars frame giving the indicator ``name`` of the factor library."""
    from zvt_crypto.factors.indicators import INDICATORS

    spec = INDICATORS[name]

    def compute(bars: pd.DataFrame) -> pd.DataFrame:
        return spec(bars, **params)

    compute.__name__ = name
    return compute


class RsiReversion(SignalStrategy):
    """RSI mean reversion: enter when the RSI crosses up through ``lower``, exit when it crosses up through
    ``upper``."""

    name = "rsi_reversion"
    window = 14
    lower = 30.0
    upper = 70.0

    def validate(self) -> None:
        super().validate()
        _check_windows(self, window=self.window)
        if not 0 <= self.lower < self.upper <= 100:
            raise InvalidInputError(f"strategy 'rsi_reversion': need 0 ≤ lower < upper ≤ 100, got {self.lower}, "
                                    f"{self.upper}")

    def init(self) -> None:
        rsi = _indicator("rsi", window=self.window)
        self.rsi = [self.I(rsi, self.bars(k)) for k in range(len(self.datas))]

    def next(self) -> None:
        for k, rsi in enumerate(self.rsi):
            self.act(crossover(rsi, self.lower), crossover(rsi, self.upper), k)

    def signals(self) -> tuple[np.ndarray, np.ndarray]:
        return cross_above(self.rsi[0], self.lower), cross_above(self.rsi[0], self.upper)


class BbandsBreakout(SignalStrategy):
    """Bollinger breakout: enter when the close crosses above the upper band, exit when it crosses below the
    middle band."""

    name = "bbands_breakout"
    window = 20
    multiplier = 2.0

    def validate(self) -> None:
        super().validate()
        _check_windows(self, window=self.window)
        if self.multiplier <= 0:
            raise InvalidInputError(f"strategy 'bbands_breakout': multiplier must be > 0, got {self.multiplier}")

    def init(self) -> None:
        bands = _indicator("bbands", window=self.window, multiplier=self.multiplier)
        self.upper, self.middle = [], []
        for k in range(len(self.datas)):
            upper, middle, _lower = self.I(bands, self.bars(k))
            self.upper.append(upper)
            self.middle.append(middle)

    def next(self) -> None:
        for k, data in enumerate(self.datas):
            close = data.close
            self.act(crossover(close, self.upper[k]), crossover(self.middle[k], close), k)

    def signals(self) -> tuple[np.ndarray, np.ndarray]:
        close = self.datas[0].close
        return cross_above(close, self.upper[0]), cross_above(self.middle[0], close)


class MacdTrend(SignalStrategy):
    """MACD trend: enter when the MACD line crosses above its signal line, exit when it crosses below."""

    name = "macd_trend"
    fast = 12
    slow = 26
    signal = 9

    def validate(self) -> None:
        super().validate()
        _check_windows(self, fast=self.fast, slow=self.slow, signal=self.signal)
        if self.fast >= self.slow:
            raise InvalidInputError(f"strategy 'macd_trend': fast ({self.fast}) must be below slow ({self.slow})")

    def init(self) -> None:
        macd = _indicator("macd", fast=self.fast, slow=self.slow, signal=self.signal)
        self.macd, self.macd_signal = [], []
        for k in range(len(self.datas)):
            line, signal, _hist = self.I(macd, self.bars(k))
            self.macd.append(line)
            self.macd_signal.append(signal)

    def next(self) -> None:
        for k, line in enumerate(self.macd):
            signal = self.macd_signal[k]
            self.act(crossover(line, signal), crossover(signal, line), k)

    def signals(self) -> tuple[np.ndarray, np.ndarray]:
        return cross_above(self.macd[0], self.macd_signal[0]), cross_above(self.macd_signal[0], self.macd[0])
