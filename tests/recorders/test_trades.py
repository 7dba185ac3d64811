"""Trades and order-book snapshots recorded by the real ccxt client from the simulated Binance spot market."""

from __future__ import annotations

import ccxt
import numpy as np
import pandas as pd

from zvt_crypto.contract.config import Config
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import OrderBookSnapshot, Trade
from zvt_crypto.recorders import OrderBookRecorder, TradesRecorder
from zvt_crypto.recorders.trades import id_hole
from zvt_crypto.sim import Fault, SimulatedExchange

from .conftest import HOUR, NOW

BTC, ETH = "pair_binance_BTC-USDT", "pair_binance_ETH-USDT"


def record(store: Store, config: Config, symbols: list[str], **options: object):
    return TradesRecorder(store, config).record(exchange="binance", symbols=symbols, show_progress=False, **options)


def stored_trades(store: Store, eid: str) -> pd.DataFrame:
    return Trade.query_data(entity_ids=[eid], store=store, index=None)


def venue_trades(sim: SimulatedExchange, symbol: str, start: int, end: int) -> pd.DataFrame:
    """The reference: every trade in ``[start, end]`` read hour by hour with the sync ccxt client."""
    client = ccxt.binance(sim.ccxt_options("binance") | {"enableRateLimit": False})
    trades: dict[str, dict] = {}
    for since in range(start, end, HOUR):
        page = client.fetch_trades(symbol, since=since, limit=1000)
        assert len(page) < 1000  # the whole hour fits in one page
        trades.update((t["id"], t) for t in page if start <= t["timestamp"] <= end)
    rows = sorted(trades.values(), key=lambda t: (t["timestamp"], int(t["id"])))
    return pd.DataFrame({"timestamp": [t["timestamp"] for t in rows], "trade_id": [t["id"] for t in rows],
                         "price": [t["price"] for t in rows], "amount": [t["amount"] for t in rows],
                         "side": [t["side"] for t in rows]})


