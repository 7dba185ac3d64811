"""Perpetual futures: leverage, funding paid and received, liquidation — hand-computed."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.trader.conftest import T0, Script, market
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader import run_backtest
from zvt_crypto.trader.fills import liquidation_price

PERP = "BTC/USDT:USDT"
FLAT = (100.0, 101.0, 99.0, 100.0)
HOUR = pd.Timedelta(hours=1)


def perp(rows, funding=None, **spec):
    return market(rows, PERP, freq="1h", funding=funding, perp=True, **spec)


def funding_rows(*rows: tuple[int, float, float | None]) -> pd.DataFrame:
    """``(bar, rate, mark)``: a payment stamped at that bar's open time."""
    return pd.DataFrame({"symbol": PERP, "timestamp": [T0 + bar * HOUR for bar, _, _ in rows],
                         "funding_rate": [rate for _, rate, _ in rows],
                         "mark_price": [mark for _, _, mark in rows]})


def test_funding_is_paid_by_longs_and_received_by_shorts_at_each_funding_time() -> None:
    rows = [FLAT, FLAT, (104.0, 105.0, 103.0, 104.0), FLAT, (90.0, 91.0, 89.0, 90.0), FLAT]
    funding = funding_rows((2, 0.0001, 102.0), (4, -0.0002, None), (5, 0.0003, 95.0))
    long = run_backtest(Script(actions={0: [lambda s: s.buy(size=2.0)], 4: [lambda s: s.close()]}),
                        perp(rows, funding), fee=0.0)
    # bar 2: 2 × 102 (the row's mark) × 0.0001 = 0.0204 paid; bar 4: 2 × 90 (no mark: the bar's open) × −0.0002
    # = 0.036 received; bar 5: the position was closed at bar 5's open — it is still held at that funding time
    paid, received, last = 2 * 102 * 0.0001, 2 * 90 * 0.0002, 2 * 95 * 0.0003
    assert long.metrics["funding_paid"] == pytest.approx(paid + last)
    assert long.metrics["funding_received"] == pytest.approx(received)
    trade = long.trades.iloc[0]
    assert trade["funding"] == pytest.approx(paid - received + last)
    assert trade["pnl"] == pytest.approx((100 - 100) * 2 - (paid - received + last))
    short = run_backtest(Script(actions={0: [lambda s: s.sell(size=2.0)], 4: [lambda s: s.close()]}),
                         perp(rows, funding), fee=0.0)
    assert short.metrics["funding_received"] == pytest.approx(paid + last)
    assert short.metrics["funding_paid"] == pytest.approx(received)
    assert short.final_equity == pytest.approx(10_000 + paid + last - received)


def test_a_position_opened_at_a_funding_bar_open_does_not_pay_it() -> None:
    funding = funding_rows((1, 0.01, 100.0))
    result = run_backtest(Script(actions={0: [lambda s: s.buy(size=1.0)]}), perp([FLAT, FLAT, FLAT], funding),
                          fee=0.0)
    assert result.metrics["funding_paid"] == 0.0


def test_leverage_multiplies_the_all_in_size() -> None:
    result = run_backtest(Script(actions={0: [lambda s: s.buy()]}), perp([FLAT, FLAT, FLAT]), fee=0.001,
                          leverage=5)
    assert result.open_trades["size"].iloc[0] == pytest.approx(10_000 * 5 / (100 * 1.001))


def test_liquidation_at_maintenance_margin_loses_the_position_margin() -> None:
    leverage, mmr = 10, 0.005
    liq = liquidation_price(100.0, True, leverage, mmr)
    assert liq == pytest.approx(100 * 0.9 / 0.995)
    rows = [FLAT, FLAT, (99.0, 99.5, 89.0, 92.0), FLAT]
    result = run_backtest(Script(actions={0: [lambda s: s.buy(size=10.0)]}), perp(rows), fee=0.0,
                          leverage=leverage, maintenance_margin=mmr)
    trade = result.trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_bar"]) == ("liquidation", 2)
    assert trade["exit_price"] == pytest.approx(liq)
    assert trade["fees"] == pytest.approx(10 * liq * mmr)  # the liquidation fee: the maintenance margin left
    margin = 10 * 100 / leverage
    assert -trade["pnl"] == pytest.approx(margin)  # isolated: the loss is exactly the position's margin
    assert result.final_equity == pytest.approx(10_000 - margin)


def test_short_liquidation_and_a_custom_liquidation_fee() -> None:
    liq = liquidation_price(100.0, False, 4, 0.01)
    rows = [FLAT, FLAT, (101.0, 130.0, 100.0, 125.0)]
    result = run_backtest(Script(actions={0: [lambda s: s.sell(size=1.0)]}), perp(rows), fee=0.0, leverage=4,
                          maintenance_margin=0.01, liquidation_fee=0.02)
    trade = result.trades.iloc[0]
    assert trade["exit_price"] == pytest.approx(liq) and trade["fees"] == pytest.approx(0.02 * liq)
    assert trade["pnl"] == pytest.approx((100 - liq) - 0.02 * liq)


def test_a_stop_loss_before_the_liquidation_price_fills_first() -> None:
    rows = [FLAT, FLAT, (99.0, 99.5, 85.0, 92.0)]
    result = run_backtest(Script(actions={0: [lambda s: s.buy(size=1.0, sl=95.0)]}), perp(rows), fee=0.0,
                          leverage=10)
    assert result.trades["exit_reason"].iloc[0] == "sl"


def test_spot_cannot_be_leveraged() -> None:
    with pytest.raises(InvalidInputError, match="spot market: it trades at leverage 1"):
        run_backtest(Script(), market([FLAT, FLAT]), leverage=3)
