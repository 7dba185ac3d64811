"""Gap audit on real databases: every missing bar on the grid is found, known gaps are labelled."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pandas as pd
import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar, FundingRate, KnownGap
from zvt_crypto.domain.coverage import coverage, format_coverage


def _write_with_holes(store: Store, bars: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    btc = bars("pair_binance_BTC-USDT", n=120, level="1m")
    btc = btc.drop(index=[*range(10, 15), 50, 119 - 1])  # a 5-bar gap, a 1-bar gap, the one before the last
    eth = bars("pair_binance_ETH-USDT", n=48, level="1h")
    perp = bars("perp_binanceusdm_BTC-USDT.USDT", n=30, level="1m").drop(index=[3])
    for frame in (btc, eth, perp):
        store.write(Bar, frame)
    return btc


def test_gaps_counts_and_ranges(store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    btc = _write_with_holes(store, bars)
    rows = {(row.entity_id, row.level): row for row in coverage(store)}
    assert set(rows) == {("pair_binance_BTC-USDT", "1m"), ("pair_binance_ETH-USDT", "1h"),
                         ("perp_binanceusdm_BTC-USDT.USDT", "1m")}
    row = rows[("pair_binance_BTC-USDT", "1m")]
    assert row.rows == len(btc) == 113
    assert row.expected == 120 and row.missing == 7
    stamps = [(gap.start, gap.end, gap.missing) for gap in row.gaps]
    t0 = int(btc["timestamp"].iloc[0].value // 1_000_000)
    minute = 60_000
    assert stamps == [(t0 + 10 * minute, t0 + 14 * minute, 5), (t0 + 50 * minute, t0 + 50 * minute, 1),
                      (t0 + 118 * minute, t0 + 118 * minute, 1)]
    assert rows[("pair_binance_ETH-USDT", "1h")].gaps == []


def test_filters_and_known_gaps(store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    btc = _write_with_holes(store, bars)
    outage = btc["timestamp"].iloc[0] + pd.Timedelta(minutes=10)
    store.write(KnownGap, pd.DataFrame([{
        "schema_name": "Bar", "entity_id": "pair_binance_BTC-USDT", "level": "1m", "start_timestamp": outage,
        "end_timestamp": outage + pd.Timedelta(minutes=4), "reason": "venue maintenance",
    }]))
    only = coverage(store, exchange="binance", symbols=["BTC/USDT"], level="1m")
    assert [row.entity_id for row in only] == ["pair_binance_BTC-USDT"]
    gaps = only[0].gaps
    assert [gap.known for gap in gaps] == [True, False, False]
    assert gaps[0].reason == "venue maintenance"
    assert only[0].unexplained == 2
    # the exchange filter does not leak into a venue whose id starts the same way
    assert [row.entity_id for row in coverage(store, exchange="binance")] == [
        "pair_binance_BTC-USDT", "pair_binance_ETH-USDT"]
    assert [row.entity_id for row in coverage(store, exchange="binanceusdm")] == ["perp_binanceusdm_BTC-USDT.USDT"]


def test_formats(sqlite_store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    _write_with_holes(sqlite_store, bars)
    rows = coverage(sqlite_store)
    parsed = json.loads(format_coverage(rows, "json"))
    btc = next(item for item in parsed if item["entity_id"] == "pair_binance_BTC-USDT")
    assert btc["missing"] == 7 and btc["gaps"][0]["start"] == "2024-01-01T00:10:00Z"
    lines = list(csv.DictReader(io.StringIO(format_coverage(rows, "csv"))))
    assert {line["entity_id"]: int(line["gaps"]) for line in lines}["pair_binance_BTC-USDT"] == 3
    table = format_coverage(rows, "table")
    assert "pair_binance_BTC-USDT" in table and "2024-01-01T00:10:00Z" in table
    with pytest.raises(InvalidInputError, match="table, csv or json"):
        format_coverage(rows, "xml")


def test_empty_store_and_unleveled_schema(sqlite_store: Store) -> None:
    assert coverage(sqlite_store) == []
    assert "no data" in format_coverage([], "table")
    with pytest.raises(InvalidInputError, match="no level"):
        coverage(sqlite_store, FundingRate)


def test_requested_range_counts_the_holes_at_its_ends(store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    _write_with_holes(store, bars)  # BTC 1m from 2024-01-01 00:00 to 01:59, holes at 00:10-00:14, 00:50, 01:58
    minute = 60_000
    t0 = 1_704_067_200_000
    (row,) = coverage(store, entity_ids=["pair_binance_BTC-USDT"], level="1m", start=t0 - 5 * minute + 1,
                      end=t0 + 129 * minute + 30_000)
    assert (row.start, row.end) == (t0 - 4 * minute, t0 + 129 * minute)  # on the grid, inside the range
    assert [(gap.start, gap.end, gap.missing) for gap in row.gaps] == [
        (t0 - 4 * minute, t0 - minute, 4), (t0 + 10 * minute, t0 + 14 * minute, 5),
        (t0 + 50 * minute, t0 + 50 * minute, 1), (t0 + 118 * minute, t0 + 118 * minute, 1),
        (t0 + 120 * minute, t0 + 129 * minute, 10)]
    assert (row.expected, row.missing, row.unexplained) == (134, 21, 21)
    # only the rows inside the range count; the tail hole is known when a KnownGap covers it
    store.write(KnownGap, pd.DataFrame([{
        "schema_name": "Bar", "entity_id": "pair_binance_BTC-USDT", "level": "1m",
        "start_timestamp": t0 + 120 * minute, "end_timestamp": t0 + 200 * minute, "reason": "halt"}]))
    (inner,) = coverage(store, entity_ids=["pair_binance_BTC-USDT"], level="1m", start=t0 + 20 * minute,
                        end=t0 + 129 * minute)
    assert (inner.first, inner.rows) == (t0 + 20 * minute, 98)
    assert [(gap.start, gap.known) for gap in inner.gaps] == [
        (t0 + 50 * minute, False), (t0 + 118 * minute, False), (t0 + 120 * minute, True)]
    assert json.loads(format_coverage([inner], "json"))[0]["end"] == "2024-01-01T02:09:00Z"
