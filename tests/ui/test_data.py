"""The /data page's content functions, called as its callbacks call them, on real SQLite stores (no browser)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from tests.ui.components import find, table_rows, text_of
from tests.ui.conftest import Site, ui_context
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.resample import resample_bars
from zvt_crypto.domain import Bar
from zvt_crypto.domain.chart import display_level
from zvt_crypto.domain.coverage import coverage
from zvt_crypto.ui.pages import data

EURUSD = "pair_oanda_EUR-USD"


def _stored(context: Any, entity: str, level: str) -> pd.DataFrame:
    return Bar.query_data(entity_ids=[entity], level=level, columns=["open", "high", "low", "close", "volume"],
                          store=context.store)


def _candles(figure: Any) -> Any:
    return next(trace for trace in figure.data if trace.type == "candlestick")


def test_the_whole_series_is_resampled_to_the_budget_exactly(site: Site) -> None:
    context = ui_context(site)
    figure, label, message, _section = data.chart_content(context, "oanda", "EUR/USD", "1h", [], None)
    stored = _stored(context, EURUSD, "1h")
    stamps = stored.index.get_level_values("timestamp")
    shown = display_level("1h", stamps[0].value // 10**6, stamps[-1].value // 10**6, data.BUDGET)
    assert shown != Level.h1  # 5,000 hourly bars over ~7,000 hours do not fit 2,000 candles
    expected = resample_bars(stored, "1h", shown).droplevel("entity_id")
    candles = _candles(figure)
    assert len(candles.x) == len(expected) <= data.BUDGET
    assert list(candles.open) == list(expected["open"]) and list(candles.close) == list(expected["close"])
    assert list(candles.x) == [stamp.value // 10**6 for stamp in expected.index]  # epoch ms, UTC
    assert label == (f"EUR/USD on oanda: {shown} bars resampled from 1h — zoom in for finer "
                     f"({len(expected):,} candles, UTC).")
    assert message == ""
    assert figure.layout.title.text == f"EUR/USD · {shown} bars resampled from 1h — zoom in for finer"


def test_a_zoom_re_queries_the_stored_level(site: Site) -> None:
    context = ui_context(site)
    relayout = {"xaxis.range[0]": "2017-05-02 00:00:00", "xaxis.range[1]": "2017-05-04 23:59:59.999"}
    visible = data.visible_range(relayout)
    assert visible == (pd.Timestamp("2017-05-02", tz="UTC").value // 10**6,
                       pd.Timestamp("2017-05-04 23:59:59.999", tz="UTC").value // 10**6)
    figure, label, _message, section = data.chart_content(context, "oanda", "EUR/USD", "1h", [], visible,
                                                           with_coverage=False)
    stored = _stored(context, EURUSD, "1h").droplevel("entity_id").loc["2017-05-02":"2017-05-04 23:00"]
    assert len(stored) == 72
    assert list(_candles(figure).close) == list(stored["close"])
    assert label.startswith("EUR/USD on oanda: 1h bars as stored (72 candles")
    assert section is data.dash.no_update  # a zoom leaves the coverage alone


def test_visible_range_reads_zooms_and_ignores_other_relayouts() -> None:
    assert data.visible_range({"xaxis2.range[0]": "2024-01-01", "xaxis2.range[1]": "2024-01-02 12:00"}) == (
        1_704_067_200_000, 1_704_196_800_000)
    assert data.visible_range({"xaxis.range": ["2024-01-02", "2024-01-01"]}) == (1_704_067_200_000,
                                                                                1_704_153_600_000)
    assert data.visible_range({"autosize": True}) is None
    assert data.visible_range({"xaxis.autorange": True}) is None
    assert data.visible_range(None) is None


def test_a_level_without_bars_says_why_and_which_command_records_them(site: Site) -> None:
    context = ui_context(site)
    figure, label, message, section = data.chart_content(context, "nasdaq", "GOOG/USD", "1h", [], None)
    text = text_of(message)
    assert "No 1h bars of GOOG/USD on nasdaq are stored (it has 1d bars: pick one of those levels)" in text
    assert (f"{context.cli_prefix()} record bars --exchange nasdaq --symbol GOOG/USD --level 1h "
            "--start 2024-01-01") in text
    assert figure["data"] == [] and label == ""
    assert "No bars stored at this level." in text_of(section)


def test_a_range_outside_the_series_says_so(site: Site) -> None:
    context = ui_context(site)
    visible = data.visible_range({"xaxis.range[0]": "2030-01-01", "xaxis.range[1]": "2030-01-02"})
    _figure, _label, message, _section = data.chart_content(context, "oanda", "EUR/USD", "1h", [], visible)
    assert "the range lies outside the stored series" in text_of(message)


def test_coverage_lists_every_gap_and_shades_them(site: Site) -> None:
    context = ui_context(site)
    figure, _label, _message, section = data.chart_content(context, "oanda", "EUR/USD", "1h", [], None)
    covered = coverage(context.store, entity_ids=[EURUSD], level="1h")[0]
    assert covered.gaps  # weekends: the FX market is closed
    rows = table_rows(section, "data-gaps")
    assert len(rows) == min(len(covered.gaps), data.LISTED_GAPS)
    first = covered.gaps[0]
    assert rows[0][:3] == [data.utc(first.start), data.utc(first.end + Level.h1.ms - 1), f"{first.missing:,}"]
    summary = text_of(find(section, "data-coverage-summary"))
    assert f"{covered.rows:,} of {covered.expected:,} on the grid" in summary
    assert len(figure.layout.shapes) == min(len(covered.gaps), data.SHADED_GAPS)
    assert "record bars --exchange oanda --symbol EUR/USD --level 1h --start" in text_of(section)
    week = data.visible_range({"xaxis.range": [data.utc(first.start - 3 * 86_400_000),
                                               data.utc(first.end + 2 * 86_400_000)]})
    zoomed, *_ = data.chart_content(context, "oanda", "EUR/USD", "1h", [], week, with_coverage=False)
    assert [(shape.x0, shape.x1) for shape in zoomed.layout.shapes] == [(first.start, first.end + Level.h1.ms)]


def test_factor_overlays_come_from_the_stored_values(site: Site) -> None:
    from zvt_crypto.factors.base import make_factor
    from zvt_crypto.factors.engine import compute_factor, load_factor

    context = ui_context(site)
    for name in ("rsi", "sma"):
        compute_factor(make_factor(name), level="1h", entity_ids=[EURUSD], store=context.store)
    options, _placeholder, hint = data.factor_options(context, data.select(data.catalogue(context), "oanda",
                                                                           "EUR/USD", "1h"))
    assert [option["value"] for option in options] == ["rsi:1h:window=14", "sma:1h:window=20"] and hint == ""
    visible = data.visible_range({"xaxis.range[0]": "2017-05-02", "xaxis.range[1]": "2017-05-04 23:00"})
    figure, *_ = data.chart_content(context, "oanda", "EUR/USD", "1h", ["rsi:1h:window=14", "sma:1h:window=20"],
                                    visible)
    traces = {trace.name: trace for trace in figure.data}
    stored = load_factor("sma", level="1h", entity_ids=[EURUSD], start="2017-05-02",
                         end="2017-05-04 23:00", store=context.store)
    assert list(traces["sma:1h:window=20"].y) == list(stored["sma"])
    assert traces["sma:1h:window=20"].yaxis == "y"  # on the price scale, over the candles
    assert traces["rsi:1h:window=14"].yaxis == "y3"  # an oscillator gets a row of its own
    whole, *_ = data.chart_content(context, "oanda", "EUR/USD", "1h", ["rsi:1h:window=14"], None)
    assert len(next(trace for trace in whole.data if trace.name == "rsi:1h:window=14").y) <= data.BUDGET


def test_no_factor_stored_gives_the_command_that_computes_one(site: Site) -> None:
    context = ui_context(site)
    options, placeholder, hint = data.factor_options(context, data.select(data.catalogue(context), "nasdaq",
                                                                          "GOOG/USD", "1d"))
    assert options == [] and placeholder == "No factor stored at 1d"
    assert (f"{context.cli_prefix()} factor compute rsi --exchange nasdaq --symbol GOOG/USD "
            "--level 1d") in text_of(hint)


def test_the_query_is_completed_from_what_is_stored(site: Site) -> None:
    series = data.catalogue(ui_context(site))
    assert data.select(series, None, None, None) == data.Selection("nasdaq", "GOOG/USD", "pair_nasdaq_GOOG-USD",
                                                                   Level.d1)
    assert data.select(series, "oanda", "nope", "weird").level == Level.h1  # unknown: the first / finest stored
    assert data.select(series, "oanda", None, "4h").level == Level.h4  # kept: the chart says how to record it
    assert data.symbol_options(series, "oanda") == [{"label": "EUR/USD", "value": "EUR/USD"}]


def test_the_page_on_an_empty_store_gives_the_commands_that_fill_it(empty_site: Site) -> None:
    context = ui_context(empty_site)
    text = text_of(data.layout(context))
    assert "No bars are stored yet" in text and f"{context.cli_prefix()} demo" in text


def test_the_deep_link_sets_the_pickers(site: Site) -> None:
    page = data.layout(ui_context(site), exchange="oanda", symbol="EUR/USD", level="1h")
    assert [find(page, name).value for name in ("data-exchange", "data-symbol", "data-level")] == ["oanda",
                                                                                                  "EUR/USD", "1h"]


def test_the_deep_link_restores_the_factor_overlays(site: Site) -> None:
    from zvt_crypto.factors.base import make_factor
    from zvt_crypto.factors.engine import compute_factor

    context = ui_context(site)
    for name in ("rsi", "macd"):
        compute_factor(make_factor(name), level="1h", entity_ids=[EURUSD], store=context.store)
    macd = "macd:1h:fast=12,signal=9,slow=26"  # an id with commas: one ``factor`` parameter per overlay
    shared = data.layout(context, exchange="oanda", symbol="EUR/USD", level="1h",
                         factor=[macd, "rsi:1h:window=14", "sma:1h:window=20"])  # sma: never computed, dropped
    assert find(shared, "data-factors").value == [macd, "rsi:1h:window=14"]
    one = data.layout(context, exchange="oanda", symbol="EUR/USD", level="1h", factor="rsi:1h:window=14")
    assert find(one, "data-factors").value == ["rsi:1h:window=14"]
    assert find(data.layout(context, exchange="oanda", symbol="EUR/USD", level="1h"), "data-factors").value == []


def test_a_failing_chart_shows_why(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    context = ui_context(site)
    context.store.dispose()
    (site.home / "zvt_crypto.db").unlink()
    figure, _label, message, _section = data.safe_chart_content(context, "oanda", "EUR/USD", "1h", [], None)
    assert "Could not show the chart:" in text_of(message) and figure["data"] == []
    assert "dashboard: the chart failed" in caplog.text
