"""Bars for a chart: at most the budget of candles, each equal to the project's resampler's, and a zoom that
reaches the stored level; lines thinned to the same grid; the catalogue of stored series and factors."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.levels import DAY_MS, HOUR_MS, MINUTE_MS, Level
from zvt_crypto.contract.resample import resample_bars
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar
from zvt_crypto.domain.chart import (
    OHLCV,
    BarsView,
    bar_series,
    bars_at_budget,
    display_level,
    last_per_bar,
    perp_lines,
    stored_factors,
)

BTC = "pair_binance_BTC-USDT"


def _minutes_with_holes(store: Store, bars: Callable[..., pd.DataFrame], n: int = 3_000) -> pd.DataFrame:
    """``n`` 1m bars from 2024-01-01 with a 7-bar hole in the second hour and one missing bar in the tenth."""
    frame = bars(BTC, n=n, level="1m").drop(index=[*range(70, 77), 9 * 60 + 30])
    store.write(Bar, frame)
    return frame


def _stored(store: Store, level: str = "1m") -> pd.DataFrame:
    return Bar.query_data(entity_ids=[BTC], level=level, columns=list(OHLCV), store=store)


@pytest.mark.parametrize(("span_ms", "budget", "expected"), [
    (DAY_MS - MINUTE_MS, 2_000, "1m"),      # 1,440 one-minute bars fit
    (2 * DAY_MS, 2_000, "5m"),              # 2,881 do not; 577 five-minute bars do
    (1_000_000 * MINUTE_MS, 2_000, "12h"),  # a million minutes: 695 days, 1,390 12h bars (6h would be 2,779)
    (50 * HOUR_MS, 100, "1h"),              # 30m would be 101 bars
    (10_000 * 7 * DAY_MS, 10, "1w"),        # nothing fits: the coarsest level
])
def test_display_level_is_the_finest_within_the_budget(span_ms: int, budget: int, expected: str) -> None:
    start = 1_704_067_200_000  # 2024-01-01 (a multiple of every level but 1w)
    assert display_level("1m", start, start + span_ms, budget) == Level.parse(expected)


def test_display_level_keeps_to_levels_built_from_whole_stored_bars() -> None:
    start = 1_704_067_200_000
    assert display_level("4h", start, start + 30 * DAY_MS, 100) == Level.h12  # 180 4h bars → 12h, never 6h
    assert display_level("1d", start, start + 3 * DAY_MS, 100) == Level.d1
    with pytest.raises(InvalidInputError, match="budget"):
        display_level("1m", start, start + DAY_MS, 0)


def test_the_whole_series_at_a_budget_equals_the_resampler(store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    _minutes_with_holes(store, bars)
    view = bars_at_budget(store, BTC, "1m", budget=99)  # 100 half hours would not fit
    assert view.level == Level.h1 and view.resampled
    assert view.label() == "1h bars resampled from 1m — zoom in for finer"
    expected = resample_bars(_stored(store), "1m", "1h").droplevel("entity_id")[list(OHLCV)]
    assert len(expected) == 48  # 50 hours, two incomplete ones (the holes) left out as the resampler does
    pd.testing.assert_frame_equal(view.bars, expected)
    assert len(view.bars) <= 99


def test_a_zoom_reaches_the_stored_bars(store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    _minutes_with_holes(store, bars)
    start, end = pd.Timestamp("2024-01-01 08:10", tz="UTC"), pd.Timestamp("2024-01-01 09:45", tz="UTC")
    view = bars_at_budget(store, BTC, "1m", start=start, end=end, budget=100)
    assert view.level == Level.m1 and not view.resampled and view.label() == "1m bars as stored"
    stored = _stored(store).droplevel("entity_id")
    pd.testing.assert_frame_equal(view.bars, stored.loc[start:end])
    assert len(view.bars) == 95  # 96 minutes, one of them missing


def test_a_range_is_widened_to_whole_shown_bars(store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    _minutes_with_holes(store, bars)
    start, end = pd.Timestamp("2024-01-01 02:30", tz="UTC"), pd.Timestamp("2024-01-01 20:10", tz="UTC")
    view = bars_at_budget(store, BTC, "1m", start=start, end=end, budget=20)
    assert view.level == Level.h1  # 19 hours touched
    expected = resample_bars(_stored(store), "1m", "1h").droplevel("entity_id").loc["2024-01-01 02:00":
                                                                                   "2024-01-01 20:00"]
    pd.testing.assert_frame_equal(view.bars, expected[list(OHLCV)])
    assert view.bars.index[0] == pd.Timestamp("2024-01-01 02:00", tz="UTC")  # the cut hour is whole


def test_no_bars_or_a_range_outside_the_series_gives_no_bars(store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    assert bars_at_budget(store, BTC, "1m").bars.empty
    _minutes_with_holes(store, bars)
    assert bars_at_budget(store, BTC, "1h").bars.empty  # stored at 1m only
    outside = bars_at_budget(store, BTC, "1m", start="2025-01-01", end="2025-02-01")
    assert outside.bars.empty and list(outside.bars.columns) == list(OHLCV)


def test_last_per_bar_keeps_the_last_value_of_each_bar() -> None:
    index = pd.date_range("2024-01-01", periods=150, freq="1min", tz="UTC")
    values = pd.Series(range(150), index=index, dtype="float64")
    thinned = last_per_bar(values, "1h")
    assert list(thinned) == [59.0, 119.0, 149.0]
    assert list(thinned.index) == list(pd.date_range("2024-01-01", periods=3, freq="1h", tz="UTC"))


def test_the_catalogue_lists_stored_series_and_factors(store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    from zvt_crypto.factors.base import make_factor
    from zvt_crypto.factors.engine import compute_factor

    store.write(Bar, bars(BTC, n=200, level="1h"))
    store.write(Bar, bars(BTC, n=30, level="1d"))
    store.write(Bar, bars("pair_binance_ETH-USDT", n=50, level="1h"))
    assert bar_series(store) == [(BTC, "1h"), (BTC, "1d"), ("pair_binance_ETH-USDT", "1h")]
    compute_factor(make_factor("rsi"), level="1h", entity_ids=[BTC], store=store)
    found = stored_factors(store, BTC, "1h")
    assert [(factor.factor_id, factor.name, factor.outputs) for factor in found] == [("rsi:1h:window=14", "rsi",
                                                                                         ["rsi"])]
    assert stored_factors(store, "pair_binance_ETH-USDT", "1h") == []  # computed for BTC only
    assert stored_factors(store, BTC, "1d") == []


def test_perp_lines_hold_funding_basis_and_open_interest_thinned_to_the_budget(
        store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    from zvt_crypto.domain import FundingRate, IndexPriceBar, MarkPriceBar, OpenInterest

    perp = "perp_binanceusdm_BTC-USDT.USDT"
    minutes = bars(perp, n=600, level="1m")
    store.write(Bar, minutes)
    mark, index = bars(perp, n=600, level="1m", seed=1), bars(perp, n=600, level="1m", seed=2)
    store.write(MarkPriceBar, mark.drop(columns=["volume", "quote_volume", "trade_count"]))
    store.write(IndexPriceBar, index.drop(columns=["volume", "quote_volume", "trade_count"]))
    stamps = minutes["timestamp"]
    store.write(FundingRate, pd.DataFrame({"entity_id": perp, "timestamp": stamps[::480],
                                           "funding_rate": [0.0001, -0.0002]}))
    store.write(OpenInterest, pd.DataFrame({"entity_id": perp, "level": "5m", "timestamp": stamps[::5],
                                            "open_interest": range(120)}))
    whole = bars_at_budget(store, perp, "1m", budget=10)  # 10 hours → 1h bars (20 half hours would not fit)
    lines = perp_lines(store, whole)
    assert set(lines) == {"funding rate", "mark − index", "open interest"}
    assert list(lines["funding rate"]) == [0.0001, -0.0002]  # two points: fewer than the budget, kept as is
    basis = (mark["close"] - index["close"]).set_axis(pd.DatetimeIndex(stamps))
    assert list(lines["mark − index"]) == list(basis.iloc[59::60])  # the last basis of each hour
    assert list(lines["open interest"].index) == list(whole.bars.index)
    assert list(lines["open interest"]) == [11.0 + 12 * hour for hour in range(10)]
    zoom = bars_at_budget(store, perp, "1m", start=stamps[100], end=stamps[130], budget=20)  # 31 minutes
    assert zoom.level == Level.m5 and len(zoom.bars) == 7
    assert list(perp_lines(store, zoom)["mark − index"].index) == list(zoom.bars.index)
    assert perp_lines(store, bars_at_budget(store, BTC, "1m")) == {}  # a pair has none


def test_the_view_cache_serves_a_signature_for_its_ttl_and_keeps_its_size(
        store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    from zvt_crypto.domain.chart import ViewCache

    _minutes_with_holes(store, bars)
    built: list[BarsView] = []

    def build() -> BarsView:
        built.append(bars_at_budget(store, BTC, "1m", budget=99))
        return built[-1]

    cache = ViewCache(size=2, ttl=60)
    first = cache.get(("a",), build)
    assert cache.get(("a",), build) is first and len(built) == 1  # served again, not rebuilt
    cache.get(("b",), build)
    cache.get(("c",), build)  # over the size: the oldest ("a") goes
    assert cache.get(("a",), build) is not first and len(built) == 4
    expired = ViewCache(ttl=0)
    expired.get(("a",), build)
    expired.get(("a",), build)
    assert len(built) == 6  # past its ttl: rebuilt (a rewrite keeping the signature shows)
