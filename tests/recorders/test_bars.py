"""Bars recorded by the real ccxt client from the simulated Binance: complete, closed, resumable, gap-audited."""

from __future__ import annotations

from pathlib import Path

import ccxt
import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.config import Config, load_config
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar, CryptoPair, KnownGap
from zvt_crypto.domain.coverage import coverage
from zvt_crypto.recorders import BarsRecorder
from zvt_crypto.sim import SimulatedExchange

from .conftest import HOUR, NOW

BTC = "pair_binance_BTC-USDT"


def record(store: Store, config: Config, **options: object):
    return BarsRecorder(store, config).record(exchange="binance", show_progress=False, **options)


def quick_retries(sim: SimulatedExchange, folder: Path) -> Config:
    """The simulator's config with the default number of retries and millisecond back-off (a venue that keeps
    failing is given up in a fraction of a second instead of ~16 s)."""
    path = folder / "quick_retries.toml"
    path.write_text(sim.config_toml() + "\n[exchanges.binance]\nretry_initial_seconds = 0.01\n"
                    "retry_max_seconds = 0.05\n")
    return load_config(path, home=folder / "home")


def venue_bars(sim: SimulatedExchange, symbol: str, timeframe: str, since: int, limit: int) -> pd.DataFrame:
    """What the venue itself serves, read with the sync ccxt client (the reference)."""
    client = ccxt.binance(sim.ccxt_options("binance") | {"enableRateLimit": False})
    rows = client.fetch_ohlcv(symbol, timeframe, since, limit)
    return pd.DataFrame(rows, columns=["timestamp", "open", "high", "low", "close", "volume"])


def test_records_closed_bars_equal_to_the_venue(sim: SimulatedExchange, sim_store: Store, sim_config: Config) -> None:
    summary = record(sim_store, sim_config, symbols=["BTC/USDT", "ETH/USDT"], level="1h", start="2024-01-01")
    assert not summary.failed, str(summary)
    assert summary.total("changed") == 2 * 7 * 24  # 2024-01-01 00:00 … 2024-01-07 23:00: the open bar is left out
    stored = Bar.query_data(entity_ids=[BTC], level="1h", store=sim_store)
    assert stored.index.get_level_values("timestamp")[-1] == pd.Timestamp(NOW - HOUR, unit="ms", tz="UTC")
    reference = venue_bars(sim, "BTC/USDT", "1h", to_ms_("2024-01-01"), 168)
    np.testing.assert_array_equal(stored["close"].to_numpy(), reference["close"].to_numpy())
    np.testing.assert_allclose(stored["volume"].to_numpy(), reference["volume"].to_numpy(), rtol=1e-12)
    assert summary.requests >= 3  # time, markets, one page per symbol at least


def test_resumes_after_the_last_stored_bar(sim: SimulatedExchange, sim_store: Store, sim_config: Config) -> None:
    record(sim_store, sim_config, symbols=["BTC/USDT"], level="15m", start="2024-01-07")
    sim.advance(3 * 3600)  # three hours later
    sim.reset_requests()
    again = record(sim_store, sim_config, symbols=["BTC/USDT"], level="15m")
    assert again.total("changed") == 12
    assert sim.count("/api/v3/klines") == 1  # one page from the last stored bar, nothing re-fetched
    stored = Bar.query_data(entity_ids=[BTC], level="15m", store=sim_store)
    assert len(stored) == 24 * 4 + 12 and stored.index.is_unique
    assert not coverage(sim_store, entity_ids=[BTC], level="15m")[0].gaps


def test_first_run_starts_at_the_first_bar_and_sets_the_listing(sim_store: Store, sim_config: Config) -> None:
    summary = record(sim_store, sim_config, symbols=["SOL/USDT"], level="1d")
    first = Bar.query_data(exchange="binance", symbols=["SOL/USDT"], level="1d", store=sim_store)
    # SOL lists 2023-12-04 08:00: its first daily bar opens 2023-12-04, the last closed one 2024-01-07
    assert first.index.get_level_values("timestamp")[0] == pd.Timestamp("2023-12-04", tz="UTC")
    assert summary.total("changed") == 35
    pair = CryptoPair.query_data(exchange="binance", symbols=["SOL/USDT"], store=sim_store).iloc[0]
    assert pair["list_timestamp"] == pd.Timestamp("2023-12-04", tz="UTC")


