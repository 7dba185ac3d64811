"""Faults the retry policy must classify right, against the simulated Binance with the real async ccxt client:
a truncated body (transient), a junk ``exchangeInfo`` (retried with a real request) and a ban whose
``Retry-After`` is honoured by every task of the run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from zvt_crypto.contract.config import Config, load_config
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar
from zvt_crypto.recorders import BarsRecorder
from zvt_crypto.recorders.base import VenueUnavailableError
from zvt_crypto.recorders.resilience import venue_client
from zvt_crypto.sim import Fault, SimulatedExchange

from .conftest import HOUR, NOW

MINUTE = 60_000

KLINES, INFO, TIME = "/api/v3/klines", "/api/v3/exchangeInfo", "/api/v3/time"
FAST = {"max_retries": 5, "retry_initial_seconds": 0.01, "retry_max_seconds": 0.05}


def config_with(sim: SimulatedExchange, tmp_path: Path, **settings: float) -> Config:
    """The simulator's config plus ``[exchanges.binance]`` retry settings."""
    lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
    path = tmp_path / "zvt_crypto.toml"
    path.write_text(sim.config_toml() + "\n[exchanges.binance]\n" + lines)
    return load_config(path, home=tmp_path / "home")


@pytest.fixture
def store_with(tmp_path: Path):
    stores: list[Store] = []

    def make(config: Config) -> Store:
        stores.append(Store(config))
        return stores[-1]

    yield make
    for store in stores:
        store.dispose()


def record_bars(store: Store, config: Config, symbols: list[str], hours: int = 24):
    recorder = BarsRecorder(store, config)
    return recorder.record(exchange="binance", symbols=symbols, level="1h", start=NOW - hours * HOUR,
                           show_progress=False)


def stored_hours(store: Store, symbol: str) -> int:
    eid = f"pair_binance_{symbol.replace('/', '-')}"
    return len(Bar.query_data(entity_ids=[eid], level="1h", store=store, index=None))


# -- 7: a truncated answer is transient -------------------------------------------------------------------------
def test_truncated_answers_are_retried(sim: SimulatedExchange, tmp_path: Path, store_with) -> None:
    config = config_with(sim, tmp_path, **FAST)
    store = store_with(config)
    sim.faults.add(Fault("truncate", INFO, count=1))  # the run's first request: a whole run used to fail on it
    sim.faults.add(Fault("truncate", KLINES, count=2))
    summary = record_bars(store, config, ["BTC/USDT"], hours=48)
    assert not summary.failed, str(summary)
    assert stored_hours(store, "BTC/USDT") == 48
    assert summary.retries == 3
    assert [r.faults for r in sim.requests if r.path == INFO] == [("truncate",), ()]


# -- 8: load_markets after a junk answer -------------------------------------------------------------------------
def test_markets_are_requested_again_after_a_junk_answer(sim: SimulatedExchange, tmp_path: Path,
                                                         store_with) -> None:
    config = config_with(sim, tmp_path, **FAST)
    store = store_with(config)
    sim.faults.add(Fault("junk", INFO, count=1))  # 200 with an HTML page: ccxt caches the empty result
    summary = record_bars(store, config, ["BTC/USDT"])
    assert not summary.failed, str(summary)
    assert sim.count(INFO) == 2  # the retry reached the venue
    assert stored_hours(store, "BTC/USDT") == 24


def test_markets_that_never_load_fail_naming_the_venue(sim: SimulatedExchange, tmp_path: Path,
                                                       store_with) -> None:
    config = config_with(sim, tmp_path, **FAST)
    store = store_with(config)
    sim.faults.add(Fault("junk", INFO, count=None))
    with pytest.raises(VenueUnavailableError, match=r"^binance: could not load its markets \(BadResponse: .*"
                                                    r"gave up after 6 request\(s\): binance is down or unreachable"):
        record_bars(store, config, ["BTC/USDT"])
    assert sim.count(INFO) == 6  # every attempt (1 + max_retries) sent a request


# -- 9: a ban (418 + Retry-After) ---------------------------------------------------------------------------------
def test_retry_after_max_comes_from_the_config(sim: SimulatedExchange, tmp_path: Path) -> None:
    class Named:
        id = "binance"

    assert venue_client(Named(), config_with(sim, tmp_path, retry_after_max_seconds=7.5)).retry.retry_after_max == 7.5
    assert venue_client(Named()).retry.retry_after_max == 120.0


def test_a_ban_longer_than_the_run_waits_stops_every_request(sim: SimulatedExchange, tmp_path: Path,
                                                             store_with) -> None:
    config = config_with(sim, tmp_path, **FAST, retry_after_max_seconds=1)
    store = store_with(config)
    # exchangeInfo passes; from the next request on the venue bans us for 300 s
    sim.faults.add(Fault("rate_limit", status=418, retry_after=300, skip=1, count=None))
    before = pd.Timestamp.now(tz="UTC")
    summary = record_bars(store, config, ["BTC/USDT", "ETH/USDT"])
    assert [r.status for r in sim.requests] == [200, 418]  # nothing sent after the ban (it would lengthen it)
    assert sorted(r.symbol for r in summary.failed) == ["BTC/USDT", "ETH/USDT"]
    for result in summary.failed:
        assert result.error is not None and result.error.startswith("binance refused requests until ")
        assert "Retry-After: 300 s" in result.error and "Run again after" in result.error
        until = pd.Timestamp(result.error.split("until ")[1].split(" ")[0])
        assert before + pd.Timedelta(seconds=299) <= until <= pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=301)
    assert stored_hours(store, "BTC/USDT") == 0


def test_a_ban_within_the_wait_holds_for_every_task(sim: SimulatedExchange, tmp_path: Path, store_with) -> None:
    config = config_with(sim, tmp_path, **FAST, retry_after_max_seconds=5)
    store = store_with(config)
    # BTC's first page is a 2-second ban; ETH's first page, asked at the same time, is answered 0.5 s later, and
    # its next pages must then wait for the end of the ban too
    sim.faults.add(Fault("rate_limit", KLINES, symbol="BTC/USDT", status=418, retry_after=2))
    sim.faults.add(Fault("slow", KLINES, symbol="ETH/USDT", delay=0.5))
    recorder = BarsRecorder(store, config)
    summary = recorder.record(exchange="binance", symbols=["BTC/USDT", "ETH/USDT"], level="1m",
                              start=NOW - 2500 * MINUTE, show_progress=False)
    assert not summary.failed, str(summary)
    banned = next(r for r in sim.requests if r.status == 418)
    klines = [r for r in sim.requests if r.path == KLINES]
    assert len(klines) >= 7  # 3 pages a symbol and the banned one
    concurrent = [r for r in klines if r is not banned and r.received < banned.received + 0.3]
    assert [r.params["symbol"] for r in concurrent] == ["ETHUSDT"]  # asked before the ban was known
    later = [r.received - banned.received for r in klines if r is not banned and r not in concurrent]
    assert len(later) >= 5 and min(later) >= 2.0  # never inside the ban, by either symbol
