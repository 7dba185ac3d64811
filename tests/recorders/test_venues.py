"""The generic ccxt recorders against OKX, Bybit, Coinbase, Kraken, Upbit and Bithumb.

Why: ``zvt_crypto.recorders.venues`` names these venues as supported; that claim holds only if the project's real
recording path (a config file → ``Schema.record_data`` → the store) works against what each venue answers, with
ccxt's own async client and parsing in the loop. ``venue_servers`` serves each venue's documented public REST
format on the loopback, with its pagination rules and its clock, and keeps the ground truth.

Venues ccxt can ask for the time (OKX, Bybit, Coinbase, Kraken) run on a fixed server clock, 2024-01-08T00:00Z;
Upbit and Bithumb have no time endpoint, so the recorder uses the local clock and their servers follow it.
"""

from __future__ import annotations

import itertools
import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.engine import make_url

from zvt_crypto.contract.config import Config, load_config
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import to_ms
from zvt_crypto.domain import Bar, CryptoPair, CryptoPerp, FundingRate, KnownGap, Trade
from zvt_crypto.domain.coverage import coverage
from zvt_crypto.recorders.base import RecordSummary
from zvt_crypto.recorders.exchange import UnsupportedDataError
from zvt_crypto.recorders.paged import EARLIEST_BAR_MS
from zvt_crypto.recorders.venues import venue_profile

from .venue_servers import HOUR_MS, SERVERS, RequestRecord, VenueServer
from .venue_servers.coinbase import GRANULARITIES

NOW = to_ms("2024-01-08T00:00:00Z")
DAY_MS = 24 * HOUR_MS
OHLCV = ["open", "high", "low", "close", "volume"]


# ---------------------------------------------------------------------------------------------------------------
# what each venue's OHLCV requests ask for, read back from the request log
# ---------------------------------------------------------------------------------------------------------------
def _upbit_window_start(record: RequestRecord) -> int:
    """Upbit's ``to`` is exclusive and ``count`` candles come before it: the earliest open time asked for."""
    minutes = int(record.path.rsplit("/", 1)[1])
    return to_ms(record.params["to"]) - int(record.params["count"]) * minutes * 60_000


@dataclass(frozen=True)
class Case:
    """One venue: its OHLCV endpoints (``candles_path`` is in their paths), two spot symbols listed long enough,
    the bars test's level and days back, and how to read one OHLCV request's page size (``asked``) and earliest
    open time (``earliest``) from the request log (None where the request does not say)."""

    exchange: str
    candles_path: str
    symbols: tuple[str, str]
    level: str
    days: int
    asked: Callable[[RequestRecord], int | None]
    earliest: Callable[[RequestRecord], int | None]
    fixed_clock: bool = True
    window: int | None = None  # candles the venue serves at all (no deep history); None: back to the listing


CASES = {case.exchange: case for case in (
    Case("okx", "candles",  # /market/candles and /market/history-candles
         ("BTC/USDT", "ETH/USDT"), "1h", 13,
         asked=lambda r: int(r.params["limit"]), earliest=lambda r: int(r.params["before"]) + 1),
    Case("bybit", "/v5/market/kline", ("BTC/USDT", "ETH/USDT"), "15m", 12,
         asked=lambda r: int(r.params["limit"]), earliest=lambda r: int(r.params["start"])),
    Case("coinbase", "/candles", ("BTC/USD", "ETH/USD"), "1h", 13,
         asked=lambda r: (int(r.params["end"]) - int(r.params["start"])) * 1000
         // GRANULARITIES[r.params["granularity"]],
         earliest=lambda r: int(r.params["start"]) * 1000),
    Case("kraken", "/0/public/OHLC", ("BTC/USD", "ETH/USD"), "1h", 10, window=720,
         asked=lambda r: None, earliest=lambda r: int(r.params["since"]) * 1000 + 1),
    Case("upbit", "/v1/candles/", ("BTC/KRW", "ETH/BTC"), "1h", 10, fixed_clock=False,
         asked=lambda r: int(r.params["count"]), earliest=_upbit_window_start),
    Case("bithumb", "/v1/candles/", ("BTC/KRW", "ETH/KRW"), "1h", 3, fixed_clock=False, window=200,
         asked=lambda r: int(r.params["count"]), earliest=lambda r: None),  # ccxt sends no time: the latest 200
)}


