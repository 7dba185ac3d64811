"""USDⓈ-M data through real ccxt: funding rates, premium index, open interest (with Binance's 30-day window)."""

from __future__ import annotations

import ccxt
import pytest

from tests.sim.conftest import DAY, HOUR, NOW
from zvt_crypto.sim import SimulatedExchange

EIGHT_HOURS = 8 * HOUR


def test_funding_rate_history(usdm: ccxt.binanceusdm) -> None:
    rows = usdm.fetch_funding_rate_history("BTC/USDT:USDT", since=NOW - 3 * DAY, limit=100)
    assert [r["timestamp"] for r in rows] == list(range(NOW - 3 * DAY, NOW + 1, EIGHT_HOURS))  # 00, 08, 16 UTC
    assert all(-0.0075 <= r["fundingRate"] <= 0.0075 and r["fundingRate"] != 0 for r in rows)
    mark = usdm.fetch_mark_ohlcv("BTC/USDT:USDT", "1m", since=rows[1]["timestamp"], limit=1)[0]
    assert float(rows[1]["info"]["markPrice"]) == mark[1]  # the mark price at funding time
    latest = usdm.fetch_funding_rate_history("BTC/USDT:USDT", limit=2)
    assert [r["timestamp"] for r in latest] == [NOW - EIGHT_HOURS, NOW]
    first = usdm.fetch_funding_rate_history("ETH/USDT:USDT", since=0, limit=2)
    assert first[0]["timestamp"] == usdm.markets["ETH/USDT:USDT"]["created"]  # listed at 00:00


def test_current_funding_rate_and_open_interest(usdm: ccxt.binanceusdm) -> None:
    current = usdm.fetch_funding_rate("BTC/USDT:USDT")
    assert current["fundingTimestamp"] == NOW + EIGHT_HOURS and current["timestamp"] == NOW
    assert abs(current["markPrice"] / current["indexPrice"] - 1) < 0.002
    interest = usdm.fetch_open_interest("BTC/USDT:USDT")
    assert interest["openInterestAmount"] > 0 and interest["timestamp"] == NOW


def test_open_interest_history(usdm: ccxt.binanceusdm, sim: SimulatedExchange) -> None:
    since = NOW - 2 * DAY
    rows = usdm.fetch_open_interest_history("BTC/USDT:USDT", "1h", since=since, limit=48)
    assert int(sim.requests[-1].params["endTime"]) == since + 48 * HOUR  # ccxt adds endTime from the limit
    assert [r["timestamp"] for r in rows] == list(range(since, since + 48 * HOUR, HOUR))
    five = usdm.fetch_open_interest_history("BTC/USDT:USDT", "5m", since=since, limit=13)
    assert five[12]["openInterestAmount"] == rows[1]["openInterestAmount"]  # one series, sampled per period
    mark = usdm.fetch_mark_ohlcv("BTC/USDT:USDT", "1m", since=since, limit=1)[0][1]
    assert rows[0]["openInterestValue"] == pytest.approx(rows[0]["openInterestAmount"] * mark, rel=1e-12)
    latest = usdm.fetch_open_interest_history("BTC/USDT:USDT", "5m")
    assert len(latest) == 30 and latest[-1]["timestamp"] == NOW  # Binance's default limit
    assert len(usdm.fapiDataGetOpenInterestHist({"symbol": "BTCUSDT", "period": "5m", "limit": 900})) == 500


def test_open_interest_history_only_covers_30_days(usdm: ccxt.binanceusdm) -> None:
    with pytest.raises(ccxt.BadRequest, match="startTime"):
        usdm.fetch_open_interest_history("BTC/USDT:USDT", "1d", since=NOW - 31 * DAY)
    rows = usdm.fetch_open_interest_history("BTC/USDT:USDT", "1d", limit=500)
    assert rows[0]["timestamp"] == NOW - 30 * DAY and len(rows) == 31
    with pytest.raises(ccxt.BadRequest):
        usdm.fetch_open_interest_history("BTC/USDT:USDT", "3m")  # not an openInterestHist period
    with pytest.raises(ccxt.BadRequest):
        usdm.fetch_open_interest_history("BTC/USDT:USDT", "1m")  # refused by ccxt itself


def test_mark_price_endpoints_move_with_the_clock(usdm: ccxt.binanceusdm, sim: SimulatedExchange) -> None:
    before = usdm.fetch_funding_rate("ETH/USDT:USDT")["markPrice"]
    sim.advance(600)  # ten minutes
    assert usdm.fetch_funding_rate("ETH/USDT:USDT")["markPrice"] != before
