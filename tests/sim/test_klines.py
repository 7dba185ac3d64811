"""Klines through real ccxt: every level, Binance's paging rules, exactness against our own resampler, the open
bar, mark/index prices, outages and determinism."""

from __future__ import annotations

import asyncio

import ccxt
import ccxt.async_support as accxt
import numpy as np
import pandas as pd
import pytest

from tests.sim.conftest import DAY, HOUR, MINUTE, NOW, client
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.resample import resample_bars
from zvt_crypto.contract.timeutil import to_ms
from zvt_crypto.sim import SimulatedExchange

WEEK_START = to_ms("2024-01-01")  # Monday; the week ends at NOW
LEVELS = [level.value for level in Level]


def fetch_range(exchange: ccxt.Exchange, symbol: str, timeframe: str, since: int, until: int,
                params: dict | None = None) -> list[list]:
    """Own pagination (as a recorder does): pages of 1000 from ``since`` until ``until`` (exclusive)."""
    step = Level.parse(timeframe).ms
    rows: list[list] = []
    while since < until:
        page = [row for row in exchange.fetch_ohlcv(symbol, timeframe, since=since, limit=1000, params=params or {})
                if row[0] < until]
        if not page:
            break
        rows += page
        since = page[-1][0] + step
    return rows


def frame(rows: list[list], entity: str = "pair_binance_BTC-USDT") -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["timestamp", "open", "high", "low", "close", "volume"])
    df["timestamp"] = pd.to_datetime(df["timestamp"], unit="ms", utc=True)
    return df.assign(entity_id=entity).set_index(["entity_id", "timestamp"])


@pytest.fixture(scope="module")
def week_1m(shared_sim: SimulatedExchange) -> pd.DataFrame:
    exchange = client(shared_sim)
    return frame(fetch_range(exchange, "BTC/USDT", "1m", WEEK_START, NOW))


@pytest.mark.parametrize("level", LEVELS[1:])
def test_higher_klines_equal_our_resample_of_the_1m_klines(spot: ccxt.binance, week_1m: pd.DataFrame,
                                                           level: str) -> None:
    assert len(week_1m) == 7 * 1440
    ours = resample_bars(week_1m, "1m", level)
    venue = frame(fetch_range(spot, "BTC/USDT", level, WEEK_START, NOW))
    step = pd.Timedelta(milliseconds=Level.parse(level).ms)
    venue = venue[venue.index.get_level_values("timestamp") + step <= pd.Timestamp(NOW, unit="ms", tz="UTC")]
    assert len(venue)  # the complete ones: 3d's grid (from the epoch) has a bar still open at NOW
    assert list(venue.index) == list(ours.index)
    for column in ("open", "high", "low", "close"):  # selections of the same decimals: exactly equal
        assert venue[column].tolist() == ours[column].tolist(), column
    np.testing.assert_allclose(venue["volume"], ours["volume"], rtol=1e-12)  # float sums of decimal strings


def test_quote_volume_and_trade_count_aggregate_exactly(spot: ccxt.binance) -> None:
    raw_1m = spot.publicGetKlines({"symbol": "BTCUSDT", "interval": "1m", "startTime": WEEK_START, "limit": 240})
    raw_4h = spot.publicGetKlines({"symbol": "BTCUSDT", "interval": "4h", "startTime": WEEK_START, "limit": 1})
    assert len(raw_4h[0]) == 12 and all(isinstance(raw_4h[0][i], str) for i in (1, 2, 3, 4, 5, 7, 9, 10))
    assert raw_4h[0][6] == WEEK_START + 4 * HOUR - 1  # close time
    assert raw_4h[0][8] == sum(row[8] for row in raw_1m)  # trade count
    for field in (5, 7, 9, 10):  # volume, quote volume, taker buy base, taker buy quote
        assert float(raw_4h[0][field]) == pytest.approx(sum(float(row[field]) for row in raw_1m), rel=1e-12)


