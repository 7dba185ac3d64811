"""Several exchanges in one run, and what one run asks the venue once.

Why: ``record_exchanges`` promises that one broken venue never costs the others their data, and that the failed
venue's summary says what happened (its error, how many requests and retries it took). The simulated Binance
serves both ``binance`` (``/api/v3``) and ``binanceusdm`` (``/fapi``), so one server is a healthy venue and a
venue that answers every request with a 503.
"""

from __future__ import annotations

from pathlib import Path

import ccxt
import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.config import Config, load_config
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import to_ms
from zvt_crypto.domain import Bar, Trade
from zvt_crypto.recorders.base import arecord_exchanges, record_exchanges, run_coroutine
from zvt_crypto.sim import SimulatedExchange

from .conftest import HOUR, NOW

START = NOW - 24 * HOUR
RETRIES = 2  # the failing venue's [exchanges.binanceusdm] max_retries


@pytest.fixture
def two_venues(sim: SimulatedExchange, tmp_path: Path) -> Config:
    """The user's file: both exchanges at the simulator, with quick retries for the one that will fail."""
    path = tmp_path / "zvt_crypto.toml"
    path.write_text(sim.config_toml() + f"\n[exchanges.binanceusdm]\nmax_retries = {RETRIES}\n"
                    "retry_initial_seconds = 0.01\nretry_max_seconds = 0.02\n")
    return load_config(path, home=tmp_path / "home")


def venue_bars(sim: SimulatedExchange, symbol: str, since: int, limit: int) -> pd.DataFrame:
    """The venue's own 1h bars, read with the sync ccxt client (the reference)."""
    client = ccxt.binance(sim.ccxt_options("binance") | {"enableRateLimit": False})
    rows = client.fetch_ohlcv(symbol, "1h", since, limit)
    return pd.DataFrame(rows, columns=["timestamp", "open", "high", "low", "close", "volume"])


def test_a_failing_exchange_leaves_the_healthy_ones_data_and_reports_its_error(sim: SimulatedExchange,
                                                                                two_venues: Config) -> None:
    """binanceusdm answers 503 to everything: it is retried as configured, then reported failed with its error
    and its request counts; binance, recorded at the same time, stores exactly the venue's bars."""
    sim.inject("server_error", "/fapi/*", count=None)
    store = Store(two_venues)
    try:
        summaries = record_exchanges(Bar, {"binance": ["BTC/USDT", "ETH/USDT"], "binanceusdm": ["BTC/USDT:USDT"]},
                                     store=store, show_progress=False, level="1h", start=START)
        by_exchange = {summary.exchange: summary for summary in summaries}
        assert list(by_exchange) == ["binance", "binanceusdm"]

        healthy = by_exchange["binance"]
        assert not healthy.failed and healthy.total("changed") == 2 * 24, str(healthy)
        for symbol in ("BTC/USDT", "ETH/USDT"):
            stored = Bar.query_data(exchange="binance", symbols=[symbol], level="1h", store=store)
            reference = venue_bars(sim, symbol, START, 24)
            stamps = pd.DatetimeIndex(stored.index.get_level_values("timestamp")).as_unit("ms").asi8
            np.testing.assert_array_equal(stamps, reference["timestamp"].to_numpy())
            np.testing.assert_array_equal(stored[["open", "high", "low", "close", "volume"]].to_numpy(),
                                          reference[["open", "high", "low", "close", "volume"]].to_numpy())

        failing = by_exchange["binanceusdm"]
        assert [result.symbol for result in failing.failed] == ["(all)"]
        error = failing.failed[0].error or ""
        assert error.startswith("binanceusdm: could not load its markets (ExchangeNotAvailable: binanceusdm GET")
        assert "503" in error, error
        assert f"gave up after {RETRIES + 1} request(s): binanceusdm is down or unreachable" in error  # what to do
        # the summary of the failed run keeps its counts: load_markets was tried 1 + max_retries times
        assert (failing.requests, failing.retries) == (RETRIES + 1, RETRIES), str(failing)
        assert failing.seconds > 0 and "FAILED" in str(failing)
        assert Bar.query_data(exchange="binanceusdm", level="1h", store=store).empty
        assert sim.count("/fapi/v1/exchangeInfo") == RETRIES + 1  # every attempt reached the venue
    finally:
        store.dispose()