@dataclass
class Venue:
    case: Case
    server: VenueServer
    config: Config
    store: Store

    @property
    def exchange(self) -> str:
        return self.case.exchange

    def record_bars(self, symbols: list[str], **options: object) -> RecordSummary:
        return Bar.record_data(exchange=self.exchange, symbols=symbols, store=self.store, show_progress=False,
                               **{"level": self.case.level, **options})

    def stored_bars(self, symbol: str, level: str | None = None) -> pd.DataFrame:
        """Stored bars as ``timestamp`` (ms) + OHLCV columns, oldest first."""
        stored = Bar.query_data(exchange=self.exchange, symbols=[symbol], level=level or self.case.level,
                                store=self.store)
        stamps = pd.DatetimeIndex(stored.index.get_level_values("timestamp")).as_unit("ms").asi8
        return pd.DataFrame({"timestamp": stamps, **{name: stored[name].to_numpy() for name in OHLCV}})

    def truth(self, symbol: str, start: int, now: int, level: str | None = None) -> pd.DataFrame:
        """What the venue has closed by ``now`` from ``start`` on: what the recorder must store."""
        frame = self.server.closed_candles(symbol, Level.parse(level or self.case.level).ms, now).frame()
        return frame[frame["timestamp"] >= start].reset_index(drop=True)

    def candle_requests(self) -> list[RequestRecord]:
        return [record for record in self.server.requests if self.case.candles_path in record.path]


def _wait_for_a_steady_hour(margin_s: float = 15.0) -> None:
    """Wall-clock venues: the recorder's clock and the test's must agree on which hour is open, so a test never
    starts in the last seconds of an hour."""
    left = HOUR_MS - int(time.time() * 1000) % HOUR_MS
    if left < margin_s * 1000:
        time.sleep(left / 1000 + 0.5)


def _hour_floor(ms: int) -> int:
    return ms // HOUR_MS * HOUR_MS


@pytest.fixture
def venue(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Venue]:
    """The venue's loopback server and the user's path to it: a TOML file whose ``[exchanges.<id>.ccxt]`` points
    every ccxt URL at the server, loaded into a Config, and a fresh store built from that config (its database a
    copy of the session's migrated template, which saves a migration per test)."""
    case = CASES[request.param]
    if not case.fixed_clock:
        _wait_for_a_steady_hour()
    with SERVERS[case.exchange](NOW if case.fixed_clock else None, lifetime=120) as server:
        path = tmp_path / "zvt_crypto.toml"
        path.write_text(server.config_toml())
        config = load_config(path, home=tmp_path / "home")
        database = Path(make_url(config.db_url).database or "")
        database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sqlite_template, database)
        store = Store(config)
        try:
            yield Venue(case, server, config, store)
        finally:
            store.dispose()


ALL = list(CASES)


# a spot symbol per venue listed inside the simulated history (OKX, Bybit, Coinbase: 2023-12-04 08:00; Upbit: five
# days ago), for the tests that start before a listing or at the venue's first candle
LATE_LISTED = {"okx": "ETH/USDT", "bybit": "ETH/USDT", "coinbase": "ETH/USD", "upbit": "ETH/KRW"}


