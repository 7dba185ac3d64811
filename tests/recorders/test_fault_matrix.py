"""The standing fault matrix: every fault the simulator injects × every recorded kind.

Whatever the venue does, a run either stores exactly what the venue serves, or fails loudly naming the symbol;
it never exits 0 with less data than the venue served (what it leaves out must be a venue-confirmed known gap),
and it never stores a value the venue did not serve. Each cell runs twice: a *transient* fault (two separate hits
that retries or re-asks must absorb, so the store must equal the reference) and a *persistent* one (every request
after the first: success with complete data, or a failure that names the symbol).

The reference is the same recorder run on a fault-free venue into its own store; the recorders' own tests check
that reference against ccxt's reading of the venue.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from zvt_crypto.contract.config import Config, load_config
from zvt_crypto.contract.schema import Schema
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import (
    Bar,
    FundingRate,
    IndexPriceBar,
    KnownGap,
    MarkPriceBar,
    OpenInterest,
    OrderBookSnapshot,
    Trade,
)
from zvt_crypto.recorders import BarsRecorder, TradesRecorder
from zvt_crypto.recorders.bars import IndexPriceBarsRecorder, MarkPriceBarsRecorder
from zvt_crypto.recorders.base import Recorder, RecordSummary
from zvt_crypto.recorders.derivatives import FundingRateRecorder, OpenInterestRecorder
from zvt_crypto.recorders.trades import OrderBookRecorder
from zvt_crypto.sim import SimulatedExchange
from zvt_crypto.sim.faults import Fault

from .conftest import HOUR, NOW

pytestmark = pytest.mark.slow  # 182 cells, some waiting out a Retry-After or a client timeout

PERP = "BTC/USDT:USDT"
TIMEOUT_MS = 400  # the client's timeout: the "slow" fault answers after twice that


@dataclass(frozen=True)
class Kind:
    recorder: type[Recorder]
    schema: type[Schema]
    exchange: str
    symbol: str
    path: str
    options: dict[str, Any]
    leveled: bool = False
    paged: bool = True  # its range spans >= 2 requests, so the fault (from the 2nd request on) must hit


KINDS = {
    # 5m bars over 4 days: two pages (1000 a page), so a fault can hit the middle of the range; the same for the
    # mark and index bars (1000 a page) and open interest (500 1h values a page)
    "bars": Kind(BarsRecorder, Bar, "binance", "BTC/USDT", "/api/v3/klines",
                 {"level": "5m", "start": "2024-01-04"}, leveled=True),
    "mark-bars": Kind(MarkPriceBarsRecorder, MarkPriceBar, "binanceusdm", PERP, "/fapi/v1/markPriceKlines",
                      {"level": "5m", "start": "2024-01-04"}, leveled=True),
    "index-bars": Kind(IndexPriceBarsRecorder, IndexPriceBar, "binanceusdm", PERP, "/fapi/v1/indexPriceKlines",
                       {"level": "5m", "start": "2024-01-04"}, leveled=True),
    # the simulated perp's whole funding history fits one page of 1000: one request, the fault never hits
    "funding": Kind(FundingRateRecorder, FundingRate, "binanceusdm", PERP, "/fapi/v1/fundingRate",
                    {"start": "2023-11-01"}, paged=False),
    "open-interest": Kind(OpenInterestRecorder, OpenInterest, "binanceusdm", PERP, "/futures/data/openInterestHist",
                          {"level": "1h", "start": "2023-12-11"}, leveled=True),
    "trades": Kind(TradesRecorder, Trade, "binance", "BTC/USDT", "/api/v3/aggTrades", {"start": NOW - 2 * HOUR}),
    "orderbook": Kind(OrderBookRecorder, OrderBookSnapshot, "binance", "BTC/USDT", "/api/v3/depth", {"depth": 5},
                      paged=False),  # one request per run
}

FAULTS: dict[str, dict[str, Any]] = {
    "429": {"kind": "rate_limit", "retry_after": 1},
    "418": {"kind": "rate_limit", "status": 418, "retry_after": 1},
    "503-html": {"kind": "server_error"},
    "502-empty": {"kind": "server_error", "status": 502, "body": "empty"},
    "500-json": {"kind": "server_error", "status": 500, "body": "json"},
    "504": {"kind": "server_error", "status": 504},
    "slow": {"kind": "slow", "delay": 2 * TIMEOUT_MS / 1000},
    "drop": {"kind": "drop"},
    "junk": {"kind": "junk"},
    "truncate": {"kind": "truncate"},
    "duplicate": {"kind": "duplicate", "rows": 5},
    "shuffle": {"kind": "shuffle"},
    "empty": {"kind": "empty"},
}


def config_for(sim: SimulatedExchange, folder: Path) -> Config:
    """The simulator's config with quick retries and a short client timeout, and without what only paces or
    lingers (our request budget, ccxt's rate limiter, ccxt's 250 ms pause on close): the matrix is about faults,
    and a cell then takes ~0.1 s plus its fault's own waits. Pacing has its own tests (test_resilience.py)."""
    text = sim.config_toml()
    for exchange in ("binance", "binanceusdm"):
        text = text.replace(f"[exchanges.{exchange}.ccxt]\n", f"[exchanges.{exchange}.ccxt]\ntimeout = {TIMEOUT_MS}\n"
                            "enableRateLimit = false\ntimeout_on_exit = 0\n")
        text += (f"\n[exchanges.{exchange}]\nmax_retries = 3\nretry_initial_seconds = 0.01\nretry_max_seconds = 0.05\n"
                 "retry_after_max_seconds = 5\nbreaker_threshold = 1000\nrequests_per_minute = 0\n")
    path = folder / "zvt_crypto.toml"
    path.write_text(text)
    return load_config(path, home=folder / "home")


