"""The fill rules, case by case, against numbers computed by hand (docs/execution.md)."""

from __future__ import annotations

import pytest

from tests.trader.conftest import Script, market
from zvt_crypto.trader import FixedBps, SpreadImpact, run_backtest
from zvt_crypto.trader.fills import first_reach, floor_to_step, liquidation_price, path

FLAT = (100.0, 101.0, 99.0, 100.0)
UP = (102.0, 105.0, 101.0, 104.0)  # low is nearer the open: path 102 → 101 → 105 → 104
ON = (106.0, 107.0, 105.0, 106.0)
CASH = 10_000.0


def run(rows, actions, **kwargs):
    spec = {k: kwargs.pop(k) for k in ("step", "min_amount", "min_cost", "perp", "contract_size", "maker_fee",
                                        "taker_fee") if k in kwargs}
    data = market(rows, volume=kwargs.pop("volume", 100.0), funding=kwargs.pop("funding", None), **spec)
    return run_backtest(Script(actions=actions), data, cash=kwargs.pop("cash", CASH), **kwargs)


def buy(**kw):
    return lambda s: s.buy(**kw)


def sell(**kw):
    return lambda s: s.sell(**kw)


def close():
    return lambda s: s.close()


def test_market_orders_fill_at_the_next_open_with_taker_fees() -> None:
    result = run([FLAT, UP, ON], {0: [buy(size=1.0)], 1: [close()]}, fee=(0.0005, 0.001))
    trade = result.trades.iloc[0]
    assert (trade["entry_bar"], trade["exit_bar"]) == (1, 2)
    assert (trade["entry_price"], trade["exit_price"]) == (102.0, 106.0)
    assert trade["fees"] == pytest.approx(0.102 + 0.106)
    assert trade["pnl"] == pytest.approx(4.0 - 0.208)
    assert result.final_equity == pytest.approx(CASH + 3.792)
    assert result.metrics["fees_paid"] == pytest.approx(0.208)
    assert result.metrics["n_trades"] == 1


def test_fees_default_to_the_market_specs() -> None:
    result = run([FLAT, UP, ON], {0: [buy(size=1.0)], 1: [close()]}, maker_fee=0.0002, taker_fee=0.0004)
    assert result.trades["fees"].iloc[0] == pytest.approx(0.0004 * (102 + 106))


def test_fixed_bps_slippage_is_paid_on_both_sides() -> None:
    result = run([FLAT, UP, ON], {0: [buy(size=1.0)], 1: [close()]}, fee=0.0, slippage=FixedBps(10))
    trade = result.trades.iloc[0]
    assert trade["entry_price"] == pytest.approx(102 * 1.001)
    assert trade["exit_price"] == pytest.approx(106 * 0.999)
    assert trade["pnl"] == pytest.approx(106 * 0.999 - 102 * 1.001)


def test_spread_impact_grows_with_the_share_of_bar_volume() -> None:
    # 10 units of a bar that traded 100: half the 2 bp spread + 0.1 × 10 % = 1.01 %
    result = run([FLAT, UP, ON], {0: [buy(size=10.0)]}, fee=0.0, slippage=SpreadImpact(spread_bps=2, impact=0.1))
    assert result.open_trades["entry_price"].iloc[0] == pytest.approx(102 * (1 + 1e-4 + 0.01))
    result = run([FLAT, UP, ON], {0: [buy(size=500.0)]}, fee=0.0, cash=1e6,
                 slippage=SpreadImpact(spread_bps=0, impact=0.1))  # participation capped at 100 %
    assert result.open_trades["entry_price"].iloc[0] == pytest.approx(102 * 1.1)


def test_short_pnl_and_equity() -> None:
    result = run([FLAT, UP, ON], {0: [sell(size=2.0)], 1: [close()]}, fee=0.001)
    trade = result.trades.iloc[0]
    assert trade["side"] == "short"
    assert trade["pnl"] == pytest.approx((102 - 106) * 2 - 0.001 * 2 * (102 + 106))
    assert result.equity["equity"].iloc[1] == pytest.approx(CASH - 0.001 * 204 + (102 - 104) * 2)  # marked at close
    assert result.final_equity == pytest.approx(CASH + trade["pnl"])


