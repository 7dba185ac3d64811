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


# ---------------------------------------------------------------------------------------------------------------
# the public Strategy / Position / BarData surface on real prices (backtesting.py's GOOG, daily 2004–2013)
# ---------------------------------------------------------------------------------------------------------------
CASH, FEE = 100_000.0, 0.001


@pytest.fixture(scope="module")
def goog() -> pd.DataFrame:
    return pytest.importorskip("backtesting.test").GOOG.iloc[:80]


def test_position_and_account_follow_a_long_then_a_short(goog: pd.DataFrame) -> None:
    """buy → order_target(−0.5) → position.close(): what the strategy sees at each close, against GOOG's prices."""
    seen: dict[int, dict] = {}

    class Probe(Strategy):
        warmup = 0

        def next(self) -> None:
            p = self.position
            seen[self.i] = {"time": self.time, "size": p.size, "long": p.is_long, "short": p.is_short,
                            "open": bool(p), "entry": p.entry_price, "pl": p.pl, "equity": self.equity,
                            "cash": self.cash, "repr": repr(p)}
            if self.i == 5:
                self.buy(size=10)
                seen[self.i]["pending"] = [(o.side, o.size) for o in self.orders]
            elif self.i == 10:
                self.order_target(0, -0.5)
            elif self.i == 15:
                p.close()

    result = run_backtest(Probe, MarketData.from_frame(goog, symbol="GOOG/USD"), cash=CASH, fee=FEE)
    o, c = goog["Open"].to_numpy(), goog["Close"].to_numpy()
    flat = seen[5]
    assert (flat["size"], flat["long"], flat["short"], flat["open"], flat["pl"]) == (0, False, False, False, 0.0)
    assert flat["equity"] == flat["cash"] == CASH and flat["pending"] == [(1, 10)]
    assert flat["time"] == pd.Timestamp(goog.index[5], tz="UTC")
    long = seen[6]  # filled at bar 6's open
    assert (long["size"], long["long"], long["short"], long["open"]) == (10, True, False, True)
    assert long["entry"] == o[6] and long["pl"] == pytest.approx((c[6] - o[6]) * 10)
    assert long["cash"] == pytest.approx(CASH - 10 * o[6] * (1 + FEE))
    assert long["equity"] == pytest.approx(long["cash"] + 10 * c[6])
    assert long["repr"] == "<Position GOOG/USD size=10>"
    short = seen[11]  # at bar 11's open: sell the 10 and go short half the equity
    equity_at_open = seen[10]["cash"] + 10 * o[11]
    assert short["short"] and not short["long"] and short["open"]
    assert short["size"] * o[11] == pytest.approx(-0.5 * equity_at_open, rel=2 * FEE)
    assert short["entry"] == o[11] and short["pl"] == pytest.approx((c[11] - o[11]) * short["size"])
    assert (seen[16]["size"], seen[16]["open"], seen[16]["pl"]) == (0, False, 0.0)
    trades = result.trades
    assert trades["size"].tolist() == pytest.approx([10, abs(short["size"])])
    assert trades["entry_price"].tolist() == [o[6], o[11]] and trades["exit_price"].tolist() == [o[11], o[16]]


def test_pending_orders_and_cancel(goog: pd.DataFrame) -> None:
    """A limit far below the market stays pending in ``orders``; ``cancel`` removes it and it never fills."""
    pending: dict[int, int] = {}

    class Patient(Strategy):
        warmup = 0

        def next(self) -> None:
            if self.i == 3:
                self.bid = self.buy(size=1, limit=float(self.data.close[-1]) / 2)
            if self.i == 8:
                self.cancel(self.bid)
            pending[self.i] = len(self.orders)

    result = run_backtest(Patient, MarketData.from_frame(goog, symbol="GOOG/USD"), fee=FEE)
    assert [pending[i] for i in range(2, 10)] == [0, 1, 1, 1, 1, 1, 0, 0]
    assert result.trades.empty and result.orders["status"].tolist() == ["cancelled"]


