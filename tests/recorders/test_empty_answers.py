"""Empty answers (HTTP 200 with ``[]``) from the simulated Binance: a claim to verify, never the end of the data;
known gaps only when confirmed, and re-auditable; a stray future row does not stall resuming."""

from __future__ import annotations

from typing import Any

import ccxt
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from zvt_crypto.contract.config import Config
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.levels import DAY_MS
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import to_ms
from zvt_crypto.domain import Bar, FundingRate, IndexPriceBar, KnownGap, MarkPriceBar, OpenInterest
from zvt_crypto.domain.coverage import coverage
from zvt_crypto.recorders import (
    BarsRecorder,
    FundingRateRecorder,
    IndexPriceBarsRecorder,
    MarkPriceBarsRecorder,
    OpenInterestRecorder,
    Recorder,
)
from zvt_crypto.sim import Fault, SimulatedExchange

from .conftest import HOUR, NOW

MINUTE = 60_000
KLINES = "/api/v3/klines"
BTC = "pair_binance_BTC-USDT"
PERP = "BTC/USDT:USDT"
PERP_ID = "perp_binanceusdm_BTC-USDT.USDT"


def record(recorder: type[Recorder], store: Store, config: Config, exchange: str = "binance",
           **options: Any):
    return recorder(store, config).record(exchange=exchange, show_progress=False, **options)


def every_fourth_empty(path: str) -> Fault:
    return Fault("empty", path, count=None, skip=3, every=4)