def test_outage_is_audited_and_confirmed_once(sim: SimulatedExchange, sim_store: Store, sim_config: Config) -> None:
    sim.add_gap("2024-01-05T10:00:00Z", "2024-01-05T13:00:00Z", symbol="BTC/USDT")
    summary = record(sim_store, sim_config, symbols=["BTC/USDT"], level="1h", start="2024-01-05")
    result = summary.results[0]
    assert (result.gaps_found, result.gaps_filled, result.gaps_confirmed) == (1, 0, 1)
    gaps = coverage(sim_store, entity_ids=[BTC], level="1h")[0].gaps
    assert [(g.missing, g.known) for g in gaps] == [(3, True)]
    known = KnownGap.query_data(store=sim_store, index=None)
    assert known["start_timestamp"].iloc[0] == pd.Timestamp("2024-01-05T10:00:00Z")
    sim.reset_requests()
    again = record(sim_store, sim_config, symbols=["BTC/USDT"], level="1h")
    assert again.results[0].gaps_found == 0 and sim.count("/api/v3/klines") == 0  # not retried forever


def test_hole_left_by_an_earlier_run_is_filled(sim_store: Store, sim_config: Config) -> None:
    record(sim_store, sim_config, symbols=["BTC/USDT"], level="1h", start="2024-01-06")
    with sim_store.begin() as connection:  # as if an older run had lost these rows
        from sqlalchemy import text

        connection.execute(text("DELETE FROM bar WHERE timestamp BETWEEN :a AND :b"),
                           {"a": to_ms_("2024-01-06T05:00:00Z"), "b": to_ms_("2024-01-06T07:00:00Z")})
    summary = record(sim_store, sim_config, symbols=["BTC/USDT"], level="1h")
    assert (summary.results[0].gaps_found, summary.results[0].gaps_filled) == (1, 1)
    assert len(Bar.query_data(entity_ids=[BTC], level="1h", store=sim_store)) == 48


def test_transient_faults_are_retried_and_data_is_complete(sim: SimulatedExchange, sim_store: Store,
                                                           tmp_path: Path) -> None:
    sim.inject("rate_limit", "/api/v3/klines", retry_after=1, count=1)
    sim.inject("server_error", "/api/v3/klines", count=2, skip=1)
    sim.inject("junk", "/api/v3/klines", count=1, skip=4)
    sim.inject("duplicate", "/api/v3/klines", count=1, skip=5, rows=5)
    sim.inject("shuffle", "/api/v3/klines", count=1, skip=6)
    summary = record(sim_store, quick_retries(sim, tmp_path), symbols=["ETH/USDT"], level="5m", start="2024-01-04")
    assert not summary.failed, str(summary)
    assert summary.retries >= 4
    stored = Bar.query_data(exchange="binance", symbols=["ETH/USDT"], level="5m", store=sim_store)
    assert len(stored) == 4 * 288 and stored.index.is_unique
    assert not coverage(sim_store, exchange="binance", symbols=["ETH/USDT"], level="5m")[0].gaps


def test_killed_run_resumes_without_duplicates_or_holes(sim: SimulatedExchange, sim_store: Store,
                                                        sim_config: Config, tmp_path: Path) -> None:
    sim.inject("drop", "/api/v3/klines", count=None, skip=2)  # the venue goes away after two pages
    broken = record(sim_store, quick_retries(sim, tmp_path), symbols=["BTC/USDT"], level="5m", start="2024-01-01")
    assert broken.failed and "BTC/USDT" in str(broken)
    partial = len(Bar.query_data(entity_ids=[BTC], level="5m", store=sim_store))
    assert partial == 2 * 1000  # whole pages only
    sim.faults.clear()
    summary = record(sim_store, sim_config, symbols=["BTC/USDT"], level="5m")
    assert not summary.failed
    stored = Bar.query_data(entity_ids=[BTC], level="5m", store=sim_store)
    assert len(stored) == 7 * 288 and stored.index.is_unique
    assert not coverage(sim_store, entity_ids=[BTC], level="5m")[0].gaps