def test_all_in_buy_sizes_like_backtesting_py() -> None:
    result = run([FLAT, UP, ON], {0: [buy()]}, fee=0.001, step=1e-8)
    size = result.open_trades["size"].iloc[0]
    assert size == floor_to_step(CASH / (102 * 1.001), 1e-8)
    assert CASH - size * 102 * 1.001 < 102 * 1e-8 * 2  # all the cash but less than one step


def test_sizes_are_rounded_down_to_the_step_and_checked_against_minimums() -> None:
    result = run([FLAT, UP, ON], {0: [buy(size=0.129)]}, step=0.01)
    assert result.open_trades["size"].iloc[0] == 0.12
    result = run([FLAT, UP, ON], {0: [buy(size=0.3)]}, min_amount=0.5)
    order = result.orders.iloc[0]
    assert order["status"] == "rejected" and "below the minimum amount 0.5" in order["note"]
    assert result.trades.empty and result.open_trades.empty
    result = run([FLAT, UP, ON], {0: [buy(value=5.0)]}, min_cost=10.0)
    assert "below the minimum cost 10" in result.orders.iloc[0]["note"]
    result = run([FLAT, UP, ON], {0: [buy(size=200.0)]})  # 20,400 of notional with 10,000 of cash
    assert "insufficient margin" in result.orders.iloc[0]["note"]


def test_limit_orders_fill_at_their_price_or_better_on_a_gap_with_maker_fees() -> None:
    result = run([FLAT, UP, ON], {0: [buy(size=1.0, limit=101.5)]}, fee=(0.0002, 0.001))
    entry = result.open_trades.iloc[0]
    assert entry["entry_price"] == 101.5 and entry["fees"] == pytest.approx(101.5 * 0.0002)
    result = run([FLAT, UP, ON], {0: [buy(size=1.0, limit=103.0)]})  # the open is already below the limit
    assert result.open_trades["entry_price"].iloc[0] == 102.0
    result = run([FLAT, UP, ON], {0: [buy(size=1.0, limit=90.0)]})  # never reached: still pending
    assert result.orders["status"].tolist() == ["pending"] and result.open_trades.empty


def test_stop_orders_fill_at_the_stop_or_at_a_gapped_open_with_slippage() -> None:
    result = run([FLAT, UP, ON], {0: [buy(size=1.0, stop=104.0)]}, fee=0.0, slippage=FixedBps(10))
    assert result.open_trades["entry_price"].iloc[0] == pytest.approx(104 * 1.001)
    result = run([FLAT, UP, ON], {0: [buy(size=1.0, stop=101.0)]}, fee=0.0)  # gap above the stop: the open
    assert result.open_trades["entry_price"].iloc[0] == 102.0


def test_stop_limit_becomes_a_limit_order_when_the_stop_is_reached() -> None:
    result = run([FLAT, UP, ON], {0: [buy(size=1.0, stop=104.0, limit=104.5)]})
    assert result.open_trades["entry_price"].iloc[0] == 104.0
    gap = (104.0, 105.0, 102.0, 103.0)  # opens above the stop and the limit, comes back to the limit
    result = run([FLAT, gap, ON], {0: [buy(size=1.0, stop=103.0, limit=102.5)]}, fee=(0.0002, 0.001))
    entry = result.open_trades.iloc[0]
    assert entry["entry_price"] == 102.5 and entry["fees"] == pytest.approx(102.5 * 0.0002)  # rested: maker
    never = (104.0, 105.0, 103.5, 104.0)  # triggered but the limit is never reached: a limit order from then on
    result = run([FLAT, never, (103.0, 103.0, 102.0, 102.5)], {0: [buy(size=1.0, stop=103.0, limit=102.5)]})
    assert result.open_trades["entry_bar"].iloc[0] == 2 and result.open_trades["entry_price"].iloc[0] == 102.5


def test_stop_loss_wins_when_stop_loss_and_take_profit_are_both_reached_in_one_bar() -> None:
    wide = (100.0, 106.0, 91.0, 100.0)  # the high is nearer the open: the path reaches the take-profit first
    result = run([FLAT, FLAT, wide, FLAT], {0: [buy(size=1.0, sl=92.0, tp=105.0)]}, fee=0.0)
    trade = result.trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_price"], trade["exit_bar"]) == ("sl", 92.0, 2)


