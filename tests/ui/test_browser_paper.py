"""``/paper`` in a real browser over ``zvt-crypto serve``: a paper account on GOOG's real daily bars, created and
stepped through the library; its equity drawn point for point, its book and trades, and a step taken while the page
is open showing up by itself; deep links; an empty store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import PAPER_ACCOUNT, Served, Site, make_research_site, make_site, serve_process
from tests.ui.test_browser import TIMEOUT_MS, Watch, rows, snap
from tests.ui.test_browser_factors import traces

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def paper_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Served]]:
    site = make_research_site(tmp_path_factory.mktemp("paper"))
    with serve_process(site) as running:
        yield site, running
        status, _stdout, stderr = running.stop()
    assert status == 0, stderr
    assert "Traceback" not in stderr, stderr


def stored(site: Site) -> tuple[int, int, str]:
    """Equity rows, trades and the last processed bar (ISO) of the account, read through the library."""
    from zvt_crypto.trader.paper import account_equity, account_status, account_trades

    store = site.store()
    try:
        last = str(account_status(store, PAPER_ACCOUNT)["last_bar"].iloc[0])
        return len(account_equity(PAPER_ACCOUNT, store)), len(account_trades(PAPER_ACCOUNT, store)), last
    finally:
        store.dispose()


def test_paper_account_equity_book_and_a_step_that_shows_up(page: Any, paper_site: tuple[Site, Served],
                                                             shots: list[Path]) -> None:
    from playwright.sync_api import expect

    from zvt_crypto.trader.paper import PaperTrader
    from zvt_crypto.ui.pages.paper import TRADE_ROWS

    site, served = paper_site
    watch = Watch().attach(page)
    page.goto(served.url + "/")
    page.locator("#nav-paper").click()
    expect(rows(page, "paper-accounts")).to_have_count(1, timeout=TIMEOUT_MS)
    equity_rows, trades, last = stored(site)
    assert traces(page, "paper-equity") == [("equity", equity_rows), ("drawdown", equity_rows)]
    expect(page.locator("#paper-last-bar")).to_have_text(last[:10] + " 00:00:00")
    expect(rows(page, "paper-trades")).to_have_count(min(trades, TRADE_ROWS))
    expect(rows(page, "paper-positions")).to_have_count(1)  # long GOOG at the end of 2011
    expect(page.locator("#paper-kill-switch")).to_have_text("not triggered")
    expect(page.locator("#paper-lag span")).to_have_css("color", "rgb(161, 92, 0)")  # amber: years behind the clock
    expect(page.locator("#paper-open-orders")).to_contain_text("No open order.")
    expect(page.locator("#paper-backlog")).to_contain_text("bars not processed yet")
    snap(page, shots, "paper")

    store = site.store()  # the account steps on (as the scheduler would) while the page is open
    try:
        report = PaperTrader.load(PAPER_ACCOUNT, store).step(store)
    finally:
        store.dispose()
    assert report.rows > 0
    after_rows, _trades, after_last = stored(site)
    assert after_last > last
    expect(page.locator("#paper-last-bar")).to_have_text(after_last[:10] + " 00:00:00", timeout=TIMEOUT_MS)
    expect(page.locator("#paper-backlog")).to_contain_text("up to date")
    page.wait_for_function(f"() => document.querySelector('#paper-equity .js-plotly-plot')._fullData[0].x.length "
                           f"=== {after_rows}", timeout=TIMEOUT_MS)
    assert page.locator("#page-error").count() == 0
    assert watch.problems == []


def test_deep_links_to_an_account(page: Any, paper_site: tuple[Site, Served]) -> None:
    from playwright.sync_api import expect

    _site, served = paper_site
    watch = Watch().attach(page)
    page.goto(f"{served.url}/paper?account={PAPER_ACCOUNT}")
    expect(page.locator("#paper-account-card h2")).to_have_text(f"Account {PAPER_ACCOUNT}", timeout=TIMEOUT_MS)
    page.goto(f"{served.url}/paper?account=nobody")
    expect(page.locator("#paper-unknown")).to_contain_text("No paper account named 'nobody'", timeout=TIMEOUT_MS)
    expect(rows(page, "paper-accounts")).to_have_count(1)
    rows(page, "paper-accounts").get_by_role("link", name=PAPER_ACCOUNT).click()
    expect(page).to_have_url(re.compile(rf"/paper\?account={PAPER_ACCOUNT}$"))
    expect(page.locator("#paper-account-card")).to_be_visible(timeout=TIMEOUT_MS)
    assert watch.problems == []


def test_an_empty_store_says_how_to_start_paper_trading(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    site = make_site(tmp_path, filled=False)
    with serve_process(site) as running:
        watch = Watch().attach(page)
        page.goto(running.url + "/paper")
        expect(page.locator("#paper-none")).to_contain_text(
            f"zvt-crypto --config {site.config_file} --home {site.home} paper create btc-sma --strategy sma_cross",
            timeout=TIMEOUT_MS)
        assert watch.problems == []
        assert running.stop()[0] == 0
