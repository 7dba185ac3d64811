"""The strategy API: views that end at the current bar, look-ahead caught loudly, typed parameters, the registry and
clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.trader.conftest import Script, market
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader import LookAheadError, MarketData, Strategy, StrategyError, get_strategy, run_backtest, sma
from zvt_crypto.trader.strategy import strategy_names

ROWS = [(100.0 + i, 102.0 + i, 99.0 + i, 101.0 + i) for i in range(40)]


def test_next_sees_views_that_end_at_the_current_bar() -> None:
    seen: list[tuple[int, int, float, float, int]] = []

    class Watch(Strategy):
        def init(self) -> None:
            self.ma = self.I(sma, self.data.close, 3)
            self.both = {"ma": self.ma}

        def next(self) -> None:
            seen.append((self.i, len(self.data.close), float(self.data.close[-1]), float(self.ma[-1]),
                         len(self.both["ma"])))

    run_backtest(Watch, market(ROWS))
    first = seen[0]
    assert first[0] == 3  # backtesting.py's rule: one bar after the indicator's first value (bar 2)
    for i, length, close, ma, in_dict in seen:
        assert length == i + 1 == in_dict
        assert close == ROWS[i][3]
        assert ma == pytest.approx(np.mean([row[3] for row in ROWS[i - 2: i + 1]]))
    assert len(seen) == len(ROWS) - 3


def test_reading_a_future_bar_fails_loudly() -> None:
    class Peek(Strategy):
        warmup = 0

        def next(self) -> None:
            if self.data.close[self.i + 1] > self.data.close[-1]:
                self.buy()

    with pytest.raises(LookAheadError, match=r"strategy .*Peek.* read bar 1 at bar 0 .*current one only"):
        run_backtest(Peek, market(ROWS))


def test_an_indicator_that_looks_ahead_is_caught() -> None:
    class Centred(Strategy):
        def init(self) -> None:
            self.future = self.I(lambda close: np.roll(close, -1), self.data.close, name="tomorrow")

    with pytest.raises(LookAheadError, match="indicator 'tomorrow' looks ahead"):
        run_backtest(Centred, market(ROWS))

    class Normalised(Strategy):
        def init(self) -> None:
            self.z = self.I(lambda c: (c - c.mean()) / c.std(), self.data.close, name="zscore")

    with pytest.raises(LookAheadError, match="zscore"):
        run_backtest(Normalised, market(ROWS))
    # the same strategy runs when the check is off (the user's responsibility then)
    run_backtest(Normalised, market(ROWS), check_lookahead=False)


def test_causal_indicators_pass_the_check() -> None:
    from zvt_crypto.factors.indicators import INDICATORS

    class Fine(Strategy):
        def init(self) -> None:
            self.rsi = self.I(lambda bars: INDICATORS["rsi"](bars, window=5), self.bars())
            self.macd, self.signal, _ = self.I(lambda bars: INDICATORS["macd"](bars), self.bars())
            self.ewm = self.I(lambda c: pd.Series(c).ewm(span=5).mean(), self.data.close)

    run_backtest(Fine, market(ROWS))


def test_the_whole_history_is_for_init_only() -> None:
    class Sneaky(Strategy):
        warmup = 0

        def next(self) -> None:
            self.market.close[-1]

    with pytest.raises(LookAheadError, match=r"self\.market holds every bar"):
        run_backtest(Sneaky, market(ROWS))


def test_a_failing_strategy_is_named_with_the_bar() -> None:
    class Broken(Strategy):
        warmup = 0

        def next(self) -> None:
            if self.i == 2:
                raise ZeroDivisionError("oops")

    with pytest.raises(StrategyError, match=r"Broken.* failed in next\(\) at bar 2 \(2024-01-03.*ZeroDivisionError"):
        run_backtest(Broken, market(ROWS))


def test_parameters_are_typed_from_class_defaults() -> None:
    cls = get_strategy("sma_cross")
    strategy = cls(fast="5", slow=20.0, direction="both")
    assert (strategy.fast, strategy.slow, strategy.direction) == (5, 20, "both")
    assert strategy.params == {"direction": "both", "fraction": 1.0, "fast": 5, "slow": 20}
    with pytest.raises(InvalidInputError, match=r"parameter fast='x' must be int \(default 10\)"):
        cls(fast="x")
    with pytest.raises(InvalidInputError, match=r"has no parameter\(s\) speed; its parameters: direction='long'"):
        cls(speed=3)
    with pytest.raises(InvalidInputError, match=r"fast \(30\) must be below slow \(10\)"):
        cls(fast=30, slow=10)
    with pytest.raises(InvalidInputError, match="direction must be one of long, short, both"):
        cls(direction="sideways")


def test_registry_names_and_user_classes() -> None:
    names = strategy_names()
    for name in ("sma_cross", "rsi_reversion", "bbands_breakout", "macd_trend", "xs_momentum", "funding_carry",
                 "target_weights"):
        assert name in names
    assert get_strategy("tests.trader.conftest:Script") is Script
    with pytest.raises(InvalidInputError, match=r"unknown strategy 'nope'; known: .*sma_cross"):
        get_strategy("nope")
    with pytest.raises(InvalidInputError, match="cannot import strategy module 'no_such_module'"):
        get_strategy("no_such_module:Thing")
    with pytest.raises(InvalidInputError, match="has no Strategy subclass named 'Missing'"):
        get_strategy("tests.trader.conftest:Missing")


def test_several_symbols_share_one_account() -> None:
    vee = [(130.0 - i, 131.0 - i, 128.0 - i, 129.0 - i) for i in range(20)] + ROWS[:20]
    frame = market(vee).bars(0)
    data = MarketData.from_frames({"A/USDT": frame, "B/USDT": frame * 2})
    result = run_backtest("sma_cross", data, params={"fast": 2, "slow": 5}, fee=0.0)
    assert set(result.positions.columns) == {"A/USDT", "B/USDT"}
    # down, then up: both enter once on the way up and stay in, each with half the equity
    assert sorted(result.open_trades["symbol"]) == ["A/USDT", "B/USDT"]
    notional = result.open_trades["size"] * result.open_trades["entry_price"]
    assert notional.sum() == pytest.approx(10_000, rel=0.02)