@pytest.mark.parametrize("level", LEVELS)
def test_without_since_the_last_bar_is_the_open_one(spot: ccxt.binance, level: str) -> None:
    rows = spot.fetch_ohlcv("BTC/USDT", level, limit=3)
    lvl = Level.parse(level)
    assert [row[0] for row in rows] == [lvl.floor(NOW) - 2 * lvl.ms, lvl.floor(NOW) - lvl.ms, lvl.floor(NOW)]
    if lvl.floor(NOW) == NOW:  # NOW is 00:00:00.000 of a Monday: every bar but 3d's has just opened
        assert rows[-1][5] == 0.0  # nothing traded yet
    else:
        assert rows[-1][5] > 0.0  # 3d's bar opened 2024-01-06 and trades since
    assert rows[-1][1] == rows[-2][4]  # continuity: open = previous close


def test_the_open_bar_changes_until_it_closes(spot: ccxt.binance, sim: SimulatedExchange) -> None:
    sim.advance(30)  # 30 s into the minute
    first = spot.fetch_ohlcv("BTC/USDT", "1m", limit=1)[0]
    hour = spot.fetch_ohlcv("BTC/USDT", "1h", limit=1)[0]
    sim.advance(90)
    later = spot.fetch_ohlcv("BTC/USDT", "1m", since=NOW, limit=2)
    assert first[0] == later[0][0] == hour[0] == NOW
    assert 0 < first[5] < later[0][5] and first[1] == later[0][1]  # more trades after 00:00:30, same open
    assert hour[5] == first[5]  # the open hour bar is the aggregation of what exists so far
    assert [row[0] for row in later] == [NOW, NOW + MINUTE]


def test_paging_rules(spot: ccxt.binance, usdm: ccxt.binanceusdm) -> None:
    raw = spot.publicGetKlines
    assert len(raw({"symbol": "BTCUSDT", "interval": "1m"})) == 500  # default limit
    assert len(raw({"symbol": "BTCUSDT", "interval": "1m", "limit": 5000})) == 1000  # spot clamps at 1000
    assert len(usdm.fapiPublicGetKlines({"symbol": "BTCUSDT", "interval": "1m", "limit": 5000})) == 1500
    # startTime inside a bar: the first bar opening at or after it; endTime bounds the open time
    rows = raw({"symbol": "BTCUSDT", "interval": "1h", "startTime": WEEK_START + 1, "endTime": WEEK_START + 3 * HOUR})
    assert [row[0] for row in rows] == [WEEK_START + HOUR, WEEK_START + 2 * HOUR, WEEK_START + 3 * HOUR]
    # endTime without startTime: the last `limit` bars up to it
    rows = raw({"symbol": "BTCUSDT", "interval": "1d", "endTime": WEEK_START, "limit": 2})
    assert [row[0] for row in rows] == [WEEK_START - DAY, WEEK_START]
    # nothing beyond the simulated now; nothing before the listing
    assert spot.fetch_ohlcv("BTC/USDT", "1m", since=NOW + MINUTE) == []
    first = spot.fetch_ohlcv("SOL/USDT", "1h", since=to_ms("2023-01-01"), limit=2)
    assert first[0][0] == to_ms("2023-12-04T08:00:00Z")
    with pytest.raises(ccxt.BadRequest):
        raw({"symbol": "BTCUSDT", "interval": "7m"})  # -1120 Invalid interval
    with pytest.raises(ccxt.BadSymbol):
        spot.fetch_ohlcv("BTC/USDT", params={"symbol": "NOPEUSDT"})


def test_delisted_pair_stops_at_the_halt(spot: ccxt.binance) -> None:
    rows = spot.fetch_ohlcv("LUNA/USDT", "1h", limit=2)
    assert rows[-1][0] == to_ms("2023-11-20T05:00:00Z")  # halted at 06:00: no bar after