# ---------------------------------------------------------------------------------------------------------------
# markets
# ---------------------------------------------------------------------------------------------------------------
# trading rules as each venue's market list gives them (None: the venue does not say)
RULES: dict[str, dict[str, dict[str, float | None]]] = {
    "okx": {
        "BTC/USDT": dict(precision_price=0.1, precision_amount=1e-8, min_amount=1e-5, max_amount=10_000.0,
                         min_cost=None),
        "ETH/USDT": dict(precision_price=0.01, precision_amount=1e-6, min_amount=0.001, max_amount=10_000.0,
                         min_cost=None),
    },
    "bybit": {
        "BTC/USDT": dict(precision_price=0.01, precision_amount=1e-6, min_amount=4.8e-5, max_amount=71.73956243,
                         min_cost=1.0),
        "ETH/USDT": dict(precision_price=0.01, precision_amount=1e-5, min_amount=6.2e-4, max_amount=1229.2336343,
                         min_cost=1.0),
    },
    "coinbase": {
        "BTC/USD": dict(precision_price=0.01, precision_amount=1e-8, min_amount=1e-8, max_amount=3400.0, min_cost=1.0),
        "ETH/USD": dict(precision_price=0.01, precision_amount=1e-8, min_amount=1e-8, max_amount=42_000.0,
                        min_cost=1.0),
    },
    "kraken": {
        "BTC/USD": dict(precision_price=0.1, precision_amount=1e-8, min_amount=1e-4, max_amount=None, min_cost=0.5),
        "ETH/USD": dict(precision_price=0.01, precision_amount=1e-8, min_amount=0.002, max_amount=None, min_cost=0.5),
        "BTC/USDT": dict(precision_price=0.1, precision_amount=1e-8, min_amount=1e-4, max_amount=None, min_cost=0.5),
    },
    # Upbit publishes no trading rules in market/all: ccxt's own defaults (1e-8) are what there is
    "upbit": {symbol: dict(precision_price=1e-8, precision_amount=1e-8, min_amount=None, max_amount=None,
                           min_cost=None) for symbol in ("BTC/KRW", "ETH/KRW", "ETH/BTC")},
    "bithumb": {symbol: dict(min_amount=None, max_amount=None, min_cost=None)
                for symbol in ("BTC/KRW", "ETH/KRW", "ETH/BTC")},
}
# the endpoints (with their distinguishing query) ccxt's load_markets calls for each venue
LOAD_MARKETS = {
    "okx": {("/api/v5/public/instruments", ("instType", t)) for t in ("SPOT", "SWAP", "FUTURES", "OPTION")},
    "bybit": {("/v5/market/instruments-info", ("category", c)) for c in ("spot", "linear", "inverse", "option")},
    "coinbase": {("/api/v3/brokerage/market/products", None), ("/v2/currencies", None),
                 ("/v2/currencies/crypto", None), ("/v2/exchange-rates", None)},
    "kraken": {("/0/public/Assets", None), ("/0/public/AssetPairs", None)},
    "upbit": {("/v1/market/all", None)},
    "bithumb": {("/v1/market/all", ("isDetails", "true"))},
}


@pytest.mark.parametrize("venue", ALL, indirect=True)
def test_markets_are_the_venues_pairs_with_its_trading_rules(venue: Venue) -> None:
    """Each venue's market list, parsed by ccxt, becomes pair (and perp) entities with the venue's own rules."""
    summary = CryptoPair.record_data(exchange=venue.exchange, store=venue.store, show_progress=False)
    assert summary.schema == "markets" and not summary.failed, str(summary)
    spot = [listing for listing in venue.server.listings if listing.kind == "spot"]
    stored = CryptoPair.query_data(exchange=venue.exchange, store=venue.store)
    assert sorted(stored["symbol"]) == sorted(listing.symbol for listing in spot)
    for listing in spot:
        base, quote = listing.symbol.split("/")
        row = stored.loc[entity_id(venue.exchange, listing.symbol)]
        assert (row["exchange_symbol"], row["base"], row["quote"], row["entity_type"]) == (
            listing.market_id, base, quote, "pair"), listing.symbol
        assert row["active"] and pd.isna(row["delist_timestamp"]), listing.symbol
        for column, expected in RULES[venue.exchange][listing.symbol].items():
            value = row[column]
            assert (pd.isna(value) if expected is None else value == pytest.approx(expected, rel=1e-12)), (
                listing.symbol, column, value, expected)
        # OKX reports the listing (listTime); the others do not say
        listed = pd.Timestamp(listing.listed, unit="ms", tz="UTC") if venue.exchange == "okx" else None
        assert (row["list_timestamp"] == listed) if listed is not None else pd.isna(row["list_timestamp"])
    # ccxt's load_markets reached every endpoint it needs on the loopback, and every request was answered
    asked = {(r.path, next(((k, v) for k, v in r.params.items() if k in ("instType", "category", "isDetails")), None))
             for r in venue.server.requests}
    assert LOAD_MARKETS[venue.exchange] <= asked
    assert all(r.status == 200 for r in venue.server.requests)
    # the same run stores the venue's perpetuals (OKX and Bybit list one) as perp entities
    perps = CryptoPerp.query_data(exchange=venue.exchange, store=venue.store)
    assert list(perps["symbol"]) == [listing.symbol for listing in venue.server.listings if listing.kind == "swap"]
    if venue.exchange in ("okx", "bybit"):
        _assert_btc_perp(venue, perps.iloc[0])


