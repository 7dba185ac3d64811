"""``/factors`` in a real browser over ``zvt-crypto serve`` on a store filled through the library (RSI on GOOG's
daily bars and on three pairs' 4h bars from the simulated Binance): the catalog, a line per chosen symbol, the tear
sheet's figures with their traces, pickers and deep links, a factor never computed, an empty store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import Served, Site, make_research_site, make_site, serve_process
from tests.ui.test_browser import TIMEOUT_MS, Watch, rows, snap
from zvt_crypto.ui.pages.factors import MAX_POINTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
RSI_4H = "rsi:4h:window=14"
BTC, ETH, SOL = "pair_binance_BTC-USDT", "pair_binance_ETH-USDT", "pair_binance_SOL-USDT"


@pytest.fixture(scope="module")
def research(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Served]]:
    site = make_research_site(tmp_path_factory.mktemp("factors"))
    with serve_process(site) as running:
        yield site, running
        status, _stdout, stderr = running.stop()
    assert status == 0, stderr
    assert "Traceback" not in stderr, stderr


def stored_counts(site: Site, factor_id: str, start: str | None = None) -> dict[str, int]:
    """Values (not NaN: the warm-up has none) per symbol stored for ``factor_id``, read through the library: what
    each line must hold."""
    from zvt_crypto.contract.ids import symbol_of
    from zvt_crypto.factors.catalog import factor_values

    store = site.store()
    try:
        frame = factor_values(factor_id, start=start, store=store)
    finally:
        store.dispose()
    counts = frame.iloc[:, 0].dropna().groupby(level="entity_id").size()
    return {symbol_of(entity): int(count) for entity, count in counts.items()}


def traces(page: Any, graph_id: str) -> list[tuple[str, int]]:
    """(name, points) of every trace drawn in the dcc.Graph ``graph_id``, once it has drawn (plotly.js's own view
    of the data: numeric arrays arrive base64-packed and are decoded there)."""
    # one look at the graph (a wait, then a second query, raced Dash replacing the graph between the two)
    drawn = page.wait_for_function(f"() => {{ const g = document.querySelector('#{graph_id} .js-plotly-plot'); "
                                   "return g && g._fullData && g._fullData.length > 0 "
                                   "? g._fullData.map(t => [t.name, t.x.length]) : null; }", timeout=TIMEOUT_MS)
    return [(name, count) for name, count in drawn.json_value()]


def test_tear_sheet_and_values_of_a_stored_factor(page: Any, research: tuple[Site, Served],
                                                  shots: list[Path]) -> None:
    from playwright.sync_api import expect

    site, served = research
    watch = Watch().attach(page)
    page.goto(served.url + "/")
    page.locator("#nav-factors").click()
    expect(rows(page, "factors-catalog")).to_have_count(2, timeout=TIMEOUT_MS)
    expect(page.locator("#factors-catalog")).to_contain_text(RSI_4H)
    rows(page, "factors-catalog").filter(has_text=RSI_4H).get_by_role("link", name=RSI_4H).click()
    counts = stored_counts(site, RSI_4H)
    assert sorted(traces(page, "factors-values")) == sorted(counts.items())  # every stored value, one line each
    expect(rows(page, "factors-ic-summary")).to_have_count(3, timeout=TIMEOUT_MS)  # horizons 1, 5, 10
    assert [name for name, _ in traces(page, "factors-ts-ic")] == [
        "IC, 1 step(s)", "30-step mean, 1 step(s)", "30-step mean, 5 step(s)", "30-step mean, 10 step(s)"]
    assert [name for name, _ in traces(page, "factors-ts-quantile_returns")] == [
        "1 step(s)", "5 step(s)", "10 step(s)"]
    assert [name for name, _ in traces(page, "factors-ts-cumulative")] == ["Q1", "Q2", "Q3"]  # 3 symbols: 3 buckets
    assert len(traces(page, "factors-ts-turnover")) == 2
    assert traces(page, "factors-ts-decay") == [("mean IC", 10)]
    snap(page, shots, "factors")

    # picking fewer symbols redraws the lines and the sheet, and the URL follows
    page.locator("#factors-entities").click()  # Dash 4's dropdown: a list of options that toggle
    page.get_by_role("option", name="SOL/USDT (binance)").click()
    page.keyboard.press("Escape")
    expect(page).to_have_url(re.compile(r"entities=pair_binance_BTC-USDT,pair_binance_ETH-USDT"), timeout=TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('#factors-values .js-plotly-plot').data.length === 2",
                           timeout=TIMEOUT_MS)
    expect(page.locator("#factors-ts-cumulative")).to_be_visible(timeout=TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('#factors-ts-cumulative .js-plotly-plot').data.length === 2",
                           timeout=TIMEOUT_MS)  # two symbols: two quantiles

    page.locator("#factors-factor").click()  # another factor: its own symbols, lines and sheet
    page.get_by_role("option", name=re.compile(r"^rsi:1d:window=14")).click()
    expect(page).to_have_url(re.compile(r"factor=rsi:1d:window=14&entities=pair_nasdaq_GOOG-USD"), timeout=TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('#factors-values .js-plotly-plot')._fullData[0].name "
                           "=== 'GOOG/USD'", timeout=TIMEOUT_MS)
    assert [name for name, _ in traces(page, "factors-values")] == ["GOOG/USD"]
    expect(page.locator("#factors-tearsheet-note")).to_contain_text("needs two or more symbols", timeout=TIMEOUT_MS)
    assert page.locator("#page-error").count() == 0
    assert watch.problems == []


def test_a_deep_link_restores_factor_symbols_and_period(page: Any, research: tuple[Site, Served]) -> None:
    from playwright.sync_api import expect

    site, served = research
    watch = Watch().attach(page)
    page.goto(f"{served.url}/factors?factor={RSI_4H}&entities={ETH},{SOL}&start=2023-12-15")
    counts = stored_counts(site, RSI_4H, start="2023-12-15")
    assert sorted(traces(page, "factors-values")) == [("ETH/USDT", counts["ETH/USDT"]),
                                                      ("SOL/USDT", counts["SOL/USDT"])]
    expect(page.locator("#factors-start")).to_have_value("2023-12-15")
    first = page.evaluate("() => document.querySelector('#factors-values .js-plotly-plot').data[0].x[0]")
    assert first >= "2023-12-15"
    expect(rows(page, "factors-ic-summary")).to_have_count(3, timeout=TIMEOUT_MS)

    page.goto(f"{served.url}/factors?factor=rsi&level=1d")  # a name and a level: the stored one
    goog = stored_counts(site, "rsi:1d:window=14")["GOOG/USD"]
    assert goog > MAX_POINTS  # so it is thinned: every 2nd value, said under the chart
    assert traces(page, "factors-values") == [("GOOG/USD", -(-goog // 2))]
    expect(page.locator("#factors-values-thinned")).to_contain_text(f"GOOG/USD: every 2nd of {goog:,} values")
    expect(page.locator("#factors-tearsheet-note")).to_contain_text("needs two or more symbols",
                                                                   timeout=TIMEOUT_MS)
    assert watch.problems == []


def test_a_factor_never_computed_gives_the_command(page: Any, research: tuple[Site, Served],
                                                   shots: list[Path]) -> None:
    from playwright.sync_api import expect

    site, served = research
    watch = Watch().attach(page)
    page.goto(f"{served.url}/factors?factor=macd&level=1d")
    missing = page.locator("#factors-missing")
    expect(missing).to_contain_text("macd:1d:fast=12,signal=9,slow=26 was never computed", timeout=TIMEOUT_MS)
    prefix = f"zvt-crypto --config {site.config_file} --home {site.home}"
    expect(missing).to_contain_text(f"{prefix} factor compute macd --exchange nasdaq --level 1d --param fast=12 "
                                    "--param signal=9 --param slow=26")
    expect(page.locator("#factors-tearsheet-note")).to_contain_text("never computed")
    snap(page, shots, "factors-missing")
    assert watch.problems == []


def test_an_empty_store_says_how_to_compute_a_factor(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    site = make_site(tmp_path, filled=False)
    with serve_process(site) as running:
        watch = Watch().attach(page)
        page.goto(running.url + "/factors")
        expect(page.locator("#factors-none")).to_contain_text("factor compute rsi --exchange binance --level 1h",
                                                              timeout=TIMEOUT_MS)
        expect(page.locator("#factors-values-note")).to_contain_text("Pick a factor")
        assert watch.problems == []
        assert running.stop()[0] == 0
