"""Trades, order books and tickers through real ccxt: Binance's aggTrades windows and ids, consistency with klines."""

from __future__ import annotations

from collections import defaultdict

import ccxt
import pytest

from tests.sim.conftest import HOUR, MINUTE, NOW, client
from zvt_crypto.contract.timeutil import to_ms
from zvt_crypto.sim import SimulatedExchange

SINCE = to_ms("2024-01-06T23:30:00Z")  # the hour crosses a UTC midnight (a new day of generated trades)


def test_fetch_trades_since_is_a_one_hour_window(spot: ccxt.binance, sim: SimulatedExchange) -> None:
    trades = spot.fetch_trades("BTC/USDT", since=SINCE, limit=1000)
    sent = sim.requests[-1].params
    assert sim.requests[-1].path == "/api/v3/aggTrades"  # ccxt's default fetchTrades endpoint for binance
    assert (int(sent["startTime"]), int(sent["endTime"])) == (SINCE, SINCE + HOUR)
    stamps = [t["timestamp"] for t in trades]
    assert stamps == sorted(stamps) and SINCE <= stamps[0] and stamps[-1] <= SINCE + HOUR
    ids = [int(t["id"]) for t in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # aggregate trade ids are contiguous
    assert 200 < len(trades) < 1000  # the whole hour fits in one page here
    assert {t["side"] for t in trades} == {"buy", "sell"} and all(t["price"] > 0 and t["amount"] > 0 for t in trades)


def test_fetch_trades_paginates_with_from_id(spot: ccxt.binance) -> None:
    first = spot.fetch_trades("BTC/USDT", since=SINCE, limit=100)
    pages = [first]
    for _ in range(3):
        pages.append(spot.fetch_trades("BTC/USDT", limit=100, params={"fromId": int(pages[-1][-1]["id"]) + 1}))
    ids = [int(t["id"]) for page in pages for t in page]
    assert len(ids) == 400 and ids == list(range(ids[0], ids[0] + 400))
    with pytest.raises(ccxt.BadRequest):  # -1128: fromId cannot be combined with a time window
        spot.fetch_trades("BTC/USDT", since=SINCE, params={"fromId": ids[0]})
    with pytest.raises(ccxt.BadRequest):  # -1127: more than one hour
        spot.publicGetAggTrades({"symbol": "BTCUSDT", "startTime": SINCE, "endTime": SINCE + HOUR + 1})
    assert spot.fetch_trades("BTC/USDT", params={"fromId": 10**12}) == []


def test_trades_add_up_to_the_1m_klines(usdm: ccxt.binanceusdm) -> None:
    trades = usdm.fetch_trades("BTC/USDT:USDT", since=SINCE, limit=1000)
    klines = usdm.fapiPublicGetKlines({"symbol": "BTCUSDT", "interval": "1m", "startTime": SINCE, "limit": 60})
    per_minute: dict[int, list[dict]] = defaultdict(list)
    for trade in trades:
        per_minute[trade["timestamp"] - trade["timestamp"] % MINUTE].append(trade)
    for row in klines:
        minute = per_minute[row[0]]
        assert row[8] == len(minute)
        assert float(row[5]) == pytest.approx(sum(t["amount"] for t in minute), rel=1e-12)
        if minute:
            assert float(row[4]) == minute[-1]["price"] and float(row[2]) >= max(t["price"] for t in minute)


def test_latest_trades(spot: ccxt.binance, usdm: ccxt.binanceusdm) -> None:
    latest = spot.fetch_trades("BTC/USDT", limit=50)
    assert len(latest) == 50 and latest[-1]["timestamp"] <= NOW
    recent = spot.fetch_trades("BTC/USDT", limit=50, params={"fetchTradesMethod": "publicGetTrades"})
    assert [t["id"] for t in recent] == [t["id"] for t in latest]  # /api/v3/trades: same fills
    assert usdm.fetch_trades("ETH/USDT:USDT", limit=5)[-1]["timestamp"] <= NOW


def test_order_book(spot: ccxt.binance, usdm: ccxt.binanceusdm, sim: SimulatedExchange) -> None:
    book = spot.fetch_order_book("BTC/USDT", 10)
    bids, asks = [p for p, _ in book["bids"]], [p for p, _ in book["asks"]]
    assert len(bids) == len(asks) == 10
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    last = spot.fetch_ohlcv("BTC/USDT", "1m", limit=1)[0][4]
    assert abs(bids[0] / last - 1) < 0.001
    assert spot.fetch_order_book("BTC/USDT", 10)["bids"] == book["bids"]  # deterministic at a fixed now
    assert len(spot.fetch_order_book("BTC/USDT")["bids"]) == 100  # spot default
    assert len(usdm.fetch_order_book("BTC/USDT:USDT")["asks"]) == 500  # futures default
    assert usdm.fetch_order_book("BTC/USDT:USDT", 5)["timestamp"] == NOW
    sim.advance(1)
    assert spot.fetch_order_book("BTC/USDT", 10)["bids"] != book["bids"]


def test_tickers(spot: ccxt.binance, usdm: ccxt.binanceusdm, sim: SimulatedExchange) -> None:
    ticker = spot.fetch_ticker("BTC/USDT")
    assert ticker["last"] == spot.fetch_ohlcv("BTC/USDT", "1m", limit=1)[0][4]
    assert ticker["low"] <= ticker["last"] <= ticker["high"] and ticker["bid"] < ticker["ask"]
    assert ticker["timestamp"] == NOW and ticker["baseVolume"] > 0
    both = spot.fetch_tickers(["BTC/USDT", "ETH/USDT"])
    assert sorted(both) == ["BTC/USDT", "ETH/USDT"]
    assert set(spot.fetch_tickers()) == {"BTC/USDT", "ETH/USDT", "SOL/USDT", "LUNA/USDT"}
    assert spot.fetch_ticker("LUNA/USDT")["baseVolume"] == 0  # halted: nothing traded in 24 h
    perp = usdm.fetch_ticker("ETH/USDT:USDT")
    assert perp["last"] > 0 and perp["info"]["count"] == perp["info"]["lastId"] - perp["info"]["firstId"] + 1
    with pytest.raises(ccxt.BadSymbol):
        client(sim).publicGetTicker24hr({"symbol": "DOGEUSDT"})
