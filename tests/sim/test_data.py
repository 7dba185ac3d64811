"""The deterministic data engine without HTTP: exact aggregation at every Binance interval, OHLC consistency,
continuity, contiguous trade ids, partial bars and outages."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.sim.conftest import DAY, MINUTE, NOW
from zvt_crypto.sim.data import Bars, MarketData, aggregate
from zvt_crypto.sim.intervals import INTERVALS
from zvt_crypto.sim.markets import default_markets, resolve


@pytest.fixture(scope="module")
def eth() -> MarketData:
    return MarketData(resolve(default_markets()[1]), seed=7)


@pytest.fixture(scope="module")
def eth_1m(eth: MarketData) -> Bars:
    return eth.klines("last", INTERVALS["1m"], 0, None, 10**7, NOW)


def test_every_interval_is_the_exact_aggregation_of_1m(eth: MarketData, eth_1m: Bars) -> None:
    assert eth_1m.open_time[0] == eth.market.listed_ms and eth_1m.open_time[-1] == NOW
    for name, interval in INTERVALS.items():
        venue = eth.klines("last", interval, None, None, 10**6, NOW)
        ours = aggregate(eth_1m, interval.floor_array(eth_1m.open_time))
        for field in dataclasses.fields(Bars):
            assert np.array_equal(getattr(venue, field.name), getattr(ours, field.name)), (name, field.name)


@pytest.mark.parametrize("kind", ["last", "mark", "index"])
def test_ohlc_consistent_positive_and_continuous(eth: MarketData, kind: str) -> None:
    bars = eth.klines(kind, INTERVALS["1m"], 0, None, 10**7, NOW)
    assert (bars.low > 0).all() and (bars.low <= np.minimum(bars.open, bars.close)).all()
    assert (bars.high >= np.maximum(bars.open, bars.close)).all()
    assert (bars.open[1:] == bars.close[:-1]).all()  # across UTC midnights too
    assert (np.diff(bars.open_time) == MINUTE).all()


def test_trade_ids_are_contiguous_across_days(eth: MarketData) -> None:
    day = NOW // DAY - 2
    ids = np.concatenate([eth.day_trades(d).id for d in (day, day + 1)])
    assert (np.diff(ids) == 1).all()
    start = int(eth.day_trades(day).id[-5])  # the page crosses midnight
    assert eth.trades_from_id(start, 10, NOW).id.tolist() == list(range(start, start + 10))


def test_spot_and_perp_share_the_day_walk() -> None:
    markets = {spec.symbol: MarketData(resolve(spec), seed=7) for spec in default_markets()}
    spot, perp = markets["BTC/USDT"], markets["BTC/USDT:USDT"]
    day = INTERVALS["1d"]
    a = spot.klines("last", day, None, None, 20, NOW).open / 100  # ticks of 0.01 and 0.1
    b = perp.klines("last", day, None, None, 20, NOW).open / 10
    assert np.allclose(a, b, rtol=1e-5)


def test_partial_bar_and_gap(eth: MarketData) -> None:
    minute = INTERVALS["1m"]
    half = eth.klines("last", minute, NOW - MINUTE, None, 1, NOW - 30_000)
    full = eth.klines("last", minute, NOW - MINUTE, None, 1, NOW)
    assert half.open[0] == full.open[0] and half.volume[0] <= full.volume[0] and half.count[0] < full.count[0]
    gap = [(NOW - 10 * MINUTE, NOW - 5 * MINUTE)]
    bars = eth.klines("last", minute, None, None, 20, NOW, gap)
    assert len(bars) == 20 and not ((bars.open_time >= gap[0][0]) & (bars.open_time < gap[0][1])).any()
    trades = eth.trades_between(NOW - 20 * MINUTE, NOW, 10**6, NOW, gap)
    assert len(trades) and not ((trades.time >= gap[0][0]) & (trades.time < gap[0][1])).any()
