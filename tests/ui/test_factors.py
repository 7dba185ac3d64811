"""``/factors``'s content functions, called as its callbacks call them, on a real SQLite store filled through the
library (RSI on GOOG's daily bars; RSI on three pairs' 4h bars recorded from the simulated Binance)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.ui.components import find, table_rows, text_of
from tests.ui.conftest import Site, backtesting_csv, ui_context
from zvt_crypto.ui.pages import factors

RSI_4H, RSI_1D = "rsi:4h:window=14", "rsi:1d:window=14"
BTC, ETH, SOL, GOOG = ("pair_binance_BTC-USDT", "pair_binance_ETH-USDT", "pair_binance_SOL-USDT",
                       "pair_nasdaq_GOOG-USD")


def stored(site: Site, factor_id: str, **kwargs: object) -> pd.Series:
    """Non-NaN values per entity, through the library."""
    from zvt_crypto.factors.catalog import factor_values

    store = site.store()
    try:
        frame = factor_values(factor_id, store=store, **kwargs)  # type: ignore[arg-type]
    finally:
        store.dispose()
    return frame.iloc[:, 0].dropna().groupby(level="entity_id").size()


def test_the_catalog_lists_every_stored_factor_with_its_coverage(research_site: Site) -> None:
    goog = pd.read_csv(backtesting_csv("GOOG"), index_col=0)
    page = factors.layout(ui_context(research_site))
    rows = {row[0]: row for row in table_rows(page, "factors-catalog")}
    assert list(rows) == [RSI_1D, RSI_4H]
    assert rows[RSI_1D][1:9] == ["rsi", "1d", "window=14", "rsi", "1", f"{len(goog):,}", f"{goog.index[0]} 00:00:00",
                                 f"{goog.index[-1]} 00:00:00"]
    assert rows[RSI_4H][5] == "3"
    assert find(page, "factors-factor").value == RSI_1D  # nothing asked: the first stored


def test_a_query_names_a_factor_by_id_or_by_name_and_level(research_site: Site) -> None:
    context = ui_context(research_site)
    assert find(factors.layout(context, factor="rsi", level="4h"), "factors-factor").value == RSI_4H
    assert find(factors.layout(context, level="4h"), "factors-factor").value == RSI_4H
    page = factors.layout(context, factor="macd:1d:fast=12,signal=9,slow=26", entities=f"{GOOG}", start="2010-01-01")
    dropdown = find(page, "factors-factor")
    assert dropdown.value == "macd:1d:fast=12,signal=9,slow=26"
    assert dropdown.options[0]["label"] == "macd:1d:fast=12,signal=9,slow=26 (never computed)"
    assert find(page, "factors-entities").value == [GOOG] and find(page, "factors-start").value == "2010-01-01"
    assert "needs a level" in text_of(find(factors.layout(context, factor="rsi"), "factors-query-problem"))
    assert factors.query_string(RSI_4H, [BTC, ETH], "rsi", "2023-12-01", None) == (
        f"?factor={RSI_4H}&entities={BTC},{ETH}&output=rsi&start=2023-12-01")


def test_choices_keep_the_chosen_symbols_of_the_factor(research_site: Site) -> None:
    context = ui_context(research_site)
    options, chosen, outputs, output = factors.factor_choices(context, RSI_4H, [ETH, GOOG], None)
    assert [option["value"] for option in options] == [BTC, ETH, SOL]
    assert (chosen, outputs, output) == ([ETH], ["rsi"], "rsi")  # GOOG has no 4h values: dropped
    assert factors.factor_choices(context, RSI_4H, None, None)[1] == [BTC, ETH, SOL]
    assert factors.factor_choices(context, "macd:1d:fast=12,signal=9,slow=26", [GOOG], None) == ([], [], [], None)


def test_values_draw_one_line_per_symbol_within_the_budget(research_site: Site) -> None:
    context = ui_context(research_site)
    counts = stored(research_site, RSI_4H, start="2023-12-01")
    content = factors.values_content(context, RSI_4H, [BTC, SOL], "rsi", "2023-12-01", None)
    lines = find(content, "factors-values").figure.data
    assert [(line.name, len(line.x)) for line in lines] == [("BTC/USDT", counts[BTC]), ("SOL/USDT", counts[SOL])]
    assert min(min(line.x) for line in lines) >= pd.Timestamp("2023-12-01", tz="UTC")
    goog = stored(research_site, RSI_1D)[GOOG]
    assert goog > factors.MAX_POINTS
    thinned = factors.values_content(context, RSI_1D, [GOOG], "rsi", None, None)
    assert len(find(thinned, "factors-values").figure.data[0].x) == -(-goog // 2) <= factors.MAX_POINTS
    assert f"GOOG/USD: every 2nd of {goog:,} values" in text_of(find(thinned, "factors-values-thinned"))
    empty = factors.values_content(context, RSI_4H, [BTC], "rsi", "2030-01-01", None)
    assert "No values of rsi:4h:window=14 for these symbols in this period" in text_of(empty)
    reversed_period = factors.values_content(context, RSI_4H, [BTC], "rsi", "2024-01-02", "2024-01-01")
    assert "the period's start 2024-01-02 is after its end 2024-01-01" in text_of(reversed_period)
    assert "cannot read 'soon' as a time" in text_of(factors.tear_sheet_content(
        context, RSI_4H, [BTC, ETH], "rsi", "soon", None, factors.TearSheetCache()))


def test_a_factor_never_computed_shows_the_command(research_site: Site) -> None:
    context = ui_context(research_site)
    content = factors.values_content(context, "macd:1d:fast=12,signal=9,slow=26", [], None, None, None)
    text = text_of(find(content, "factors-missing"))
    assert "macd:1d:fast=12,signal=9,slow=26 was never computed on this store." in text
    assert (f"zvt-crypto --config {research_site.config_file} --home {research_site.home} factor compute macd "
            "--exchange nasdaq --level 1d --param fast=12 --param signal=9 --param slow=26") in text
    weekly = text_of(factors.values_content(context, "rsi:1w:window=14", [], None, None, None))
    assert "No bars at 1w are stored yet: record them first" in weekly  # and no exchange has such bars


def test_the_tear_sheet_is_computed_once_per_choice(research_site: Site) -> None:
    context = ui_context(research_site)
    cache = factors.TearSheetCache()
    content = factors.tear_sheet_content(context, RSI_4H, [BTC, ETH, SOL], "rsi", None, None, cache)
    assert [row[0] for row in table_rows(content, "factors-ic-summary")] == ["1", "5", "10"]
    names = {graph: [trace.name for trace in find(content, f"factors-ts-{graph}").figure.data]
             for graph in factors.TEAR_SHEET_FIGURES}
    assert names["cumulative"] == ["Q1", "Q2", "Q3"] and names["decay"] == ["mean IC"]
    assert names["ic"][0] == "IC, 1 step(s)" and len(names["turnover"]) == 2
    assert cache.hits == 0
    again = factors.tear_sheet_content(context, RSI_4H, [SOL, ETH, BTC], "rsi", None, None, cache)
    assert cache.hits == 1 and table_rows(again, "factors-ic-summary") == table_rows(content, "factors-ic-summary")
    factors.tear_sheet_content(context, RSI_4H, [BTC, ETH], "rsi", None, None, cache)
    assert cache.hits == 1  # another universe: computed
    single = factors.tear_sheet_content(context, RSI_1D, [GOOG], "rsi", None, None, cache)
    assert "needs two or more symbols with values of rsi:1d:window=14 at the same bars (found: GOOG/USD)" in (
        text_of(single))


def test_a_recomputed_factor_is_not_served_from_the_cache(tmp_path: Path) -> None:
    from tests.ui.conftest import make_research_site
    from zvt_crypto.factors import compute_factor, make_factor

    site = make_research_site(tmp_path)
    context = ui_context(site)
    cache = factors.TearSheetCache()
    factors.tear_sheet_content(context, RSI_4H, [BTC, ETH, SOL], "rsi", None, None, cache)
    compute_factor(make_factor("rsi"), exchange="binance", level="4h", incremental=False, store=context.store)
    factors.tear_sheet_content(context, RSI_4H, [BTC, ETH, SOL], "rsi", None, None, cache)
    assert cache.hits == 0


def test_an_empty_store_says_how_to_compute_a_factor(empty_site: Site) -> None:
    context = ui_context(empty_site)
    page = factors.layout(context)
    assert (f"zvt-crypto --config {empty_site.config_file} --home {empty_site.home} factor compute rsi --exchange "
            "binance --level 1h") in text_of(find(page, "factors-none"))
    assert "Pick a factor" in text_of(factors.values_content(context, None, [], None, None, None))