def test_several_symbols_by_name_rebalance_and_bars(goog: pd.DataFrame) -> None:
    """``symbols``, ``datas``, ``bars(name)``, ``position_of`` (name or index) and ``rebalance`` with a mapping."""
    data = MarketData.from_frames({"A/USD": goog, "B/USD": goog * 2})
    seen: dict[str, object] = {}

    class Pair(Strategy):
        warmup = 0

        def init(self) -> None:
            seen["symbols"] = self.symbols
            seen["datas"] = [d.symbol for d in self.datas]
            seen["b_close"] = self.bars("B/USD")["close"].to_numpy()

        def next(self) -> None:
            if self.i == 3:  # A is flat and asked for 0: no order for it
                seen["orders"] = [(o.column, o.weight) for o in self.rebalance({"A/USD": 0.0, "B/USD": 0.5})]
            if self.i == 4:
                seen["same"] = self.position_of("B/USD") is self.position_of(1)
                seen["sizes"] = (self.position_of("A/USD").size, self.position_of("B/USD").size)
                seen["equity"] = self.equity

    run_backtest(Pair, data, cash=CASH, fee=0.0)
    assert seen["symbols"] == seen["datas"] == ["A/USD", "B/USD"]
    np.testing.assert_array_equal(seen["b_close"], goog["Close"].to_numpy() * 2)
    assert seen["orders"] == [(1, 0.5)] and seen["same"] is True
    a_size, b_size = seen["sizes"]
    assert a_size == 0 and b_size * goog["Open"].iloc[4] * 2 == pytest.approx(0.5 * CASH)


def test_bar_data_views_end_at_the_current_bar(goog: pd.DataFrame) -> None:
    seen: dict[str, object] = {}

    class Look(Strategy):
        warmup = 0

        def next(self) -> None:
            if self.i == 10:
                d = self.data
                seen.update(open=d.open.copy(), high=d.high.copy(), low=d.low.copy(), close=d.close.copy(),
                            volume=d.volume.copy(), stamp=int(d.timestamps[-1]), time=d.time, n=len(d), repr=repr(d))

    run_backtest(Look, MarketData.from_frame(goog, symbol="GOOG/USD"), fee=FEE)
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(seen[name], goog[name.title()].to_numpy(dtype=float)[:11])
    stamp = pd.Timestamp(goog.index[10], tz="UTC")
    assert seen["stamp"] == stamp.value // 1_000_000 and seen["time"] == stamp and seen["n"] == 11
    assert seen["repr"] == "<BarData GOOG/USD bars=0..10>"


def test_class_level_api_parameters_description_and_label() -> None:
    cls = get_strategy("sma_cross")
    assert cls.param_defaults() == {"direction": "long", "fraction": 1.0, "fast": 10, "slow": 30}
    assert cls.describe() == ("Moving-average cross: enter when the fast SMA crosses above the slow one, exit when it "
                              "crosses below.")
    assert cls.label() == "sma_cross" and Script.label() == "tests.trader.conftest:Script"
    assert repr(cls(fast=5)) == "SmaCross(direction='long', fraction=1.0, fast=5, slow=30)"


class _TwoAverages(Strategy):
    fast = 5
    slow = 20

    def init(self) -> None:
        self.fast_ma = self.I(sma, self.data.close, self.fast)
        self.slow_ma = self.I(sma, self.data.close, self.slow, name="slow")


def test_the_lifecycle_an_engine_drives(goog: pd.DataFrame) -> None:
    """setup() binds and runs init(); indicators, first_bar and clock are what an engine reads."""
    from zvt_crypto.trader.broker import Broker

    data = MarketData.from_frame(goog, symbol="GOOG/USD")
    strategy = _TwoAverages()
    with pytest.raises(AttributeError, match=r"has no data yet: .*calls setup\(\)"):
        strategy.data  # noqa: B018 - the attribute read is the test
    strategy.setup(Broker(data, fee=FEE), data)
    close = goog["Close"].to_numpy(dtype=float)
    assert [label for _array, label in strategy.indicators] == ["sma", "slow"]
    np.testing.assert_allclose(strategy.indicators[1][0], pd.Series(close).rolling(20).mean(), equal_nan=True)
    assert strategy.first_bar == 20  # one bar after the slow average's first value (bar 19)
    assert strategy.clock.n == data.n_bars and len(strategy.data.close) == data.n_bars
    strategy.clock.n = 30
    assert strategy.i == 29 and strategy.data.close[-1] == close[29]
    strategy.setup(Broker(data, fee=FEE), data, start=50)  # a new run: indicators registered afresh
    assert len(strategy.indicators) == 2 and strategy.first_bar == 50

    class Failing(Strategy):
        def init(self) -> None:
            raise KeyError("close")

    with pytest.raises(StrategyError, match=r"Failing.* failed in init\(\): KeyError"):
        Failing().setup(Broker(data, fee=FEE), data)


@pytest.mark.parametrize("member", ["clock", "first_bar", "equity", "buy", "position"])
def test_a_parameter_that_shadows_the_strategy_api_is_refused(member: str) -> None:
    with pytest.raises(InvalidInputError, match=rf"parameter {member!r} .* Strategy's own {member}; rename it"):
        type("Clash", (Strategy,), {member: 3})