def test_mark_and_index_klines(usdm: ccxt.binanceusdm, sim: SimulatedExchange) -> None:
    start = NOW - 6 * HOUR
    last = usdm.fetch_ohlcv("BTC/USDT:USDT", "1h", since=start, limit=6)
    mark = usdm.fetch_mark_ohlcv("BTC/USDT:USDT", "1h", since=start, limit=6)
    index = usdm.fetch_index_ohlcv("BTC/USDT:USDT", "1h", since=start, limit=6)
    assert sim.count("/fapi/v1/markPriceKlines") == 1 and sim.count("/fapi/v1/indexPriceKlines") == 1
    for rows in (mark, index):
        assert [row[0] for row in rows] == [row[0] for row in last]
        assert all(row[5] == 0.0 for row in rows)  # no volume on mark/index klines
        assert all(abs(a[4] / b[4] - 1) < 0.002 for a, b in zip(rows, last, strict=True))  # near the last price
        assert all(r[3] <= min(r[1], r[4]) <= max(r[1], r[4]) <= r[2] for r in rows)
    assert mark != index != last
    minutes = frame(fetch_range(usdm, "BTC/USDT:USDT", "1m", start, NOW, {"price": "mark"}))
    ours = resample_bars(minutes, "1m", "1h")
    assert ours["high"].tolist() == [row[2] for row in mark] and ours["close"].tolist() == [row[4] for row in mark]


def test_an_outage_is_missing_data(spot: ccxt.binance, sim: SimulatedExchange) -> None:
    start, end = to_ms("2024-01-05T10:00:00Z"), to_ms("2024-01-05T10:17:00Z")
    sim.add_gap(start, end, symbol="BTC/USDT")
    sim.add_gap("2024-01-05T12:00:00Z", "2024-01-05T13:00:00Z", symbol="BTC/USDT")  # a whole hour
    minutes = spot.fetch_ohlcv("BTC/USDT", "1m", since=start - 5 * MINUTE, limit=30)
    stamps = [row[0] for row in minutes]
    assert stamps[:5] == [start - 5 * MINUTE + i * MINUTE for i in range(5)] and stamps[5] == end
    assert len(minutes) == 30  # the page is filled from after the gap
    hours = spot.fetch_ohlcv("BTC/USDT", "1h", since=start, limit=3)
    assert [row[0] for row in hours] == [start, start + HOUR, start + 3 * HOUR]  # 12:00 has no bar at all
    trades = spot.fetch_trades("BTC/USDT", since=start - MINUTE, limit=1000)
    assert trades and not any(start <= t["timestamp"] < end for t in trades)
    # our resampler leaves the incomplete 10:00 hour out; the venue's own bar aggregates the 43 minutes it has
    week = frame(fetch_range(spot, "BTC/USDT", "1m", start, start + 2 * HOUR))
    assert list(resample_bars(week, "1m", "1h").index.get_level_values(1)) == [pd.Timestamp(start + HOUR,
                                                                                               unit="ms", tz="UTC")]
    assert len(client(sim).fetch_ohlcv("ETH/USDT", "1m", since=start, limit=20)) == 20  # other markets unaffected


def test_same_seed_same_data_other_seed_other_data(sim: SimulatedExchange) -> None:
    params = {"symbol": "ETHUSDT", "interval": "15m", "startTime": WEEK_START, "limit": 200}
    with SimulatedExchange(seed=7, lifetime=30) as twin, SimulatedExchange(seed=8, lifetime=30) as other:
        mine = client(sim).publicGetKlines(params)
        assert client(twin).publicGetKlines(params) == mine
        assert client(other).publicGetKlines(params) != mine
        trades = {"symbol": "ETHUSDT", "startTime": WEEK_START, "endTime": WEEK_START + HOUR}
        assert client(twin).publicGetAggTrades(trades) == client(sim).publicGetAggTrades(trades)


def test_async_fetch_ohlcv_pages(sim: SimulatedExchange) -> None:
    async def run() -> list[list]:
        exchange = accxt.binanceusdm(sim.ccxt_options("binanceusdm") | {"enableRateLimit": False})
        rows: list[list] = []
        try:
            since = WEEK_START
            while page := await exchange.fetch_ohlcv("ETH/USDT:USDT", "5m", since=since, limit=1000):
                rows += page
                since = page[-1][0] + 5 * MINUTE
            return rows
        finally:
            await exchange.close()

    rows = asyncio.run(run())
    assert [row[0] for row in rows] == list(range(WEEK_START, NOW + 1, 5 * MINUTE))  # 2016 bars + the open one
    assert sim.count("/fapi/v1/klines") == 4  # 1000 + 1000 + 17 + an empty page