def _assert_btc_perp(venue: Venue, perp: pd.Series) -> None:
    listing = venue.server.listing("BTC/USDT:USDT")
    contract_size = 0.01 if venue.exchange == "okx" else 1.0  # OKX: ctVal BTC per contract; Bybit: linear qty
    assert (perp["exchange_symbol"], perp["base"], perp["quote"], perp["settle"]) == (
        listing.market_id, "BTC", "USDT", "USDT")
    assert (perp["contract_size"], bool(perp["linear"]), bool(perp["active"])) == (contract_size, True, True)
    assert (perp["precision_price"], perp["precision_amount"], perp["min_amount"]) == (
        float(listing.tick), float(listing.lot), float(str(listing.min_amount)))
    assert perp["list_timestamp"] == pd.Timestamp(listing.listed, unit="ms", tz="UTC")  # listTime / launchTime


@pytest.mark.parametrize("venue", ["bithumb"], indirect=True)
def test_bithumb_precision_is_unknown_not_a_digit_count(venue: Venue) -> None:
    """ccxt's bithumb is in SIGNIFICANT_DIGITS mode with a hard-coded 4: no tick size follows from it, so the
    entity's precision is unknown (it used to be stored as a step of 4.0), on the markets run and on the entity
    rows a bars run writes."""
    assert not venue.record_bars(["BTC/KRW"]).failed  # writes the entity of the market it records
    stored = CryptoPair.query_data(exchange=venue.exchange, store=venue.store)
    assert list(stored["symbol"]) == ["BTC/KRW"] and stored["precision_price"].isna().all()
    CryptoPair.record_data(exchange=venue.exchange, store=venue.store, show_progress=False)
    stored = CryptoPair.query_data(exchange=venue.exchange, store=venue.store)
    # Bithumb's market/all gives no trading rules; "4 significant digits" is not a step of 4 KRW
    assert len(stored) == 3
    assert stored["precision_price"].isna().all() and stored["precision_amount"].isna().all()


# ---------------------------------------------------------------------------------------------------------------
# bars
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("venue", ALL, indirect=True)
def test_bars_equal_the_venues_closed_candles_page_by_page(venue: Venue) -> None:
    """Stored bars are exactly the venue's closed candles (no hole, no duplicate, not the open one), fetched in
    pages of the size the venue serves (newest-first answers, before/after, start/end, to/count windows)."""
    case, level_ms = venue.case, Level.parse(venue.case.level).ms
    now = venue.server.now
    start = _hour_floor(now) - case.days * DAY_MS
    summary = venue.record_bars(list(case.symbols), start=start)
    assert not summary.failed, str(summary)
    page = venue_profile(case.exchange).ohlcv_limit
    expected_bars = (_hour_floor(now) - start) // level_ms  # the open candle is not stored
    for symbol in case.symbols:
        stored, truth = venue.stored_bars(symbol), venue.truth(symbol, start, now)
        assert len(truth) == expected_bars
        assert stored["timestamp"].is_unique and list(stored["timestamp"]) == list(truth["timestamp"]), symbol
        assert stored["timestamp"].iloc[-1] == _hour_floor(now) - level_ms  # the last closed bar, not the open one
        np.testing.assert_array_equal(stored[OHLCV].to_numpy(), truth[OHLCV].to_numpy(), err_msg=symbol)
        assert not coverage(venue.store, exchange=case.exchange, symbols=[symbol], level=case.level)[0].gaps
    assert summary.total("changed") == 2 * expected_bars
    # each request asked for the page the venue serves; as many pages as the range needs, no more
    requests = venue.candle_requests()
    assert {case.asked(r) for r in requests} <= {page, None}
    pages = 1 if case.window else math.ceil(expected_bars / page)
    assert len(requests) == 2 * pages, [r.params for r in requests]
    assert all(r.status == 200 for r in venue.server.requests)


