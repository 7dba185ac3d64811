"""Markets recorded by the real ccxt client from the simulated Binance: pairs, perps, delistings, universes."""

from __future__ import annotations

from pathlib import Path

import ccxt
import pandas as pd
import pytest

from zvt_crypto.contract.config import Config, load_config
from zvt_crypto.contract.registry import recorder_for
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import CryptoAsset, CryptoPair, CryptoPerp
from zvt_crypto.domain.universe import get_entities
from zvt_crypto.recorders import BarsRecorder, MarketsRecorder, PerpMarketsRecorder
from zvt_crypto.sim import SimulatedExchange, default_markets

from .conftest import NOW

BTC, ETH, SOL, LUNA = (f"pair_binance_{base}-USDT" for base in ("BTC", "ETH", "SOL", "LUNA"))
BTC_PERP, ETH_PERP = "perp_binanceusdm_BTC-USDT.USDT", "perp_binanceusdm_ETH-USDT.USDT"


def record(store: Store, config: Config, exchange: str = "binance"):
    return MarketsRecorder(store, config).record(exchange=exchange, show_progress=False)


def utc(value: str | int) -> pd.Timestamp:
    return pd.Timestamp(value, unit="ms", tz="UTC") if isinstance(value, int) else pd.Timestamp(value, tz="UTC")


def universe(store: Store, as_of: str, kind: str = "pair", exchange: str = "binance") -> list[str]:
    return sorted(get_entities(kind, exchange=exchange, as_of=as_of, store=store)["symbol"])


def config_for(sim: SimulatedExchange, tmp_path: Path, name: str) -> Config:
    path = tmp_path / f"{name}.toml"
    path.write_text(sim.config_toml())
    return load_config(path, home=tmp_path / "home")


def test_spot_pairs_match_the_venue(sim: SimulatedExchange, sim_store: Store, sim_config: Config) -> None:
    summary = record(sim_store, sim_config)
    assert not summary.failed and summary.results[0].rows == 4, str(summary)
    assert sim.count("/api/v3/exchangeInfo") == 1
    stored = CryptoPair.query_data(exchange="binance", store=sim_store)
    assert list(stored.index) == [BTC, ETH, LUNA, SOL]
    btc = stored.loc[BTC]
    assert (btc["symbol"], btc["exchange_symbol"], btc["base"], btc["quote"], btc["entity_type"]) == (
        "BTC/USDT", "BTCUSDT", "BTC", "USDT", "pair")
    # the simulated exchangeInfo: tick 0.01, lot 0.00001 … 9000, NOTIONAL 5 (LUNA: tick 0.0001, MIN_NOTIONAL 10)
    assert (btc["precision_price"], btc["precision_amount"], btc["min_amount"], btc["max_amount"],
            btc["min_price"], btc["min_cost"]) == (0.01, 0.00001, 0.00001, 9000.0, 0.01, 5.0)
    assert (stored.loc[LUNA, "precision_price"], stored.loc[LUNA, "min_cost"]) == (0.0001, 10.0)
    assert stored.loc[ETH, "precision_amount"] == 0.0001 and stored.loc[SOL, "precision_amount"] == 0.001
    # every pair as ccxt itself reads the venue
    markets = ccxt.binance(sim.ccxt_options("binance") | {"enableRateLimit": False}).load_markets()
    for eid, row in stored.iterrows():
        market = markets[row["symbol"]]
        assert row["exchange_symbol"] == market["id"], eid
        assert (row["precision_price"], row["precision_amount"]) == (market["precision"]["price"],
                                                                    market["precision"]["amount"]), eid
        assert (row["min_amount"], row["max_amount"], row["min_cost"]) == (
            market["limits"]["amount"]["min"], market["limits"]["amount"]["max"], market["limits"]["cost"]["min"]), eid
        assert bool(row["active"]) == market["active"], eid
    # LUNA/USDT is halted (BREAK): inactive, delisted at the venue's clock of the run; the others trade
    assert not stored.loc[LUNA, "active"] and stored.loc[LUNA, "delist_timestamp"] == utc(NOW)
    assert stored.loc[[BTC, ETH, SOL], "active"].all() and stored.loc[[BTC, ETH, SOL], "delist_timestamp"].isna().all()
    assert stored["list_timestamp"].isna().all()  # Binance spot does not say when a pair listed
    # the currencies they trade (Binance serves currency details only with a key: codes from the markets)
    assets = CryptoAsset.query_data(exchange="binance", store=sim_store)
    assert list(assets["symbol"]) == ["BTC", "ETH", "LUNA", "SOL", "USDT"]
    assert list(assets.index) == [f"asset_binance_{code}" for code in assets["symbol"]]
    assert CryptoAsset.record_data(exchange="binance", store=sim_store, show_progress=False).failed == []

    sim.advance(6 * 3600)
    again = record(sim_store, sim_config)
    assert again.total("changed") == 0  # nothing new: LUNA keeps the time it was first seen gone
    assert CryptoPair.query_data(entity_ids=[LUNA], store=sim_store).loc[LUNA, "delist_timestamp"] == utc(NOW)


