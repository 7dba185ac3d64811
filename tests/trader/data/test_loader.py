"""The loader: MarketData read from the store in a few queries (SQLite and PostgreSQL), fingerprinted, market specs
and fees."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar, CryptoPair, CryptoPerp, FundingRate
from zvt_crypto.trader import MarketData, load_market_data, run_backtest
from zvt_crypto.trader.data.loader import market_specs

PAIR, PERP = "BTC/USDT", "ETH/USDT:USDT"
PAIR_ID, PERP_ID = "pair_binance_BTC-USDT", "perp_binance_ETH-USDT.USDT"


def fill_store(store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    store.write(Bar, bars(PAIR_ID, n=48, seed=1))
    eth = bars(PERP_ID, n=48, seed=2)
    store.write(Bar, eth[eth.index != 5])  # one missing bar
    store.write(CryptoPair, pd.DataFrame([{
        "entity_id": PAIR_ID, "entity_type": "pair", "exchange": "binance", "symbol": PAIR, "base": "BTC",
        "quote": "USDT", "precision_amount": 0.00001, "min_amount": 0.0001, "min_cost": 5.0, "maker_fee": 0.0002,
        "taker_fee": 0.0004}]))
    store.write(CryptoPerp, pd.DataFrame([{
        "entity_id": PERP_ID, "entity_type": "perp", "exchange": "binance", "symbol": PERP, "base": "ETH",
        "quote": "USDT", "settle": "USDT", "contract_size": 0.1, "linear": True, "taker_fee": 0.0005}]))
    start = pd.Timestamp("2024-01-01", tz="UTC")
    store.write(FundingRate, pd.DataFrame({
        "entity_id": PERP_ID, "timestamp": [start + pd.Timedelta(hours=h) for h in (0, 8, 16, 24, 32, 40, 48)],
        "funding_rate": [0.0001, 0.0002, -0.0001, 0.0003, 0.0001, 0.0002, 0.0001],
        "mark_price": [None, 101.0, None, 102.0, None, 103.0, None]}))


def test_load_market_data_from_the_store(store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    fill_store(store, bars)
    data = load_market_data(exchange="binance", symbols=[PAIR, PERP], level="1h", store=store)
    assert data.symbols == [PAIR, PERP] and data.n_bars == 48 and data.level == "1h"
    pair, perp = data.specs
    assert (pair.step, pair.min_amount, pair.min_cost, pair.maker_fee, pair.taker_fee, pair.perp) == (
        0.00001, 0.0001, 5.0, 0.0002, 0.0004, False)
    assert (perp.perp, perp.contract_size, perp.taker_fee, perp.maker_fee) == (True, 0.1, 0.0005, None)
    assert np.isnan(data.close[5, 1]) and not np.isnan(data.close[5, 0])
    expected = bars(PAIR_ID, n=48, seed=1)
    np.testing.assert_array_equal(data.close[:, 0], expected["close"].to_numpy())
    # funding at 08:00, 16:00, 24:00, 32:00, 40:00 fall on bars 8 … 40; 00:00 is the first bar (nothing held yet)
    assert data.funding.bar.tolist() == [8, 16, 24, 32, 40]
    assert np.isnan(data.funding.mark[0]) or data.funding.mark[0] == 101.0
    assert data.funding.mark.tolist()[::2] == [101.0, 102.0, 103.0]
    window = load_market_data(exchange="binance", symbols=[PAIR], level="1h", start="2024-01-01T10:00",
                              end="2024-01-01T19:00", store=store)
    assert window.n_bars == 10 and window.source.start == data.timestamps[10]


def test_same_inputs_same_fingerprint_and_results(sqlite_store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    fill_store(sqlite_store, bars)
    load = lambda: load_market_data(exchange="binance", symbols=[PAIR, PERP], level="1h",  # noqa: E731
                                    store=sqlite_store)
    first, again = load(), load()
    assert first.fingerprint == again.fingerprint and len(first.fingerprint) == 32
    one = run_backtest("sma_cross", first, params={"fast": 3, "slow": 8, "direction": "both"})
    two = run_backtest("sma_cross", again, params={"fast": 3, "slow": 8, "direction": "both"})
    assert one.metrics == two.metrics and one.fingerprint == two.fingerprint
    changed = bars(PAIR_ID, n=48, seed=1)
    changed.loc[47, "close"] = changed.loc[47, "close"] * 1.0001
    sqlite_store.write(Bar, changed)
    assert load().fingerprint != first.fingerprint


def test_an_empty_range_names_the_range_and_what_is_stored(sqlite_store: Store,
                                                           bars: Callable[..., pd.DataFrame]) -> None:
    fill_store(sqlite_store, bars)
    with pytest.raises(InvalidInputError) as raised:
        load_market_data(exchange="binance", symbols=[PAIR], level="1h", start="2025-01-01", store=sqlite_store)
    message = str(raised.value)
    assert "no 1h bars of BTC/USDT on binance between 2025-01-01T00:00:00Z and the end" in message
    assert "pair_binance_BTC-USDT 1h: 2024-01-01T00:00:00Z … 2024-01-02T23:00:00Z (48 bars)" in message
    with pytest.raises(InvalidInputError, match=r"DOGE/USDT.*no bars at any level"):
        load_market_data(exchange="binance", symbols=["DOGE/USDT"], level="1h", store=sqlite_store)
    with pytest.raises(InvalidInputError, match="start 2024-02-01T00:00:00Z is after end"):
        load_market_data(exchange="binance", symbols=[PAIR], level="1h", start="2024-02-01", end="2024-01-01",
                         store=sqlite_store)
    with pytest.raises(InvalidInputError, match="unknown level"):
        load_market_data(exchange="binance", symbols=[PAIR], level="3h", store=sqlite_store)


def test_fees_come_from_the_market_else_the_venue_default_else_a_refusal(
        sqlite_store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    """Imported bars have no market row, so no fee data: the venue's published default (ccxt's static fee table)
    is charged and named; a venue ccxt has no table for is refused rather than traded for free."""
    fill_store(sqlite_store, bars)
    sqlite_store.write(Bar, bars(entity_id("binance", "SOL/USDT"), n=48, seed=5))
    sqlite_store.write(Bar, bars(entity_id("binanceusdm", "XRP/USDT:USDT"), n=48, seed=6))
    sqlite_store.write(Bar, bars(entity_id("somevenue", "GOOG/USD"), n=48, seed=7))
    data = load_market_data(exchange="binance", symbols=[PAIR, PERP, "SOL/USDT"], level="1h", store=sqlite_store)
    pair, perp, sol = data.specs
    assert (pair.fee_source, perp.fee_source) == ("market", "market")
    assert (sol.maker_fee, sol.taker_fee, sol.fee_source) == (0.001, 0.001, "ccxt binance default")
    (xrp,) = market_specs("binanceusdm", ["XRP/USDT:USDT"], store=sqlite_store)
    assert (xrp.maker_fee, xrp.taker_fee, xrp.fee_source) == (0.0002, 0.0005, "ccxt binanceusdm linear default")

    params = {"fast": 3, "slow": 8, "direction": "both"}
    solo = load_market_data(exchange="binance", symbols=["SOL/USDT"], level="1h", store=sqlite_store)
    result = run_backtest("sma_cross", solo, params=params)
    assert result.settings["fees"] == {"SOL/USDT": {"maker": 0.001, "taker": 0.001,
                                                    "source": "ccxt binance default"}}
    assert result.metrics["n_trades"] > 0
    filled = result.orders.dropna(subset=["fill_price"])
    notional = (filled["filled_size"].abs() * filled["fill_price"]).sum()
    assert result.metrics["fees_paid"] == pytest.approx(0.001 * notional) and notional > 0
    mixed = run_backtest("sma_cross", data, params=params)
    assert mixed.settings["fees"]["BTC/USDT"] == {"maker": 0.0002, "taker": 0.0004, "source": "market"}
    assert mixed.settings["fees"][PERP] == {"maker": 0.0005, "taker": 0.0005, "source": "market"}

    unknown = load_market_data(exchange="somevenue", symbols=["GOOG/USD"], level="1h", store=sqlite_store)
    assert unknown.specs[0].taker_fee is None
    with pytest.raises(InvalidInputError, match=r"no fee known for GOOG/USD on somevenue.*--fee 0\.001"):
        run_backtest("sma_cross", unknown, params=params)
    given = run_backtest("sma_cross", unknown, params=params, fee=0.002)
    assert given.settings["fees"] == {"GOOG/USD": {"maker": 0.002, "taker": 0.002, "source": "--fee"}}
    # a frame without a venue: nothing to look up, 0 charged, and said so
    frame = run_backtest("sma_cross", MarketData.from_frame(solo.bars(0)), params=params)
    assert frame.settings["fees"]["ASSET"]["source"].startswith("none given") and frame.metrics["fees_paid"] == 0
