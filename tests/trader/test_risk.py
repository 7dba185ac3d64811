"""Risk limits: position limits clip orders, the kill switch flattens and stops, the daily loss limit blocks new risk
until the next UTC day."""

from __future__ import annotations

import pytest

from tests.trader.conftest import Script, market
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader import MarketData, RiskLimits, run_backtest
from zvt_crypto.trader.risk import NO_LIMITS, intent_problem

FLAT = (100.0, 101.0, 99.0, 100.0)
DROP = (100.0, 100.0, 80.0, 80.0)


def test_max_position_clips_an_order_and_records_why() -> None:
    result = run_backtest(Script(actions={0: [lambda s: s.buy()]}), market([FLAT, FLAT, FLAT], step=0.001),
                          fee=0.0, risk=RiskLimits(max_position=0.5))
    assert result.open_trades["size"].iloc[0] == pytest.approx(50.0)
    assert "clipped by max_position" in result.orders["note"].iloc[0]


def test_max_gross_counts_every_symbol() -> None:
    frame = market([FLAT, FLAT, FLAT]).bars(0)
    data = MarketData.from_frames({"A/USDT:USDT": frame, "B/USDT:USDT": frame})  # perps at 2× leverage
    actions = {0: [lambda s: s.buy("A/USDT:USDT", value=6_000.0)], 1: [lambda s: s.buy("B/USDT:USDT", value=6_000.0)]}
    result = run_backtest(Script(actions=actions), data, fee=0.0, leverage=2, risk=RiskLimits(max_gross=1.0))
    sizes = result.open_trades.set_index("symbol")["size"]
    assert sizes["A/USDT:USDT"] == pytest.approx(60.0) and sizes["B/USDT:USDT"] == pytest.approx(40.0)
    assert "clipped by max_gross from 60 to 40" in result.orders["note"].iloc[1]


def test_an_order_beyond_the_margin_available_is_rejected() -> None:
    frame = market([FLAT, FLAT, FLAT]).bars(0)
    data = MarketData.from_frames({"A/USDT": frame, "B/USDT": frame})
    actions = {0: [lambda s: s.buy("A/USDT", value=6_000.0)], 1: [lambda s: s.buy("B/USDT", value=6_000.0)]}
    result = run_backtest(Script(actions=actions), data, fee=0.0)
    assert result.orders["note"].iloc[1] == "insufficient margin: needs 6000, available 4000"


def test_kill_switch_flattens_and_stops_trading() -> None:
    rows = [FLAT, FLAT, DROP, FLAT, FLAT, FLAT]
    actions = {0: [lambda s: s.buy()], 4: [lambda s: s.buy(size=1.0)]}
    result = run_backtest(Script(actions=actions), market(rows), fee=0.0, risk=RiskLimits(max_drawdown=0.1))
    trade = result.trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_bar"]) == ("kill_switch", 3)
    later = result.orders.iloc[-1]
    assert later["status"] == "rejected" and "kill switch" in later["note"]
    assert result.open_trades.empty


def test_daily_loss_limit_blocks_new_risk_until_the_next_utc_day() -> None:
    # hourly bars: the loss happens at 02:00; a buy decided at 03:00 is refused, one decided at 23:00 fills at
    # 00:00 of the next day
    rows = [FLAT] * 2 + [DROP] + [(80.0, 81.0, 79.0, 80.0)] * 30
    actions = {0: [lambda s: s.buy(size=50.0)], 2: [lambda s: s.close()], 3: [lambda s: s.buy(size=1.0)],
               23: [lambda s: s.buy(size=1.0)]}
    result = run_backtest(Script(actions=actions), market(rows, freq="1h"), fee=0.0,
                          risk=RiskLimits(daily_loss=0.05))
    orders = result.orders
    assert orders["status"].tolist() == ["filled", "filled", "rejected", "filled"]
    assert "daily loss limit" in orders["note"].iloc[2]
    assert result.open_trades["entry_bar"].iloc[0] == 24


@pytest.mark.parametrize("bad", [{"max_position": 0}, {"max_drawdown": 1.5}, {"daily_loss": -0.1}])
def test_bad_limits_are_rejected(bad: dict[str, float]) -> None:
    with pytest.raises(InvalidInputError):
        RiskLimits(**bad)


def test_an_intent_is_checked_against_the_risk_limits_and_reducing_is_always_allowed() -> None:
    limits = RiskLimits(max_position=0.5, max_gross=0.8)

    def problem(before: float, after: float, others: float = 0.0, halted: str | None = None,
                lim: RiskLimits = limits, leverage: float = 1.0) -> str | None:
        return intent_problem(lim, equity=1000, before=before, after=after, others_gross=others, leverage=leverage,
                              halted=halted)

    assert problem(0, 500) is None and problem(0, -500) is None
    assert (problem(0, 501) or "").startswith("max_position")
    assert (problem(0, 400, others=401) or "").startswith("max_gross")
    assert (problem(0, 1001, lim=NO_LIMITS) or "").startswith("insufficient margin")
    assert problem(0, 1500, lim=NO_LIMITS, leverage=2) is None
    assert (problem(0, 1500, lim=RiskLimits(max_leverage=1.2), leverage=2) or "").startswith("insufficient margin")
    assert (problem(0, 10, halted="kill switch at 2024-01-01") or "").startswith("kill switch")
    assert problem(900, 600) is None and problem(900, 0, halted="kill switch") is None  # reducing
    assert problem(300, -400) is None  # a flip within the limits is new risk, allowed
    assert (problem(300, -600) or "").startswith("max_position")