def test_vanished_market_is_delisted_kept_and_universes_stay_point_in_time(
        sim: SimulatedExchange, sim_store: Store, sim_config: Config, tmp_path: Path) -> None:
    record(sim_store, sim_config)
    # SOL's listing time comes from its first bar (Binance spot does not report one)
    bars = BarsRecorder(sim_store, sim_config).record(exchange="binance", symbols=["SOL/USDT"], level="1d",
                                                      show_progress=False)
    assert not bars.failed
    assert CryptoPair.query_data(entity_ids=[SOL], store=sim_store).loc[SOL, "list_timestamp"] == utc("2023-12-04")

    # two days later ETH/USDT is gone from the venue's exchangeInfo
    without_eth = [spec for spec in default_markets() if spec.symbol != "ETH/USDT"]
    with SimulatedExchange(seed=7, now="2024-01-10", markets=without_eth, lifetime=120) as later:
        summary = record(sim_store, config_for(later, tmp_path, "later"))
    assert not summary.failed and summary.results[0].rows == 3 and summary.total("changed") == 1
    stored = CryptoPair.query_data(exchange="binance", store=sim_store)
    assert list(stored.index) == [BTC, ETH, LUNA, SOL]  # the row is kept
    assert not stored.loc[ETH, "active"] and stored.loc[ETH, "delist_timestamp"] == utc("2024-01-10")
    assert stored.loc[ETH, "precision_amount"] == 0.0001  # its trading rules stay as last seen
    assert stored.loc[SOL, "list_timestamp"] == utc("2023-12-04")  # a known listing survives a venue without one

    assert universe(sim_store, "2023-11-01") == ["BTC/USDT", "ETH/USDT", "LUNA/USDT"]  # SOL lists in December
    assert universe(sim_store, "2024-01-07") == ["BTC/USDT", "ETH/USDT", "LUNA/USDT", "SOL/USDT"]
    assert universe(sim_store, "2024-01-09") == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]  # LUNA seen gone on the 8th
    assert universe(sim_store, "2024-01-11") == ["BTC/USDT", "SOL/USDT"]

    # ETH/USDT trades again two days later: live, so no longer delisted
    sim.set_now("2024-01-12")
    record(sim_store, sim_config)
    eth = CryptoPair.query_data(entity_ids=[ETH], store=sim_store).loc[ETH]
    assert eth["active"] and pd.isna(eth["delist_timestamp"])
    assert universe(sim_store, "2024-01-13") == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]


