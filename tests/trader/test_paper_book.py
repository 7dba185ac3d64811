"""A paper account's book (positions and open orders after its newest bar) equals the open trades and pending
orders of one backtest over the same bars."""

from __future__ import annotations

import pytest

from tests.trader.test_paper import backtest_of, goog_bars
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar
from zvt_crypto.trader import Strategy
from zvt_crypto.trader.paper import PaperTrader
from zvt_crypto.trader.paper_book import OPEN_ORDER_COLUMNS, POSITION_COLUMNS, account_open_orders, account_positions


class HoldAndBid(Strategy):
    """Buys half its equity at once, then keeps a buy limit far below the market (never filled: always open)."""

    warmup = 0

    def next(self) -> None:
        if self.i == 0:
            self.buy(fraction=0.5)
        elif self.i == 1:
            self.buy(size=1.0, limit=1.0)


def test_positions_and_open_orders_are_the_backtests(sqlite_store: Store) -> None:
    store = sqlite_store
    bars = goog_bars(slice(0, 60))
    store.write(Bar, bars)
    trader = PaperTrader("book", f"{__name__}:HoldAndBid", exchange="binance", symbols=["GOOG/USD"], level="1d",
                         fee=0.001, start=bars["timestamp"].iloc[10], warmup=0).create(store)
    assert account_positions("book", store).empty and list(account_positions("book", store)) == POSITION_COLUMNS
    trader.step(store)
    result, _start = backtest_of(trader, store)
    positions = account_positions("book", store)
    assert positions[["symbol", "side"]].values.tolist() == [["GOOG/USD", "long"]]
    assert positions["size"].tolist() == pytest.approx(result.open_trades["size"].tolist())
    assert positions["entry_price"].tolist() == pytest.approx(result.open_trades["entry_price"].tolist())
    assert positions["mark"].iloc[0] == pytest.approx(bars["close"].iloc[-1])  # marked at the newest close
    orders = account_open_orders("book", store)
    assert list(orders) == OPEN_ORDER_COLUMNS
    assert orders[["symbol", "side", "type", "size", "limit"]].values.tolist() == [
        ["GOOG/USD", "buy", "limit", 1.0, 1.0]]


def test_an_unknown_account_is_an_error(sqlite_store: Store) -> None:
    with pytest.raises(InvalidInputError, match="nobody"):
        account_positions("nobody", sqlite_store)


def test_the_backlog_counts_the_stored_bars_not_processed_yet(sqlite_store: Store) -> None:
    from zvt_crypto.trader.paper_book import account_backlog

    store = sqlite_store
    bars = goog_bars(slice(0, 60))
    stamps = [int(stamp.value // 1_000_000) for stamp in bars["timestamp"]]
    store.write(Bar, bars.iloc[:40])
    trader = PaperTrader("lagging", "sma_cross", {"fast": 3, "slow": 8}, exchange="binance", symbols=["GOOG/USD"],
                         level="1d", fee=0.001, start=stamps[10], warmup=10).create(store)
    assert account_backlog("lagging", store) == (stamps[39], 30)  # never stepped: bars 10..39
    trader.step(store, until=stamps[29])
    assert account_backlog("lagging", store) == (stamps[39], 10)
    store.write(Bar, bars.iloc[40:])
    assert account_backlog("lagging", store) == (stamps[59], 30)
    trader.step(store)
    assert account_backlog("lagging", store) == (stamps[59], 0)