@pytest.mark.parametrize("venue", ALL, indirect=True)
def test_a_second_run_asks_only_for_bars_after_the_last_stored_one(venue: Venue) -> None:
    """A run resumes after the last stored bar: one request, for new candles only, and the series stays whole."""
    case, level_ms = venue.case, Level.parse(venue.case.level).ms
    symbol, now = case.symbols[0], venue.server.now
    start, end = _hour_floor(now) - 3 * DAY_MS, _hour_floor(now) - 6 * HOUR_MS
    first = venue.record_bars([symbol], start=start, end=end)
    assert not first.failed and venue.stored_bars(symbol)["timestamp"].iloc[-1] == end, str(first)
    if case.fixed_clock:
        venue.server.advance(2 * HOUR_MS)  # two more hours pass on the venue
    now = venue.server.now
    venue.server.reset_requests()

    again = venue.record_bars([symbol])
    assert not again.failed, str(again)
    assert again.total("changed") == (_hour_floor(now) - level_ms - end) // level_ms
    requests = venue.candle_requests()
    assert len(requests) == 1  # one page covers the new bars
    assert all(case.earliest(r) is None or case.earliest(r) > end for r in requests), [r.params for r in requests]
    stored, truth = venue.stored_bars(symbol), venue.truth(symbol, start, now)
    assert stored["timestamp"].is_unique
    np.testing.assert_array_equal(stored[["timestamp", *OHLCV]].to_numpy(), truth[["timestamp", *OHLCV]].to_numpy())


@pytest.mark.parametrize("venue", ["kraken", "bithumb"], indirect=True)
def test_a_venue_without_deep_history_gives_what_it_has_once(venue: Venue) -> None:
    """Kraken serves the last 720 candles, Bithumb (through ccxt) the latest 200: a start before that records
    what the venue has in one request, claims no gap inside it and does not loop."""
    case, symbol, now = venue.case, venue.case.symbols[0], venue.server.now
    assert case.window is not None and not venue_profile(case.exchange).ohlcv_backfill
    start = _hour_floor(now) - 60 * DAY_MS
    summary = venue.record_bars([symbol], start=start)
    assert not summary.failed, str(summary)
    oldest_served = _hour_floor(now) - (case.window - 1) * HOUR_MS
    stored, truth = venue.stored_bars(symbol), venue.truth(symbol, oldest_served, now)
    assert len(stored) == case.window - 1  # everything served but the open candle
    np.testing.assert_array_equal(stored[["timestamp", *OHLCV]].to_numpy(), truth[["timestamp", *OHLCV]].to_numpy())
    assert len(venue.candle_requests()) == 1
    assert summary.results[0].gaps_found == 0 and KnownGap.query_data(store=venue.store).empty

    venue.server.reset_requests()
    again = venue.record_bars([symbol], start=start)  # the same request again: nothing new, one request
    assert not again.failed and again.total("changed") == 0 and len(venue.candle_requests()) == 1


@pytest.mark.parametrize("venue", ["kraken"], indirect=True)
def test_a_pause_longer_than_krakens_window_leaves_one_confirmed_gap(venue: Venue) -> None:
    """After a pause beyond the 720 candles Kraken keeps, the hole cannot be filled: it is confirmed once as a
    known gap and not asked for again on every later run."""
    symbol = venue.case.symbols[0]
    venue.record_bars([symbol], start=NOW - 2 * DAY_MS)
    venue.server.advance(35 * DAY_MS)  # 840 hours later
    summary = venue.record_bars([symbol])
    result = summary.results[0]
    assert not summary.failed and (result.gaps_found, result.gaps_filled, result.gaps_confirmed) == (1, 0, 1)
    gaps = coverage(venue.store, exchange="kraken", symbols=[symbol], level="1h")[0].gaps
    assert [(gap.missing, gap.known) for gap in gaps] == [(840 - 719, True)]
    venue.server.reset_requests()
    again = venue.record_bars([symbol])
    assert again.results[0].gaps_found == 0 and venue.candle_requests() == []