def record(kind: Kind, store: Store, config: Config) -> RecordSummary:
    return kind.recorder(store, config).record(exchange=kind.exchange, symbols=[kind.symbol], show_progress=False,
                                               **kind.options)


def stored(kind: Kind, store: Store) -> pd.DataFrame:
    level = kind.options.get("level")
    frame = kind.schema.query_data(exchange=kind.exchange, symbols=[kind.symbol], level=level, store=store)
    frame = frame.drop(columns=[c for c in ("id", "created_at", "updated_at") if c in frame.columns])
    return frame.sort_index()


def known_gap_mask(kind: Kind, store: Store, index: pd.Index) -> pd.Series:
    """Which reference rows a venue-confirmed known gap explains."""
    covered = pd.Series(False, index=index)
    if not kind.leveled:
        return covered
    gaps = KnownGap.query_data(exchange=kind.exchange, symbols=[kind.symbol], store=store, index=None)
    times = index.get_level_values("timestamp")
    for gap in gaps.itertuples():
        covered |= (times >= gap.start_timestamp) & (times <= gap.end_timestamp)
    return covered


@pytest.fixture(scope="module")
def references(shared_sim: SimulatedExchange, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """Each kind recorded from the fault-free venue, once per module."""
    shared_sim.faults.clear()
    out: dict[str, pd.DataFrame] = {}
    for name, kind in KINDS.items():
        folder = tmp_path_factory.mktemp(f"reference-{name}")
        store = Store(config_for(shared_sim, folder))
        try:
            summary = record(kind, store, store.config)
            assert not summary.failed, str(summary)
            out[name] = stored(kind, store)
            assert len(out[name]) > 0, name
        finally:
            store.dispose()
    return out


@pytest.mark.parametrize("mode", ["transient", "persistent"])
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("kind_name", list(KINDS))
def test_fault_matrix(kind_name: str, fault: str, mode: str, sim: SimulatedExchange, tmp_path: Path,
                      references: dict[str, pd.DataFrame]) -> None:
    kind = KINDS[kind_name]
    options = FAULTS[fault]
    if mode == "transient":  # the 2nd and the 4th request: separate hits, never two in a row
        faults = [Fault(path=kind.path, skip=1, count=1, **options), Fault(path=kind.path, skip=3, count=1, **options)]
    else:  # every request after the first
        faults = [Fault(path=kind.path, skip=1, count=None, **options)]
    for fault_ in faults:
        sim.faults.add(fault_)
    store = Store(config_for(sim, tmp_path))
    try:
        summary = record(kind, store, store.config)
        assert not kind.paged or any(f.hits for f in faults), f"{kind_name}: one request only, the fault never hit"
        got = stored(kind, store)
        reference = references[kind_name]
        if kind_name == "orderbook":  # a snapshot of the book now: one row, equal to the fault-free one
            assert len(got) <= 1
        # never a value the venue did not serve: every stored row is the reference's row
        foreign = ~got.index.isin(reference.index)
        assert not foreign.any(), f"rows the venue never served:\n{got[foreign]}"
        pd.testing.assert_frame_equal(got, reference.loc[got.index], check_exact=False, rtol=1e-12)
        if summary.failed:
            assert kind.symbol in str(summary), str(summary)  # loud, and it names the symbol
            assert mode == "persistent" or fault in ("429", "418"), f"a transient {fault} failed the run:\n{summary}"
            return
        missing = ~reference.index.isin(got.index)
        if mode == "transient":
            assert not missing.any(), f"exit 0 with {int(missing.sum())} of {len(reference)} rows missing:\n{summary}"
            return
        if fault == "empty" and not kind.leveled:
            # A series without a grid (trades) cannot tell "nothing more" from a venue that keeps answering []:
            # it asked again (checked by the transient cell); what it stored is the venue's, checked above.
            return
        unexplained = missing & ~known_gap_mask(kind, store, reference.index).to_numpy()
        assert not unexplained.any(), (
            f"exit 0 with {int(unexplained.sum())} of {len(reference)} rows neither stored nor a known gap:\n{summary}")
    finally:
        store.dispose()