def test_clear_errors(sim_store: Store, sim_config: Config) -> None:
    summary = record(sim_store, sim_config, symbols=["BTC/USDT"], level="1h", start="2024-01-07")
    assert not summary.failed
    with pytest.raises(InvalidInputError, match=r"unknown symbol\(s\) on binance: 'BTC/USDC'"):
        record(sim_store, sim_config, symbols=["BTC/USDC"], level="1h")
    with pytest.raises(InvalidInputError, match="needs a level"):
        record(sim_store, sim_config, symbols=["BTC/USDT"])
    with pytest.raises(InvalidInputError, match="is after end"):
        record(sim_store, sim_config, symbols=["BTC/USDT"], level="1h", start="2024-01-07", end="2024-01-01")
    with pytest.raises(InvalidInputError, match="no symbols"):
        record(sim_store, sim_config, symbols=[], level="1h")


def to_ms_(text: str) -> int:
    from zvt_crypto.contract.timeutil import to_ms

    return to_ms(text)


@pytest.mark.parametrize(("level", "start", "count"), [("2h", "2024-01-05", 36), ("6h", "2024-01-03", 20),
                                                       ("12h", "2024-01-01", 14), ("3d", "2023-12-01", 12)])
def test_records_2h_6h_12h_3d_as_binance_serves_them(sim: SimulatedExchange, sim_store: Store, sim_config: Config,
                                                      level: str, start: str, count: int) -> None:
    summary = record(sim_store, sim_config, symbols=["BTC/USDT"], level=level, start=start)
    assert not summary.failed, str(summary)
    stored = Bar.query_data(entity_ids=[BTC], level=level, store=sim_store)
    reference = venue_bars(sim, "BTC/USDT", level, to_ms_(start), 1000)
    reference = reference[reference["timestamp"] < Level.parse(level).floor(NOW)]  # closed bars only
    assert len(stored) == count == len(reference)
    stamps = stored.index.get_level_values("timestamp").as_unit("ms").asi8
    np.testing.assert_array_equal(stamps, reference["timestamp"].to_numpy())
    assert Level.parse(level).is_aligned(stamps).all()  # on the venue's grid (3d: every third day from the epoch)
    for column in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(stored[column].to_numpy(), reference[column].to_numpy(), rtol=1e-12)
    if level == "3d":
        assert stamps[0] == to_ms_("2023-12-01") and stamps[-1] == to_ms_("2024-01-03")


@pytest.mark.parametrize(("source", "target", "start"), [("1h", "6h", "2024-01-03"), ("1d", "3d", "2023-12-01"),
                                                         ("2h", "12h", "2024-01-04T06:00Z")])
def test_a_level_built_from_stored_bars_equals_the_venues_own(sim: SimulatedExchange, sim_store: Store,
                                                              sim_config: Config, source: str, target: str,
                                                              start: str) -> None:
    """``resample`` builds what the venue would serve: the sim's own 6h / 3d / 12h klines, bar for bar."""
    from zvt_crypto.dataio.resampling import resample_stored

    summary = record(sim_store, sim_config, symbols=["BTC/USDT"], level=source, start=start)
    assert not summary.failed, str(summary)
    done = resample_stored(sim_store, exchange="binance", symbol="BTC/USDT", source=source, target=target)
    built = Bar.query_data(entity_ids=[BTC], level=target, store=sim_store)
    assert done.built == done.changed == len(built) > 0
    reference = venue_bars(sim, "BTC/USDT", target, Level.parse(target).ceil(to_ms_(start)), 1000)
    reference = reference[reference["timestamp"] < Level.parse(target).floor(NOW)]  # the venue's closed bars
    stamps = built.index.get_level_values("timestamp").as_unit("ms").asi8
    np.testing.assert_array_equal(stamps, reference["timestamp"].to_numpy())
    for column in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(built[column].to_numpy(), reference[column].to_numpy())
    np.testing.assert_allclose(built["volume"].to_numpy(), reference["volume"].to_numpy(), rtol=1e-12)
    again = resample_stored(sim_store, exchange="binance", symbol="BTC/USDT", source=source, target=target)
    assert (again.built, again.changed) == (done.built, 0)  # idempotent