@pytest.mark.parametrize("venue", ALL, indirect=True)
def test_a_first_run_without_start_records_from_the_first_candle_served(venue: Venue) -> None:
    """No start and an empty store: the history starts at the venue's first candle (its listing, or the oldest it
    still serves). ccxt turns ``since=0`` into an empty 1970 window on OKX, Coinbase and Upbit (``ohlcv_paging =
    "window"``), where the first candle is searched for in a logarithmic number of requests; Bithumb answers its
    latest 200 whatever ``since`` says (``"latest"``)."""
    case = venue.case
    symbol, now = LATE_LISTED.get(case.exchange, case.symbols[0]), venue.server.now
    served = venue.server.candles(symbol, HOUR_MS, now)
    first = int(served.open_time[0]) if case.window is None else int(served.open_time[-case.window])
    summary = venue.record_bars([symbol], level="1h")
    assert not summary.failed, str(summary)
    stored, truth = venue.stored_bars(symbol, "1h"), venue.truth(symbol, first, now, "1h")
    assert len(stored) == len(truth) > 0
    np.testing.assert_array_equal(stored[["timestamp", *OHLCV]].to_numpy(), truth[["timestamp", *OHLCV]].to_numpy())
    # the search costs about two probes per doubling back to 2009, not a walk through every window
    window = venue_profile(case.exchange).ohlcv_limit * HOUR_MS
    pages = math.ceil(len(truth) / venue_profile(case.exchange).ohlcv_limit)
    probes = 2 * math.ceil(math.log2((now - EARLIEST_BAR_MS) / window)) + 1
    assert len(venue.candle_requests()) <= pages + probes, [r.params for r in venue.candle_requests()]


@pytest.mark.parametrize("venue", list(LATE_LISTED), indirect=True)
def test_a_start_before_the_listing_records_from_the_listing(venue: Venue) -> None:
    """A start weeks before a market listed records its whole history from the first candle: on window-paged
    venues (OKX, Coinbase, Upbit) the empty windows before the listing do not end the range."""
    symbol = LATE_LISTED[venue.exchange]
    now, listed = venue.server.now, venue.server.listing(symbol).listed
    summary = venue.record_bars([symbol], level="1h", start=listed - 20 * DAY_MS)
    assert not summary.failed, str(summary)
    stored, truth = venue.stored_bars(symbol, "1h"), venue.truth(symbol, listed, now, "1h")
    assert len(stored) == len(truth) and stored["timestamp"].iloc[0] == _hour_floor(listed)


# ---------------------------------------------------------------------------------------------------------------
# trades
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("venue", ALL, indirect=True)
def test_recent_trades_are_the_venues_trades(venue: Venue) -> None:
    """The last five minutes of public trades (within every venue's recent-trades page) are stored as served."""
    symbol = venue.case.symbols[0]
    before = venue.server.now
    start = before - 5 * 60_000
    summary = Trade.record_data(exchange=venue.exchange, symbols=[symbol], start=start, store=venue.store,
                                show_progress=False)
    assert not summary.failed, str(summary)
    stored = Trade.query_data(exchange=venue.exchange, symbols=[symbol], store=venue.store, index=None)
    stamps = pd.DatetimeIndex(stored["timestamp"]).as_unit("ms").asi8
    newest = int(stamps.max())
    assert newest >= venue.server.trades(symbol, 1, now=before)[0].timestamp  # up to the venue's now
    served = [tick for tick in venue.server.trades(symbol, 500, since=start) if tick.timestamp <= newest]
    assert list(stored["price"]) == [float(tick.price) for tick in served]
    assert list(stored["amount"]) == [float(tick.amount) for tick in served]
    assert list(stamps) == [tick.timestamp for tick in served]
    assert list(stored["trade_id"].astype(str)) == [_trade_id(venue.exchange, tick.trade_id) for tick in served]


def _trade_id(exchange: str, trade_id: int) -> str:
    """Upbit and Bithumb number trades by ``sequential_id`` (here the id × 10,000)."""
    return str(trade_id * 10_000) if exchange in ("upbit", "bithumb") else str(trade_id)


def _stored_trades(venue: Venue, symbol: str) -> pd.DataFrame:
    """Stored trades as ``timestamp`` (ms), ``trade_id``, ``price``, ``amount``, oldest first."""
    stored = Trade.query_data(exchange=venue.exchange, symbols=[symbol], store=venue.store, index=None)
    return pd.DataFrame({"timestamp": pd.DatetimeIndex(stored["timestamp"]).as_unit("ms").asi8,
                         "trade_id": stored["trade_id"].astype(str).to_numpy(),
                         "price": stored["price"].to_numpy(), "amount": stored["amount"].to_numpy()})


def _assert_trades_are(stored: pd.DataFrame, served: list) -> None:
    assert list(stored["timestamp"]) == [tick.timestamp for tick in served]
    assert list(stored["trade_id"]) == [str(tick.trade_id) for tick in served]
    assert list(stored["price"]) == [float(tick.price) for tick in served]
    assert list(stored["amount"]) == [float(tick.amount) for tick in served]


