"""The vectorised path makes exactly the event engine's trades — same bars, prices, sizes, fees, P&L and equity to the
last bit — on every built-in signal strategy, every direction, with fees, slippage, steps and minimums, on random
data; compiled (numba) and interpreted alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader import FixedBps, MarketData, RiskLimits, SpreadImpact, _kernels, run_backtest
from zvt_crypto.trader import vector as vector_module


def random_bars(n: int, seed: int, *, volatility: float = 0.01) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, volatility, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, volatility / 4, n))
    high = np.maximum(open_, close) * (1 + rng.random(n) * volatility)
    low = np.minimum(open_, close) * (1 - rng.random(n) * volatility)
    index = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": rng.random(n) * 50 + 1}, index=index)


def assert_same(event, vector) -> None:
    pd.testing.assert_frame_equal(vector.trades, event.trades, check_exact=True)
    pd.testing.assert_frame_equal(vector.open_trades, event.open_trades, check_exact=True)
    np.testing.assert_array_equal(vector.equity["equity"].to_numpy(), event.equity["equity"].to_numpy())
    pd.testing.assert_frame_equal(vector.orders, event.orders)
    assert vector.metrics == event.metrics


CASES = [
    ("sma_cross", {"fast": 5, "slow": 20}),
    ("sma_cross", {"fast": 10, "slow": 30}),
    ("rsi_reversion", {"window": 10, "lower": 35.0, "upper": 60.0}),
    ("bbands_breakout", {"window": 15, "multiplier": 1.5}),
    ("macd_trend", {}),
]


@pytest.mark.parametrize(("name", "params"), CASES)
@pytest.mark.parametrize("direction", ["long", "short", "both"])
@pytest.mark.parametrize("seed", [1, 2])
def test_vectorised_equals_event_engine(name: str, params: dict, direction: str, seed: int,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # seed 1: the interpreted trade loop, seed 2: the compiled one
    kernel = _kernels._signal_trades if seed == 1 else _kernels._compile()
    monkeypatch.setattr(vector_module, "signal_kernel", lambda events: kernel)
    data = MarketData.from_frame(random_bars(1_500, seed), symbol="BTC/USDT", level="1h").with_specs(step=1e-6)
    options = {"fee": 0.001, "slippage": FixedBps(3) if seed == 1 else None}
    params = {**params, "direction": direction, "fraction": 0.9 if seed == 2 else 1.0}
    event = run_backtest(name, data, params=params, **options)
    vector = run_backtest(name, data, params=params, engine="vectorised", **options)
    assert len(event.trades) > 5
    assert_same(event, vector)


def test_equal_with_spread_impact_minimums_and_rejections() -> None:
    # a coarse step and a minimum amount make some entries fail as equity shrinks; both paths refuse the same ones
    data = MarketData.from_frame(random_bars(2_000, 7, volatility=0.03), symbol="X/USDT").with_specs(
        step=0.5, min_amount=1.0, min_cost=50.0)
    options = {"fee": 0.002, "slippage": SpreadImpact(spread_bps=5, impact=0.5), "cash": 600.0}
    params = {"fast": 3, "slow": 8, "direction": "both"}
    event = run_backtest("sma_cross", data, params=params, **options)
    vector = run_backtest("sma_cross", data, params=params, engine="vectorised", **options)
    assert (event.orders["status"] == "rejected").any() or event.orders["note"].notna().any()
    assert_same(event, vector)


def test_the_interpreted_kernel_equals_the_compiled_one(monkeypatch: pytest.MonkeyPatch) -> None:
    data = MarketData.from_frame(random_bars(1_000, 3), symbol="BTC/USDT").with_specs(step=1e-6)
    monkeypatch.setattr(vector_module, "signal_kernel", lambda events: _kernels._compile())
    compiled = run_backtest("sma_cross", data, params={"direction": "both"}, fee=0.001, engine="vectorised")
    assert _kernels._compiled is not None
    monkeypatch.setattr(vector_module, "signal_kernel", lambda events: _kernels._signal_trades)
    interpreted = run_backtest("sma_cross", data, params={"direction": "both"}, fee=0.001, engine="vectorised")
    assert_same(compiled, interpreted)


def test_what_the_vectorised_path_cannot_do_is_an_error() -> None:
    frame = random_bars(200, 1)
    two = MarketData.from_frames({"A/USDT": frame, "B/USDT": frame})
    with pytest.raises(InvalidInputError, match="it trades one symbol"):
        run_backtest("sma_cross", two, engine="vectorised")
    one = MarketData.from_frame(frame)
    with pytest.raises(InvalidInputError, match="risk limits"):
        run_backtest("sma_cross", one, engine="vectorised", risk=RiskLimits(max_drawdown=0.2))
    from tests.trader.conftest import Script

    with pytest.raises(InvalidInputError, match="has no signals"):
        run_backtest(Script(), one, engine="vectorised")