def test_perps_from_binanceusdm(sim: SimulatedExchange, sim_store: Store, sim_config: Config) -> None:
    summary = record(sim_store, sim_config, exchange="binanceusdm")
    assert not summary.failed and summary.results[0].rows == 2, str(summary)
    assert sim.count("/fapi/v1/exchangeInfo") == 1 and sim.count("/api/v3/exchangeInfo") == 0
    perps = CryptoPerp.query_data(exchange="binanceusdm", store=sim_store)
    assert list(perps.index) == [BTC_PERP, ETH_PERP]
    btc = perps.loc[BTC_PERP]
    assert (btc["symbol"], btc["exchange_symbol"], btc["base"], btc["quote"], btc["settle"]) == (
        "BTC/USDT:USDT", "BTCUSDT", "BTC", "USDT", "USDT")
    assert (btc["contract_size"], btc["linear"], btc["active"]) == (1.0, True, True)
    assert btc["list_timestamp"] == utc("2023-10-02")  # onboardDate
    assert (btc["precision_price"], btc["precision_amount"], btc["max_amount"], btc["min_cost"]) == (
        0.1, 0.001, 1000.0, 100.0)
    assert perps.loc[ETH_PERP, "min_cost"] == 20.0 and perps["delist_timestamp"].isna().all()
    assert CryptoPair.query_data(store=sim_store).empty  # perps are not pairs
    assert universe(sim_store, "2023-10-01", "perp", "binanceusdm") == []
    assert universe(sim_store, "2023-10-02", "perp", "binanceusdm") == ["BTC/USDT:USDT", "ETH/USDT:USDT"]


def test_record_data_dispatches_to_the_markets_recorder(sim: SimulatedExchange, sim_store: Store) -> None:
    assert recorder_for(CryptoPair, "binance") is MarketsRecorder
    assert recorder_for(CryptoPerp, "binanceusdm") is PerpMarketsRecorder
    # the store's own config (pointing ccxt at the simulator) is the one used
    summary = CryptoPair.record_data(exchange="binance", store=sim_store, show_progress=False)
    assert summary.schema == "markets" and not summary.failed
    assert sim.count("/api/v3/exchangeInfo") == 1
    assert sorted(CryptoPair.query_data(exchange="binance", store=sim_store)["symbol"]) == [
        "BTC/USDT", "ETH/USDT", "LUNA/USDT", "SOL/USDT"]
    perps = CryptoPerp.record_data(exchange="binanceusdm", store=sim_store, show_progress=False)
    assert perps.total("changed") == 2 + 3 and len(CryptoPerp.query_data(store=sim_store)) == 2  # + BTC, ETH, USDT
    assert sorted(CryptoAsset.query_data(exchange="binanceusdm", store=sim_store)["symbol"]) == ["BTC", "ETH", "USDT"]


@pytest.mark.parametrize("fault", ["junk", "server_error"])
def test_a_broken_markets_answer_is_retried(sim: SimulatedExchange, sim_store: Store, sim_config: Config,
                                            fault: str) -> None:
    sim.inject(fault, "/api/v3/exchangeInfo", count=1)
    summary = record(sim_store, sim_config)
    assert summary.retries == 1 and sim.count("/api/v3/exchangeInfo") == 2
    assert len(CryptoPair.query_data(exchange="binance", store=sim_store)) == 4


@pytest.mark.parametrize(("value", "mode", "expected"), [
    (0.01, ccxt.TICK_SIZE, 0.01), (2, ccxt.DECIMAL_PLACES, 0.01), (0, ccxt.DECIMAL_PLACES, 1.0),
    (4, ccxt.SIGNIFICANT_DIGITS, None), (None, ccxt.DECIMAL_PLACES, None), (0.5, None, 0.5),
])
def test_precision_becomes_a_tick_size_in_every_ccxt_precision_mode(value: float | None, mode: int | None,
                                                                     expected: float | None) -> None:
    """A stored precision is a step size: decimal places are converted, significant digits give none."""
    from zvt_crypto.recorders.markets import tick_size

    assert tick_size(value, mode) == (pytest.approx(expected) if expected is not None else None)
