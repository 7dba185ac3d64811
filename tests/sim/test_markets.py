"""load_markets through the real ccxt clients (sync and async): symbols, precision, limits, contract fields."""

from __future__ import annotations

import asyncio

import ccxt
import ccxt.async_support as accxt
import pytest

from tests.sim.conftest import NOW, client
from zvt_crypto.sim import SimulatedExchange


def test_spot_markets(spot: ccxt.binance, sim: SimulatedExchange) -> None:
    markets = spot.markets
    assert sorted(markets) == ["BTC/USDT", "ETH/USDT", "LUNA/USDT", "SOL/USDT"]
    btc = markets["BTC/USDT"]
    assert (btc["id"], btc["type"], btc["spot"], btc["contract"], btc["active"]) == (
        "BTCUSDT", "spot", True, False, True)
    assert btc["precision"]["price"] == 0.01 and btc["precision"]["amount"] == 0.00001
    assert btc["limits"]["amount"]["min"] == 0.00001 and btc["limits"]["cost"]["min"] == 5.0  # NOTIONAL filter
    luna = markets["LUNA/USDT"]
    assert luna["active"] is False and luna["info"]["status"] == "BREAK"
    assert luna["precision"]["price"] == 0.0001 and luna["limits"]["cost"]["min"] == 10.0  # legacy MIN_NOTIONAL
    # load_markets asks exchangeInfo once and nothing else (no sapi, no futures)
    assert sim.request_counts() == {"/api/v3/exchangeInfo": 1}


def test_usdm_markets(usdm: ccxt.binanceusdm) -> None:
    assert sorted(usdm.markets) == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    perp = usdm.markets["BTC/USDT:USDT"]
    assert (perp["type"], perp["swap"], perp["linear"], perp["inverse"], perp["settle"]) == (
        "swap", True, True, False, "USDT")
    assert perp["contractSize"] == 1.0 and perp["active"] is True and perp["expiry"] is None
    assert perp["precision"]["price"] == 0.1 and perp["precision"]["amount"] == 0.001
    assert perp["limits"]["cost"]["min"] == 100.0 and perp["limits"]["amount"]["max"] == 1000.0
    assert perp["created"] == perp["info"]["onboardDate"] == 1696204800000  # 2023-10-02


def test_universe_follows_the_simulated_clock(sim: SimulatedExchange) -> None:
    sim.set_now("2023-11-01T00:00:00Z")  # SOL lists in December; LUNA halts on 2023-11-20
    markets = client(sim).load_markets()
    assert "SOL/USDT" not in markets and markets["LUNA/USDT"]["active"] is True
    with pytest.raises(ccxt.BadSymbol):
        client(sim).publicGetKlines({"symbol": "SOLUSDT", "interval": "1m"})


def test_a_binance_client_with_every_market_type_stays_local(sim: SimulatedExchange) -> None:
    options = sim.ccxt_options("binance")
    del options["options"]["fetchMarkets"]  # spot + linear + inverse, ccxt's default
    markets = client(sim, **options).load_markets()
    assert {"BTC/USDT", "BTC/USDT:USDT"} <= set(markets)
    assert sim.count("/dapi/v1/exchangeInfo") == 1  # coin-margined: served, empty


def test_api_keys_do_not_make_load_markets_leave_the_loopback(sim: SimulatedExchange) -> None:
    # With keys, ccxt would call sapi capital/config/getall and margin/allPairs on api.binance.com.
    exchange = client(sim, apiKey="key", secret="secret")
    exchange.urls["api"]["sapi"] = "http://127.0.0.1:9/sapi/v1"  # a closed port: any call would fail
    assert len(exchange.load_markets()) == 4


def test_async_clients_load_markets(sim: SimulatedExchange) -> None:
    async def load() -> tuple[list[str], list[str], int]:
        spot = accxt.binance(sim.ccxt_options("binance"))
        usdm = accxt.binanceusdm(sim.ccxt_options("binanceusdm"))
        try:
            a, b = await asyncio.gather(spot.load_markets(), usdm.load_markets())
            return sorted(a), sorted(b), await usdm.fetch_time()
        finally:
            await spot.close()
            await usdm.close()

    spot_symbols, usdm_symbols, server_time = asyncio.run(load())
    assert spot_symbols == ["BTC/USDT", "ETH/USDT", "LUNA/USDT", "SOL/USDT"]
    assert usdm_symbols == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    assert server_time == NOW