def _ticker_windows(venue: Venue, symbol: str) -> list[tuple[int, int]]:
    """``(start, end)`` in ms of each Coinbase ticker request for ``symbol``, in order."""
    market_id = venue.server.listing(symbol).market_id
    return [(int(r.params["start"]) * 1000, int(r.params["end"]) * 1000)
            for r in venue.server.calls(f"/api/v3/brokerage/market/products/{market_id}/ticker")]


@pytest.mark.parametrize("venue", ["coinbase"], indirect=True)
def test_coinbase_trades_of_more_than_a_page_are_paged_back_with_until(venue: Venue) -> None:
    """Coinbase answers the newest 1,000 trades of ``[start, end]`` (ccxt needs ``until`` with ``since``). Four
    hours (1,440 trades) are recorded in windows from the oldest: the first hour (360 trades, one request), then
    the rest, sized from that rate (1,080 trades: two requests, the second ending where the first began); every
    trade is stored once."""
    symbol, now = venue.case.symbols[0], venue.server.now
    start = now - 4 * HOUR_MS
    summary = Trade.record_data(exchange="coinbase", symbols=[symbol], start=start, store=venue.store,
                                show_progress=False)
    assert not summary.failed, str(summary)
    served = venue.server.trades(symbol, 10_000, since=start)
    assert len(served) == 4 * HOUR_MS // 10_000 > venue_profile("coinbase").trades_limit
    _assert_trades_are(_stored_trades(venue, symbol), served)
    assert summary.total("changed") == len(served)
    windows = _ticker_windows(venue, symbol)
    assert windows[:2] == [(start, start + HOUR_MS), (start + HOUR_MS, now)], windows
    assert len(windows) == 3 and windows[2][0] == start + HOUR_MS and start + HOUR_MS < windows[2][1] < now
    assert all(r.status == 200 for r in venue.server.requests)