def test_take_profit_and_stop_loss_alone() -> None:
    result = run([FLAT, FLAT, (100.0, 106.0, 99.0, 105.0)], {0: [buy(size=1.0, sl=92.0, tp=105.0)]},
                 fee=(0.0002, 0.001))
    trade = result.trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_price"]) == ("tp", 105.0)
    assert trade["fees"] == pytest.approx(100 * 0.001 + 105 * 0.0002)  # take-profit: a maker fill
    gap = (90.0, 91.0, 89.0, 90.0)  # gaps through the stop: filled at the open
    result = run([FLAT, FLAT, gap], {0: [buy(size=1.0, sl=92.0)]}, fee=0.0)
    assert (result.trades["exit_reason"].iloc[0], result.trades["exit_price"].iloc[0]) == ("sl", 90.0)


def test_a_stop_attached_to_a_market_entry_watches_the_entry_bar_too() -> None:
    result = run([FLAT, (100.0, 101.0, 94.0, 95.0), FLAT], {0: [buy(size=1.0, sl=95.0)]}, fee=0.0)
    trade = result.trades.iloc[0]
    assert (trade["entry_bar"], trade["exit_bar"], trade["exit_price"]) == (1, 1, 95.0)


def test_trailing_stop_follows_the_best_close_of_bar_extremes() -> None:
    rows = [FLAT, (100.0, 120.0, 99.0, 118.0), (115.0, 116.0, 107.0, 110.0), FLAT]
    result = run(rows, {0: [buy(size=1.0, trail=0.1)]}, fee=0.0)
    trade = result.trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_bar"]) == ("trail", 2)
    assert trade["exit_price"] == pytest.approx(120 * 0.9)


def test_orders_on_a_bar_the_symbol_does_not_have_wait_for_its_next_bar() -> None:
    import numpy as np

    from zvt_crypto.trader import MarketData

    frame_a = market([FLAT, UP, ON, ON]).bars(0)
    frame_b = frame_a.drop(frame_a.index[1])  # B has no bar 1
    data = MarketData.from_frames({"A/USDT": frame_a, "B/USDT": frame_b})
    assert np.isnan(data.open[1, 1])
    result = run_backtest(Script(actions={0: [lambda s: s.buy("B/USDT", size=1.0)]}), data, fee=0.0)
    assert result.open_trades["entry_bar"].iloc[0] == 2


def test_reversal_closes_then_opens_with_the_margin_left() -> None:
    result = run([FLAT, UP, ON, ON], {0: [buy(size=1.0)], 1: [sell()]}, fee=0.0, step=1e-8)
    assert result.trades["side"].tolist() == ["long"]
    opened = result.open_trades.iloc[0]
    assert opened["side"] == "short" and opened["entry_bar"] == 2
    assert opened["size"] == floor_to_step((CASH + 4.0) / 106.0, 1e-8)


def test_path_helpers() -> None:
    assert path(100, 105, 99, 104) == (100, 99, 105, 104)  # low nearer
    assert path(100, 101, 95, 96) == (100, 101, 95, 96)  # high nearer
    points = path(100, 105, 99, 104)
    assert first_reach(points, 99.5, up=False) == pytest.approx(0.5)
    assert first_reach(points, 102, up=True) == pytest.approx(1 + 3 / 6)
    assert first_reach(points, 106, up=True) is None
    assert first_reach(points, 100, up=True) == 0.0  # already there at the open
    assert first_reach(points, 104.5, up=False, after=2.0) == pytest.approx(2.5)
    assert liquidation_price(100.0, False, 10, 0.005) == pytest.approx(110 / 1.005)


def test_set_stops_moves_the_stops_of_the_open_position_and_is_a_no_op_when_flat() -> None:
    """``Position.set_stops`` (a public method nothing else tested): stops set after the entry are watched from
    the next bar, moving one replaces it, and on a flat position it does nothing."""
    dip = (100.0, 101.0, 93.0, 100.0)  # reaches 94 and 96, not 92
    rows = [FLAT, FLAT, dip, dip, FLAT]
    moved = run(rows, {0: [buy(size=1.0)], 1: [lambda s: s.position.set_stops(sl=92.0)],
                       2: [lambda s: s.position.set_stops(sl=96.0)]}, fee=0.0)
    trade = moved.trades.iloc[0]
    assert (trade["exit_reason"], trade["exit_price"], trade["exit_bar"]) == ("sl", 96.0, 3)  # 92 held on bar 2
    flat = run(rows, {0: [lambda s: s.position.set_stops(sl=99.0, tp=101.0, trail=0.01)]}, fee=0.0)
    assert flat.trades.empty and flat.open_trades.empty and flat.orders.empty