def assert_same_trades(stored: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert len(stored) == len(reference) > 0
    assert list(stored["trade_id"]) == list(reference["trade_id"])
    np.testing.assert_array_equal(ms(stored["timestamp"]), reference["timestamp"].to_numpy())
    np.testing.assert_array_equal(stored["price"].to_numpy(), reference["price"].to_numpy())
    np.testing.assert_array_equal(stored["amount"].to_numpy(), reference["amount"].to_numpy())
    assert list(stored["side"]) == list(reference["side"])


def ms(times: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(times).as_unit("ms").asi8


def ids(frame: pd.DataFrame) -> np.ndarray:
    return frame["trade_id"].astype(np.int64).to_numpy()


def test_all_trades_since_start_equal_to_the_venue(sim: SimulatedExchange, sim_store: Store,
                                                   sim_config: Config) -> None:
    start = NOW - 3 * HOUR
    summary = record(sim_store, sim_config, ["BTC/USDT"], start=start)
    assert not summary.failed, str(summary)
    stored = stored_trades(sim_store, BTC)
    assert summary.total("changed") == len(stored) > 3 * 400  # ~8 trades a minute
    assert (np.diff(ids(stored)) == 1).all()  # the venue's trade ids are contiguous: none skipped
    # a time window for the first page, then id by id
    pages = [r.params for r in sim.requests if r.path == "/api/v3/aggTrades"]
    assert int(pages[0]["startTime"]) == start and all("fromId" in p for p in pages[1:]) and len(pages) >= 2
    assert_same_trades(stored, venue_trades(sim, "BTC/USDT", start, NOW))


def test_second_run_resumes_by_trade_id(sim: SimulatedExchange, sim_store: Store, sim_config: Config) -> None:
    record(sim_store, sim_config, ["BTC/USDT"], start=NOW - HOUR)
    before = stored_trades(sim_store, BTC)
    sim.advance(1800)
    sim.reset_requests()
    summary = record(sim_store, sim_config, ["BTC/USDT"])
    assert not summary.failed, str(summary)
    pages = [r.params for r in sim.requests if r.path == "/api/v3/aggTrades"]
    assert pages and all("fromId" in p and "startTime" not in p for p in pages)
    assert int(pages[0]["fromId"]) == ids(before)[-1] + 1
    new = venue_trades(sim, "BTC/USDT", NOW, NOW + 1800 * 1000)
    assert summary.total("rows") == summary.total("changed") == len(new) > 100  # only the new trades
    stored = stored_trades(sim_store, BTC)
    assert len(stored) == len(before) + len(new) and (np.diff(ids(stored)) == 1).all()
    assert_same_trades(stored.iloc[len(before):], new)


def test_outage_hours_do_not_end_the_run(sim: SimulatedExchange, sim_store: Store, sim_config: Config) -> None:
    start = NOW - 4 * HOUR
    sim.add_gap(start, NOW - 2 * HOUR, symbol="BTC/USDT")  # the first two hours of the range have no trade
    sim.add_gap(NOW - 3 * HOUR, NOW - 2 * HOUR, symbol="ETH/USDT")  # an hour inside the range
    summary = record(sim_store, sim_config, ["BTC/USDT", "ETH/USDT"], start=start)
    assert not summary.failed, str(summary)
    btc, eth = stored_trades(sim_store, BTC), stored_trades(sim_store, ETH)
    assert btc["timestamp"].iloc[0] >= pd.Timestamp(NOW - 2 * HOUR, unit="ms", tz="UTC")
    assert btc["timestamp"].iloc[-1] >= pd.Timestamp(NOW - 60_000, unit="ms", tz="UTC")  # up to the last minute
    assert_same_trades(btc, venue_trades(sim, "BTC/USDT", start, NOW))
    eth_times = ms(eth["timestamp"])
    assert (eth_times < NOW - 3 * HOUR).sum() > 100 and (eth_times >= NOW - 2 * HOUR).sum() > 200
    assert not ((eth_times >= NOW - 3 * HOUR) & (eth_times < NOW - 2 * HOUR)).any()
    assert_same_trades(eth, venue_trades(sim, "ETH/USDT", start, NOW))


def test_order_book_snapshot(sim: SimulatedExchange, sim_store: Store, sim_config: Config) -> None:
    summary = OrderBookRecorder(sim_store, sim_config).record(exchange="binance", symbols=["BTC/USDT"], depth=5,
                                                              show_progress=False)
    assert not summary.failed and summary.total("changed") == 1, str(summary)
    assert [int(r.params["limit"]) for r in sim.requests if r.path == "/api/v3/depth"] == [5]
    snapshots = OrderBookSnapshot.query_data(entity_ids=[BTC], store=sim_store, index=None)
    assert len(snapshots) == 1
    row = snapshots.iloc[0]
    assert row["timestamp"] == pd.Timestamp(NOW, unit="ms", tz="UTC")  # Binance spot books carry no time: venue's
    assert row["depth"] == 5 and len(row["bids"]) == 5 and len(row["asks"]) == 5
    bids, asks = np.array(row["bids"]), np.array(row["asks"])
    assert row["best_bid"] == bids[0, 0] < row["best_ask"] == asks[0, 0]
    assert (np.diff(bids[:, 0]) < 0).all() and (np.diff(asks[:, 0]) > 0).all() and (bids[:, 1] > 0).all()
    reference = ccxt.binance(sim.ccxt_options("binance") | {"enableRateLimit": False}).fetch_order_book("BTC/USDT", 5)
    assert bids.tolist() == [level[:2] for level in reference["bids"]]
    assert asks.tolist() == [level[:2] for level in reference["asks"]]


def test_duplicated_rows_lose_no_trade(sim: SimulatedExchange, sim_store: Store, sim_config: Config) -> None:
    """Every page starts with its first rows twice: ccxt would keep only the last ``limit`` rows of the longer
    answer and lose the first trades of each page asked by id, again on every rerun."""
    start = NOW - 6 * HOUR
    sim.faults.add(Fault("duplicate", "/api/v3/aggTrades", rows=5, count=None))
    summary = record(sim_store, sim_config, ["BTC/USDT"], start=start)
    assert not summary.failed, str(summary)
    pages = [r.params for r in sim.requests if r.path == "/api/v3/aggTrades"]
    assert sum("fromId" in p for p in pages) >= 2  # several pages asked by id
    stored = stored_trades(sim_store, BTC)
    assert (np.diff(ids(stored)) == 1).all()
    sim.faults.clear()
    assert_same_trades(stored, venue_trades(sim, "BTC/USDT", start, NOW))
    assert summary.total("changed") == len(stored)


def test_id_hole() -> None:
    def page(*trade_ids: int) -> list[dict]:
        return [{"id": str(i), "timestamp": 1_700_000_000_000 + i, "price": 1.0, "amount": 1.0} for i in trade_ids]

    assert id_hole(page(100, 100, 101, 102), 100) is None  # duplicates are harmless
    assert id_hole(page(7, 8), None) is None and id_hole([], 100) is None
    assert id_hole(page(103, 104), 100) == (100, 102)  # does not start at the id asked for
    assert id_hole(page(100, 101, 104, 105, 107), 100) == (102, 103)
    assert id_hole(page(104, 101, 100), None) == (102, 103)


def test_ids_the_venue_does_not_serve_are_asked_twice_and_named(sim: SimulatedExchange, sim_store: Store,
                                                                sim_config: Config) -> None:
    """The simulator's outage keeps the ids of the trades it hides: a hole in consecutive ids."""
    start = NOW - 3 * HOUR
    sim.add_gap(NOW - 2 * HOUR - 600_000, NOW - 2 * HOUR, symbol="BTC/USDT")  # 10 minutes without trades
    summary = record(sim_store, sim_config, ["BTC/USDT"], start=start)
    assert not summary.failed, str(summary)
    stored = ids(stored_trades(sim_store, BTC))
    holes = np.flatnonzero(np.diff(stored) != 1)
    assert len(holes) == 1
    first, last = stored[holes[0]] + 1, stored[holes[0] + 1] - 1
    assert summary.results[0].notes == [f"binance served no trade with id {first}…{last} (asked twice), though "
                                        "its trade ids are consecutive"]
    assert f"served no trade with id {first}…{last}" in str(summary)


def test_a_symbol_failing_mid_range_reports_the_trades_it_stored(sim: SimulatedExchange, tmp_path) -> None:
    from zvt_crypto.contract.config import load_config

    toml = sim.config_toml() + "\n[exchanges.binance]\nmax_retries = 1\nretry_initial_seconds = 0.01\n"
    (tmp_path / "zvt_crypto.toml").write_text(toml)
    config = load_config(tmp_path / "zvt_crypto.toml", home=tmp_path / "home")
    store = Store(config)
    try:
        sim.inject("drop", "/api/v3/aggTrades", count=None, skip=3)  # three pages, then the venue goes away
        summary = record(store, config, ["BTC/USDT"], start=NOW - 12 * HOUR)
        assert summary.failed
        stored = len(stored_trades(store, BTC))
        assert stored > 1000 and summary.total("changed") == summary.total("rows") == stored
    finally:
        store.dispose()