@pytest.mark.parametrize("failing", [2, 3])
@pytest.mark.parametrize("venue", ["coinbase"], indirect=True)
def test_coinbase_trades_stopped_part_way_store_a_prefix_and_resume_without_a_hole(venue: Venue,
                                                                                     failing: int) -> None:
    """A run whose request fails part-way (the second request: the first page of the second window; the third:
    its second page, after a first one arrived) stores only the windows completed before it, oldest first:
    exactly the served trades up to some time, never newer trades with older ones missing (which the next run,
    resuming after the newest stored trade, would never fetch). The next run resumes there and the store ends
    with every trade once."""
    symbol, now = venue.case.symbols[0], venue.server.now
    start = now - 4 * HOUR_MS
    served = venue.server.trades(symbol, 10_000, since=start)
    asked: list[dict[str, str]] = []

    def fault(query: dict[str, str]) -> bool:
        asked.append(query)
        return len(asked) == failing

    venue.server.ticker_fault = fault
    failed = Trade.record_data(exchange="coinbase", symbols=[symbol], start=start, store=venue.store,
                               show_progress=False)
    assert failed.failed and len(asked) == failing, str(failed)
    stored = _stored_trades(venue, symbol)
    # a prefix in time of what the venue serves: the first window (one hour) and nothing of the failed one
    assert 0 < len(stored) < len(served)
    _assert_trades_are(stored, served[:len(stored)])
    assert stored["timestamp"].iloc[-1] < start + HOUR_MS <= served[len(stored)].timestamp

    venue.server.ticker_fault = None
    venue.server.reset_requests()
    again = Trade.record_data(exchange="coinbase", symbols=[symbol], store=venue.store, show_progress=False)
    assert not again.failed, str(again)
    _assert_trades_are(_stored_trades(venue, symbol), served)  # every trade, once
    assert again.total("changed") == len(served) - len(stored)
    # it resumed at the last stored trade's second, not at the start
    assert {s for s, _ in _ticker_windows(venue, symbol)} >= {int(stored["timestamp"].iloc[-1]) // 1000 * 1000}
    assert min(s for s, _ in _ticker_windows(venue, symbol)) >= int(stored["timestamp"].iloc[-1]) // 1000 * 1000


@pytest.mark.parametrize("venue", ["coinbase"], indirect=True)
def test_coinbase_trades_skip_quickly_through_a_span_without_trades(venue: Venue) -> None:
    """Weeks before a market listed have no trades: empty windows grow, so the span costs a few requests (one
    per empty window), and the trades after the listing are all stored."""
    symbol, now = "ETH/USD", venue.server.now
    listed = venue.server.listing(symbol).listed
    start, end = listed - 30 * DAY_MS, listed + 2 * HOUR_MS
    summary = Trade.record_data(exchange="coinbase", symbols=[symbol], start=start, end=end, store=venue.store,
                                show_progress=False)
    assert not summary.failed, str(summary)
    served = venue.server.trades(symbol, 10_000, since=start, now=end)
    assert 0 < len(served) <= venue_profile("coinbase").trades_limit
    _assert_trades_are(_stored_trades(venue, symbol), served)
    windows = _ticker_windows(venue, symbol)
    # one request a window, each starting where the one before ended, widening eight-fold while empty
    assert windows[0] == (start, start + HOUR_MS) and len(windows) <= 6, windows
    assert all(a[1] == b[0] and b[1] - b[0] <= 8 * (a[1] - a[0]) for a, b in itertools.pairwise(windows)), windows
    assert windows[-1][1] == end < now


@pytest.mark.parametrize("venue", ["bybit"], indirect=True)
def test_bybit_trades_ask_for_the_page_each_category_serves(venue: Venue) -> None:
    """Bybit's recent-trade serves 60 spot trades and 1,000 linear ones, and nothing older. The perp's twenty
    minutes (120 trades) are all stored from one request; for spot the latest 60 are, and the summary says the
    older part of the range is beyond what Bybit serves (a note, not a failure)."""
    now, start = venue.server.now, venue.server.now - 20 * 60_000
    summary = Trade.record_data(exchange="bybit", symbols=["BTC/USDT", "BTC/USDT:USDT"], start=start,
                                store=venue.store, show_progress=False)
    assert not summary.failed, str(summary)
    requests = venue.server.calls("/v5/market/recent-trade")
    assert sorted((r.params["category"], r.params["limit"]) for r in requests) == [("linear", "1000"),
                                                                                   ("spot", "60")]
    perp = venue.server.trades("BTC/USDT:USDT", 1000, since=start, now=now)
    assert len(perp) == 120
    _assert_trades_are(_stored_trades(venue, "BTC/USDT:USDT"), perp)
    spot = venue.server.trades("BTC/USDT", 60, now=now)[::-1]  # the latest 60, oldest first
    _assert_trades_are(_stored_trades(venue, "BTC/USDT"), spot)
    notes = {result.symbol: result.notes for result in summary.results}
    assert notes["BTC/USDT:USDT"] == [] and len(notes["BTC/USDT"]) == 1
    assert "bybit serves only its latest 60 trades" in notes["BTC/USDT"][0]
    assert "bybit serves only its latest 60 trades" in str(summary)


# ---------------------------------------------------------------------------------------------------------------
# what a venue does not offer
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("venue", ["coinbase", "kraken", "upbit", "bithumb"], indirect=True)
def test_funding_rates_from_a_spot_only_venue_are_refused_by_name(venue: Venue) -> None:
    """A kind the venue's ccxt ``has`` flags deny fails up front, naming the venue and the kind."""
    with pytest.raises(UnsupportedDataError, match=rf"^{venue.exchange} does not offer funding rates"):
        FundingRate.record_data(exchange=venue.exchange, symbols=[venue.case.symbols[0]], store=venue.store,
                                show_progress=False)
    assert venue.server.requests == []  # refused before any request


@pytest.mark.parametrize(("venue", "level", "source"), [("coinbase", "4h", "2h"), ("coinbase", "3d", "1d"),
                                                         ("coinbase", "12h", "6h"), ("bithumb", "1d", "4h")],
                         indirect=["venue"])
def test_a_level_the_venue_does_not_serve_is_refused_by_name(venue: Venue, level: str, source: str) -> None:
    """Coinbase has no 4h, 12h or 3d candles, ccxt's Bithumb no 1d: refused before any candle request, naming the
    coarsest served level that builds it exactly."""
    with pytest.raises(UnsupportedDataError, match=rf"^{venue.exchange} does not serve {level} bars") as info:
        venue.record_bars([venue.case.symbols[0]], level=level)
    command = f"zvt-crypto resample --exchange {venue.exchange} --symbol SYMBOL --from {source} --to {level}"
    assert str(info.value).endswith(f"; record {source} bars and build {level} bars exactly from them: {command}")
    assert venue.candle_requests() == []