def stored_times(schema: Any, store: Store, eid: str, level: str | None = None) -> list[int]:
    frame = schema.query_data(entity_ids=[eid], level=level, columns=[], store=store)
    return [int(t.value // 1_000_000) for t in frame.index.get_level_values("timestamp")]


def venue_rows(sim: SimulatedExchange, exchange: str, method: str, *args: Any, since: int, until: int,
               limit: int = 1000) -> list[Any]:
    """The ground truth: every row the venue serves in ``[since, until]``, paged with the sync ccxt client."""
    client = getattr(ccxt, exchange)(sim.ccxt_options(exchange) | {"enableRateLimit": False})
    rows: list[Any] = []
    while since <= until:
        page = getattr(client, method)(*args, since, limit)
        stamp = (lambda row: row[0]) if page and isinstance(page[0], list) else (lambda row: row["timestamp"])
        page = [row for row in page if since <= stamp(row) <= until]
        if not page:
            break
        rows += page
        since = stamp(page[-1]) + 1
    return rows


def test_every_fourth_empty_kline_answer_loses_no_1m_bar(sim: SimulatedExchange, sim_store: Store,
                                                         sim_config: Config) -> None:
    start = NOW - 8 * DAY_MS  # 11,520 1m bars: 12 pages
    sim.faults.add(every_fourth_empty(KLINES))
    summary = record(BarsRecorder, sim_store, sim_config, symbols=["BTC/USDT"], level="1m", start=start)
    assert not summary.failed, str(summary)
    sim.faults.clear()
    truth = venue_rows(sim, "binance", "fetch_ohlcv", "BTC/USDT", "1m", since=start, until=NOW - MINUTE)
    assert len(truth) == 11_520
    stored = Bar.query_data(entity_ids=[BTC], level="1m", store=sim_store)
    assert stored_times(Bar, sim_store, BTC, "1m") == [row[0] for row in truth]
    np.testing.assert_array_equal(stored["close"].to_numpy(), [row[4] for row in truth])
    assert KnownGap.query_data(store=sim_store).empty
    assert summary.results[0].gaps_found == 0  # the loop asked again: nothing was left for the audit


def test_every_fourth_empty_answer_loses_no_mark_or_index_bar(sim: SimulatedExchange, sim_store: Store,
                                                              sim_config: Config) -> None:
    start = NOW - 5 * DAY_MS
    for recorder, schema, method, path in (
            (MarkPriceBarsRecorder, MarkPriceBar, "fetch_mark_ohlcv", "/fapi/v1/markPriceKlines"),
            (IndexPriceBarsRecorder, IndexPriceBar, "fetch_index_ohlcv", "/fapi/v1/indexPriceKlines")):
        sim.faults.add(Fault("empty", path, count=None, skip=1, every=2))  # every other answer
        summary = record(recorder, sim_store, sim_config, "binanceusdm", symbols=[PERP], level="1m", start=start)
        assert not summary.failed, str(summary)
        sim.faults.clear()
        truth = venue_rows(sim, "binanceusdm", method, PERP, "1m", since=start, until=NOW - MINUTE)
        assert len(truth) == 5 * 1440
        assert stored_times(schema, sim_store, PERP_ID, "1m") == [row[0] for row in truth]


def test_empty_funding_answers_lose_no_funding_rate(sim: SimulatedExchange, sim_store: Store,
                                                    sim_config: Config) -> None:
    sim.faults.add(Fault("empty", "/fapi/v1/fundingRate", count=None, every=2))  # the 1st, 3rd, 5th … answer
    summary = record(FundingRateRecorder, sim_store, sim_config, "binanceusdm", symbols=[PERP])  # no start
    assert not summary.failed, str(summary)
    sim.faults.clear()
    truth = venue_rows(sim, "binanceusdm", "fetch_funding_rate_history", PERP, since=0, until=NOW)
    assert len(truth) > 250
    assert stored_times(FundingRate, sim_store, PERP_ID) == [row["timestamp"] for row in truth]


def test_every_fourth_empty_answer_loses_no_open_interest(sim: SimulatedExchange, sim_store: Store,
                                                          sim_config: Config) -> None:
    sim.faults.add(every_fourth_empty("/futures/data/openInterestHist"))
    summary = record(OpenInterestRecorder, sim_store, sim_config, "binanceusdm", symbols=[PERP], level="5m")
    assert not summary.failed, str(summary)
    sim.faults.clear()
    first = NOW - 29 * DAY_MS
    truth = venue_rows(sim, "binanceusdm", "fetch_open_interest_history", PERP, "5m", since=first,
                       until=NOW - 5 * MINUTE, limit=500)
    assert len(truth) == 29 * 288
    assert stored_times(OpenInterest, sim_store, PERP_ID, "5m") == [row["timestamp"] for row in truth]


def test_first_run_without_start_survives_an_empty_first_answer(sim: SimulatedExchange, sim_store: Store,
                                                                sim_config: Config) -> None:
    sim.faults.add(Fault("empty", KLINES, count=1))
    summary = record(BarsRecorder, sim_store, sim_config, symbols=["SOL/USDT"], level="1d")
    assert not summary.failed, str(summary)
    assert summary.total("changed") == 35  # SOL's daily bars from its listing (2023-12-04) to the last closed day


def test_a_symbol_the_venue_keeps_answering_empty_for_is_reported(sim: SimulatedExchange, sim_store: Store,
                                                                  sim_config: Config) -> None:
    sim.faults.add(Fault("empty", KLINES, symbol="SOL/USDT", count=None))
    summary = record(BarsRecorder, sim_store, sim_config, symbols=["SOL/USDT", "BTC/USDT"], level="1d")
    sol = next(result for result in summary.results if result.symbol == "SOL/USDT")
    assert sol.changed == 0
    assert any("answered no bars" in note and "SOL/USDT" not in note for note in sol.notes), sol.notes
    assert "SOL/USDT: binance answered no bars" in str(summary)


def test_tail_the_venue_did_not_serve_is_reported_and_covered(sim: SimulatedExchange, sim_store: Store,
                                                              sim_config: Config) -> None:
    start = NOW - 2 * DAY_MS
    sim.faults.add(Fault("empty", KLINES, count=None, skip=1))  # one page, then nothing but empty answers
    summary = record(BarsRecorder, sim_store, sim_config, symbols=["BTC/USDT"], level="1m", start=start)
    result = summary.results[0]
    assert result.changed == 1000
    assert summary.failed == [result]  # never exit 0 with less than the venue has
    assert result.error == (
        "binance answered no bars from 2024-01-06T16:40:00Z to 2024-01-07T23:59:00Z (asked again): not recorded; run "
        "again later (it asks again), `zvt-crypto coverage --schema Bar --exchange binance --symbol BTC/USDT --level "
        "1m --end 2024-01-07T23:59:00Z` shows the hole")
    assert KnownGap.query_data(store=sim_store).empty  # an unconfirmed tail is not an outage
    (row,) = coverage(sim_store, entity_ids=[BTC], level="1m", start=start, end=NOW - MINUTE)
    assert [(gap.start, gap.end, gap.missing, gap.known) for gap in row.gaps] == [
        (start + 1000 * MINUTE, NOW - MINUTE, 1880, False)]
    assert (row.expected, row.missing, row.unexplained) == (2880, 1880, 1880)
    sim.faults.clear()
    again = record(BarsRecorder, sim_store, sim_config, symbols=["BTC/USDT"], level="1m")  # the rerun fills it
    assert again.total("changed") == 1880 and not again.failed and not again.results[0].notes
    assert not coverage(sim_store, entity_ids=[BTC], level="1m", start=start, end=NOW - MINUTE)[0].gaps


def _lose_hours(store: Store, first: str, last: str) -> None:
    with store.begin() as connection:  # as if an older run had lost these rows
        connection.execute(text("DELETE FROM bar WHERE timestamp BETWEEN :a AND :b"),
                           {"a": to_ms(first), "b": to_ms(last)})


def test_one_empty_answer_in_the_audit_is_not_a_known_gap(sim: SimulatedExchange, sim_store: Store,
                                                          sim_config: Config) -> None:
    record(BarsRecorder, sim_store, sim_config, symbols=["BTC/USDT"], level="1h", start="2024-01-06")
    _lose_hours(sim_store, "2024-01-06T05:00:00Z", "2024-01-06T07:00:00Z")
    sim.faults.add(Fault("empty", KLINES, count=1))
    summary = record(BarsRecorder, sim_store, sim_config, symbols=["BTC/USDT"], level="1h")
    result = summary.results[0]
    assert (result.gaps_found, result.gaps_filled, result.gaps_confirmed) == (1, 1, 0)
    assert KnownGap.query_data(store=sim_store).empty
    assert len(stored_times(Bar, sim_store, BTC, "1h")) == 48


def test_an_outage_is_confirmed_by_two_requests(sim: SimulatedExchange, sim_store: Store,
                                                sim_config: Config) -> None:
    sim.add_gap("2024-01-05T10:00:00Z", "2024-01-05T13:00:00Z", symbol="BTC/USDT")
    record(BarsRecorder, sim_store, sim_config, symbols=["BTC/USDT"], level="1h", start="2024-01-05")
    audit = [r.params for r in sim.requests if r.path == KLINES][1:]  # after the one page of the range
    assert [int(params["startTime"]) for params in audit] == [to_ms("2024-01-05T10:00:00Z")] * 2
    known = KnownGap.query_data(store=sim_store, index=None)
    assert list(zip(known["start_timestamp"], known["end_timestamp"], strict=True)) == [
        (pd.Timestamp("2024-01-05T10:00:00Z"), pd.Timestamp("2024-01-05T12:00:00Z"))]


def test_recheck_gaps_refills_a_known_gap_the_venue_now_serves(sim: SimulatedExchange, sim_store: Store,
                                                               sim_config: Config) -> None:
    sim.add_gap("2024-01-05T10:00:00Z", "2024-01-05T13:00:00Z", symbol="BTC/USDT")
    sim.add_gap("2024-01-06T02:00:00Z", "2024-01-06T04:00:00Z", symbol="BTC/USDT")
    record(BarsRecorder, sim_store, sim_config, symbols=["BTC/USDT"], level="1h", start="2024-01-05")
    assert len(KnownGap.query_data(store=sim_store)) == 2
    sim.faults.clear()  # the venue backfilled the first outage, not the second
    sim.add_gap("2024-01-06T02:00:00Z", "2024-01-06T04:00:00Z", symbol="BTC/USDT")
    plain = record(BarsRecorder, sim_store, sim_config, symbols=["BTC/USDT"], level="1h")
    assert plain.results[0].gaps_found == 0  # known gaps are not requested again by default
    summary = record(BarsRecorder, sim_store, sim_config, symbols=["BTC/USDT"], level="1h", recheck_gaps=True)
    result = summary.results[0]
    assert (result.gaps_found, result.gaps_filled, result.gaps_confirmed) == (2, 1, 1)
    known = KnownGap.query_data(store=sim_store, index=None)
    assert list(known["start_timestamp"]) == [pd.Timestamp("2024-01-06T02:00:00Z")]
    (row,) = coverage(sim_store, entity_ids=[BTC], level="1h")
    assert row.rows == 72 - 2 and [(gap.missing, gap.known) for gap in row.gaps] == [(2, True)]


def test_a_stray_future_bar_does_not_stall_resuming(sim: SimulatedExchange, sim_store: Store,
                                                    sim_config: Config) -> None:
    record(BarsRecorder, sim_store, sim_config, symbols=["BTC/USDT"], level="1m", start=NOW - HOUR)
    stray = to_ms("2029-01-01")
    row = Bar.query_data(entity_ids=[BTC], level="1m", store=sim_store, index=None).iloc[[-1]]
    # writes now refuse bars after the clock: this stray row is one an older version let in (a clock in 2029)
    sim_store.write(Bar, row.assign(timestamp=pd.Timestamp(stray, unit="ms", tz="UTC")), level="1m",
                    now_ms=stray + HOUR)
    sim.advance(30 * 60)
    summary = record(BarsRecorder, sim_store, sim_config, symbols=["BTC/USDT"], level="1m")
    assert not summary.failed, str(summary)
    assert summary.total("changed") == 30  # resumed after the last bar not after the venue's clock
    assert KnownGap.query_data(store=sim_store).empty  # no "confirmed" gap from the venue's now to 2029
    notes = summary.results[0].notes
    assert any("1 stored row" in note and "2029-01-01" in note and "zvt-crypto query Bar" in note
               for note in notes), notes
    assert stored_times(Bar, sim_store, BTC, "1m")[-2:] == [NOW + 29 * MINUTE, stray]


def test_recheck_gaps_is_refused_where_there_is_no_gap_audit(sim_store: Store, sim_config: Config) -> None:
    with pytest.raises(InvalidInputError, match="funding rates are not gap-audited; drop recheck_gaps"):
        record(FundingRateRecorder, sim_store, sim_config, "binanceusdm", symbols=[PERP], recheck_gaps=True)


def test_rows_dated_after_the_venue_clock_are_ignored_and_noted(sim_store: Store, sim_config: Config) -> None:
    class SlowClockRecorder(BarsRecorder):
        """The venue's clock two hours behind its data: its bars after that are dated in its future."""

        async def venue_now(self, context: Any) -> int:
            return NOW - 2 * HOUR

    summary = record(SlowClockRecorder, sim_store, sim_config, symbols=["BTC/USDT"], level="1m",
                     start=NOW - 3 * HOUR)
    assert stored_times(Bar, sim_store, BTC, "1m")[-1] == NOW - 2 * HOUR - MINUTE  # the last closed bar
    assert summary.total("changed") == 60
    notes = summary.results[0].notes
    assert any(note.startswith("binance sent 119 row(s) dated after its clock") for note in notes), notes