def test_a_dead_exchange_is_reported_with_its_counts_by_the_async_api(sim: SimulatedExchange,
                                                                      tmp_path: Path) -> None:
    """A venue nobody listens on (connection refused) fails with a NetworkError after its retries; the other
    exchange's trades are recorded as the venue serves them."""
    import socket

    with socket.socket() as sock:  # a loopback port that is then closed: every connection is refused
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    path = tmp_path / "zvt_crypto.toml"
    path.write_text(sim.config_toml(("binance",)) + "\n[exchanges.binanceusdm]\nmax_retries = 1\n"
                    "retry_initial_seconds = 0.01\nretry_max_seconds = 0.01\n\n[exchanges.binanceusdm.ccxt]\n"
                    "options = { fetchCurrencies = false, fetchMargins = false }\n\n"
                    f'[exchanges.binanceusdm.ccxt.urls.api]\nfapiPublic = "{dead}/fapi/v1"\n'
                    f'fapiPublicV2 = "{dead}/fapi/v2"\nfapiData = "{dead}/futures/data"\npublic = "{dead}/api/v3"\n')
    store = Store(load_config(path, home=tmp_path / "home"))
    try:
        start = NOW - 30 * 60_000
        summaries = run_coroutine(arecord_exchanges(Trade, {"binanceusdm": ["BTC/USDT:USDT"], "binance": ["BTC/USDT"]},
                                                    store=store, show_progress=False, start=start))
        failing, healthy = summaries
        assert failing.exchange == "binanceusdm" and (failing.requests, failing.retries) == (2, 1), str(failing)
        assert failing.failed[0].error and "binanceusdm" in failing.failed[0].error
        assert not healthy.failed, str(healthy)
        client = ccxt.binance(sim.ccxt_options("binance") | {"enableRateLimit": False})
        served = client.fetch_trades("BTC/USDT", start, 1000)
        stored = Trade.query_data(exchange="binance", symbols=["BTC/USDT"], store=store, index=None)
        assert len(served) > 0 and sorted(stored["trade_id"].astype(str)) == sorted(str(t["id"]) for t in served)
    finally:
        store.dispose()


def test_the_venue_clock_is_asked_once_per_run_for_all_symbols(sim: SimulatedExchange, sim_store: Store) -> None:
    """The symbol tasks of a run start together and share one fetch_time (a shared task, not one per symbol);
    the next run asks again."""
    symbols = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
    for run in (1, 2):
        summary = Bar.record_data(exchange="binance", symbols=symbols, level="1h", start=START, store=sim_store,
                                  show_progress=False)
        assert not summary.failed, str(summary)
        assert sim.count("/api/v3/time") == run
    assert Bar.query_data(exchange="binance", symbols=symbols, level="1h", store=sim_store).shape[0] == 3 * 24
    assert to_ms(Bar.query_data(exchange="binance", symbols=["BTC/USDT"], level="1h", store=sim_store)
                 .index.get_level_values("timestamp")[-1]) == NOW - HOUR


def test_a_venue_that_keeps_rate_limiting_is_not_called_down(sim: SimulatedExchange, two_venues: Config) -> None:
    """429s to the end are a rate problem, not an outage: the advice says to lower the budget."""
    sim.inject("rate_limit", "/fapi/*", count=None, retry_after=0)
    store = Store(two_venues)
    try:
        summaries = record_exchanges(Bar, {"binanceusdm": ["BTC/USDT:USDT"]}, store=store, show_progress=False,
                                     level="1h", start=START)
        error = summaries[0].failed[0].error or ""
        assert error.startswith("binanceusdm: could not load its markets (DDoSProtection"), error
        assert "kept refusing requests for their rate; lower [exchanges.binanceusdm] requests_per_minute" in error
        assert "down or unreachable" not in error
    finally:
        store.dispose()


def test_a_failed_venue_clock_is_asked_again_by_the_next_symbol(sim: SimulatedExchange, two_venues: Config,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared fetch_time failing (after its retries) fails the symbols waiting on that answer, not the rest
    of the run: a symbol starting later asks again and records."""
    from zvt_crypto.recorders.bars import BarsRecorder

    monkeypatch.setattr(BarsRecorder, "concurrency", 1)  # one symbol after the other: the second starts later
    sim.inject("server_error", "/fapi/v1/time", count=RETRIES + 1)  # exactly one call's attempts fail
    store = Store(two_venues)
    try:
        summary = Bar.record_data(exchange="binanceusdm", symbols=["BTC/USDT:USDT", "ETH/USDT:USDT"], level="1h",
                                  start=START, store=store, show_progress=False)
        assert [result.symbol for result in summary.failed] == ["BTC/USDT:USDT"], str(summary)
        assert summary.total("changed") == 24, str(summary)
        assert sim.count("/fapi/v1/time") == RETRIES + 2  # the failed call's attempts, then the second symbol's
    finally:
        store.dispose()
