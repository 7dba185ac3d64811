"""/backtests in a real browser: ``zvt-crypto serve`` as a subprocess over a SQLite store holding two real
backtests (GOOG daily, EUR/USD hourly) stored through the library; Playwright on Debian's chromium. The table lists,
sorts and filters the runs; a run's page shows its stored metrics, thinned charts and a marker per trade; ticking two
runs compares them; deep links restore each view; a re-run in the background lands a third run. No console error,
no failed Dash request on any of them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import Served, Site, make_site, serve_process, store_runs
from tests.ui.test_browser import TIMEOUT_MS, Watch, snap
from zvt_crypto.ui.pages.backtests import CHART_BUDGET

pytestmark = [pytest.mark.browser, pytest.mark.slow]


class RunsSite:
    def __init__(self, site: Site, served: Served, ids: list[str]) -> None:
        self.site, self.served, self.ids = site, served, ids
        self.url = served.url

    def metrics(self, run_id: str) -> dict[str, Any]:
        from zvt_crypto.trader.storage import load_run

        store = self.site.store()
        try:
            return load_run(run_id, store).metrics
        finally:
            store.dispose()

    def equity(self, run_id: str) -> Any:
        from zvt_crypto.trader.storage import load_run

        store = self.site.store()
        try:
            return load_run(run_id, store).equity
        finally:
            store.dispose()

    def n_trades_and_open(self, run_id: str) -> tuple[int, int]:
        from zvt_crypto.trader.storage import load_run

        store = self.site.store()
        try:
            result = load_run(run_id, store)
            return len(result.trades), len(result.open_trades)
        finally:
            store.dispose()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunsSite]:
    site = make_site(tmp_path_factory.mktemp("runs"), filled=True)
    store = site.store()
    try:
        ids = store_runs(store)
    finally:
        store.dispose()
    with serve_process(site) as running:
        yield RunsSite(site, running, ids)
        status, _stdout, stderr = running.stop()
    assert status == 0, stderr
    assert "Traceback" not in stderr, stderr  # no callback failed on the server


def graph_data(page: Any, graph_id: str) -> list[dict[str, Any]]:
    """The traces plotly drew in graph ``graph_id``: name, point count, first y (from plotly's full data, where
    the arrays sent in binary form are decoded)."""
    return page.evaluate(
        """id => document.querySelector(`#${id} .js-plotly-plot`)._fullData.map(
               t => ({name: t.name, n: t.x.length, y0: t.y[0]}))""", graph_id)


def wait_graph(page: Any, graph_id: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator(f"#{graph_id} .js-plotly-plot .main-svg").first).to_be_visible(timeout=TIMEOUT_MS)


def table_rows(page: Any, table_id: str) -> Any:
    return page.locator(f"#{table_id} tr:has(td.dash-cell)")


def test_the_table_lists_sorts_and_filters_the_runs(page: Any, runs: RunsSite, shots: list[Path]) -> None:
    from playwright.sync_api import expect

    watch = Watch().attach(page)
    page.goto(runs.url + "/")
    page.locator("#nav-backtests").click()
    expect(page).to_have_url(runs.url + "/backtests")
    listed = table_rows(page, "bt-runs")
    expect(listed).to_have_count(2, timeout=TIMEOUT_MS)
    for run_id in runs.ids:
        expect(page.locator("#bt-runs")).to_contain_text(run_id)
    goog, eurusd = (runs.metrics(run_id) for run_id in runs.ids)
    returns = page.locator("#bt-runs td[data-dash-column=total_return]")
    page.locator("#bt-runs th[data-dash-column=total_return] .column-header--sort").click()  # ascending
    expect(returns.first).to_have_text(f"{eurusd['total_return'] * 100:.2f}%".replace("-", "−"))
    page.locator("#bt-runs th[data-dash-column=total_return] .column-header--sort").click()  # descending
    expect(returns.first).to_have_text(f"{goog['total_return'] * 100:,.2f}%")
    snap(page, shots, "backtests")
    symbols_filter = page.locator("#bt-runs th.dash-filter[data-dash-column=symbols] input[type=text]")
    symbols_filter.fill("GOOG")
    symbols_filter.press("Enter")
    expect(listed).to_have_count(1)
    expect(listed.first).to_contain_text(runs.ids[0])
    symbols_filter.fill("")
    symbols_filter.press("Enter")
    returns_filter = page.locator("#bt-runs th.dash-filter[data-dash-column=total_return] input[type=text]")
    returns_filter.fill("< 0")
    returns_filter.press("Enter")
    expect(listed).to_have_count(1)
    expect(listed.first).to_contain_text(runs.ids[1])
    assert watch.problems == []


def test_a_runs_page_shows_its_stored_metrics_thinned_charts_and_every_trade(page: Any, runs: RunsSite,
                                                                             shots: list[Path]) -> None:
    from playwright.sync_api import expect

    watch = Watch().attach(page)
    for run_id, name in zip(runs.ids, ("backtest-run", "backtest-run-hourly"), strict=True):
        page.goto(f"{runs.url}/backtests?run={run_id}")  # a shared link
        wait_graph(page, "bt-price")
        metrics = runs.metrics(run_id)
        expect(page.locator("#bt-metric-total-return")).to_have_text(f"{metrics['total_return'] * 100:,.2f} %")
        expect(page.locator("#bt-metric-sharpe")).to_have_text(f"{metrics['sharpe']:,.2f}")
        expect(page.locator("#bt-metric-max-drawdown")).to_have_text(f"{metrics['max_drawdown'] * 100:,.2f} %")
        expect(page.locator("#bt-metric-n-trades")).to_have_text(f"{metrics['n_trades']:,}")
        expect(page.locator("#bt-metric-fees-paid")).to_have_text(f"{metrics['fees_paid']:,.2f}")
        expect(page.locator("#bt-metric-final-equity")).to_have_text(f"{metrics['final_equity']:,.2f}")
        assert "e+" not in page.locator("#bt-banner").inner_text()
        equity = {trace["name"]: trace for trace in graph_data(page, "bt-equity")}
        assert set(equity) == {"equity", "buy and hold"}
        assert 0 < equity["equity"]["n"] <= CHART_BUDGET
        assert equity["equity"]["y0"] == equity["buy and hold"]["y0"] == 10_000
        closed, still_open = runs.n_trades_and_open(run_id)
        price = graph_data(page, "bt-price")
        assert sum(trace["n"] for trace in price if trace["name"].endswith("entry")) == closed + still_open
        assert sum(trace["n"] for trace in price if trace["name"].endswith("exit")) == closed
        assert next(trace["n"] for trace in price if trace["name"] == "close") <= CHART_BUDGET
        expect(table_rows(page, "bt-trades")).to_have_count(min(15, closed + still_open))
        expect(page.locator("#bt-funding")).to_contain_text("No funding paid or received")
        assert page.locator("#page-error").count() == 0
        snap(page, shots if name == "backtest-run" else shots[:1], name)  # the docs show one run
    assert graph_data(page, "bt-drawdown")[0]["n"] <= CHART_BUDGET
    # zoom in on 1,000 of the hourly run's 5,000 points: the server re-sends that range at full resolution
    curve = runs.equity(runs.ids[1])
    start, end = (f"{curve.index[i]:%Y-%m-%d %H:%M:%S}" for i in (1_000, 1_999))
    page.evaluate("([start, end]) => Plotly.relayout(document.querySelector('#bt-equity .js-plotly-plot'), "
                  "{'xaxis.range[0]': start, 'xaxis.range[1]': end})", [start, end])
    page.wait_for_function("() => document.querySelector('#bt-drawdown .js-plotly-plot')._fullData[0].x.length "
                           "=== 1000", timeout=TIMEOUT_MS)
    assert {trace["name"]: trace["n"] for trace in graph_data(page, "bt-equity")} == {"equity": 1_000,
                                                                                     "buy and hold": 1_000}
    page.evaluate("() => Plotly.relayout(document.querySelector('#bt-equity .js-plotly-plot'), "
                  "{'xaxis.autorange': true})")  # a double-click: the whole run, thinned again
    page.wait_for_function(f"() => document.querySelector('#bt-equity .js-plotly-plot')._fullData[0].x.length "
                           f"<= {CHART_BUDGET}", timeout=TIMEOUT_MS)
    marker = page.locator("#bt-price .scatterlayer .trace:nth-child(2) .point").first  # the first entry
    marker.scroll_into_view_if_needed()
    box = marker.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # plotly's drag layer takes it
    expect(page.locator("#bt-price .hoverlayer")).to_contain_text("fees", timeout=TIMEOUT_MS)
    expect(page.locator("#bt-price .hoverlayer")).to_contain_text("P&L")
    assert watch.problems == []


def test_ticking_two_runs_compares_them_and_the_link_restores_it(page: Any, runs: RunsSite,
                                                                 shots: list[Path]) -> None:
    from playwright.sync_api import expect

    watch = Watch().attach(page)
    page.goto(runs.url + "/backtests")
    expect(table_rows(page, "bt-runs")).to_have_count(2, timeout=TIMEOUT_MS)
    expect(page.locator("#bt-compare-link")).to_have_class(re.compile("disabled"))
    for run_id in runs.ids:
        table_rows(page, "bt-runs").filter(has_text=run_id).locator("input[type=checkbox]").check()
    expect(page.locator("#bt-compare-hint")).to_have_text("2 runs ticked")
    page.locator("#bt-compare-link").click()
    expect(page).to_have_url(re.compile(r"/backtests\?compare="))
    wait_graph(page, "bt-compare-equity")
    overlay = graph_data(page, "bt-compare-equity")
    assert sorted(trace["name"].split()[0] for trace in overlay) == sorted(runs.ids)
    assert all(trace["y0"] == 1 and 0 < trace["n"] <= CHART_BUDGET for trace in overlay)
    expect(page.locator("#bt-compare-table")).to_contain_text("total return")
    snap(page, shots, "backtests-compare")
    shared = page.url
    other = page.context.new_page()  # the shared link in a fresh tab
    Watch.attach(watch, other)
    other.goto(shared)
    wait_graph(other, "bt-compare-equity")
    assert sorted(trace["name"] for trace in graph_data(other, "bt-compare-equity")) == sorted(
        trace["name"] for trace in overlay)
    other.get_by_role("link", name=runs.ids[0]).click()  # a run's column header opens the run
    expect(other).to_have_url(f"{runs.url}/backtests?run={runs.ids[0]}")
    wait_graph(other, "bt-equity")
    other.goto(f"{runs.url}/backtests?run=nope")  # a stale link
    expect(other.locator("#bt-not-found")).to_contain_text("no backtest run 'nope'", timeout=TIMEOUT_MS)
    other.close()
    assert watch.problems == []


def test_a_rerun_runs_in_the_background_and_lands_a_third_run(page: Any, runs: RunsSite,
                                                              shots: list[Path]) -> None:
    from playwright.sync_api import expect

    watch = Watch().attach(page)
    page.goto(f"{runs.url}/backtests?run={runs.ids[0]}")
    wait_graph(page, "bt-equity")
    page.locator("#bt-rerun").click()
    link = page.locator("#bt-rerun-link")
    expect(link).to_be_visible(timeout=60_000)
    expect(page.locator("#bt-rerun-done")).to_contain_text("same data, so the same metrics")
    expect(page.locator("#bt-rerun-progress")).to_contain_text("stored as")
    expect(page.locator("#bt-rerun")).to_be_enabled()
    new_id = link.inner_text()
    assert new_id not in runs.ids
    assert any((runs.site.home / "ui-jobs").iterdir())  # the job's state: under the data home, not in /tmp
    snap(page, shots[:1], "backtest-rerun")
    link.click()
    expect(page).to_have_url(f"{runs.url}/backtests?run={new_id}")
    expect(page.locator("#bt-run-title")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#bt-metric-total-return")).to_have_text(
        f"{runs.metrics(runs.ids[0])['total_return'] * 100:,.2f} %")
    expect(page.locator("#bt-run-title ~ p")).to_contain_text(f"rerun of {runs.ids[0]}")
    page.get_by_role("link", name="← all runs").click()
    expect(table_rows(page, "bt-runs")).to_have_count(3, timeout=TIMEOUT_MS)
    assert watch.problems == []
