"""The dashboard in a real browser: ``zvt-crypto serve`` as a subprocess over a real SQLite store, Playwright
driving Debian's chromium. Every page renders its tables with the expected rows, deep links restore their state,
no console error, no failed Dash request, markup from the store stays text; screenshots of each page go to a temp
dir (and to ``docs/screenshots`` with ``ZVT_CRYPTO_SCREENSHOTS=docs/screenshots``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import TOKEN, Served, Site, make_site, serve_process

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The filled site with what a live scheduler leaves: a real run of job btc-1h against the simulated Binance
    (its bars up to the last complete hour, its history row) and the scheduler lock, held with a beating heart by
    this process."""
    from zvt_crypto.schedule.lock import SchedulerLockHandle

    site = make_site(tmp_path_factory.mktemp("browser"), filled=True, scheduler_run=True)
    store = site.store()
    lock = SchedulerLockHandle(store)
    lock.acquire()
    lock.start_heartbeat(1.0)
    try:
        with serve_process(site) as running:
            yield running
            status, _stdout, stderr = running.stop()
    finally:
        lock.release()
        store.dispose()
    assert status == 0, stderr
    assert "Traceback" not in stderr, stderr  # no callback failed on the server


@dataclass
class Watch:
    """What went wrong in the page: console errors, uncaught exceptions, failed Dash requests."""

    problems: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> Watch:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("response", self._response)
        return self

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"console: {message.text}")

    def _response(self, response: Any) -> None:
        if "/_dash-" in response.url and response.status >= 400:  # a failed layout or callback request
            self.problems.append(f"{response.status} on {response.url}")


def snap(page: Any, shots: list[Path], name: str) -> None:
    for folder in shots:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def rows(page: Any, table_id: str) -> Any:
    return page.locator(f"#{table_id} tbody tr")


def test_overview_renders_the_store(page: Any, served: Served, shots: list[Path]) -> None:
    from playwright.sync_api import expect

    watch = Watch().attach(page)
    page.goto(served.url + "/")
    expect(page.locator("#overview-rows")).to_be_visible(timeout=TIMEOUT_MS)
    expect(rows(page, "overview-newest")).to_have_count(3)
    expect(rows(page, "overview-newest").nth(1)).to_contain_text("nasdaq")
    expect(page.locator("#overview-rows")).to_contain_text("JobRun")
    expect(rows(page, "overview-runs")).to_have_count(3)
    expect(page.locator("#overview-scheduler")).to_contain_text(f"scheduler pid {os.getpid()} on")
    expect(page.locator(".utc-label")).to_have_text("all times UTC")
    assert page.locator("#page-error").count() == 0
    snap(page, shots, "overview")
    rows(page, "overview-runs").last.get_by_role("link", name="btc-1h").click()  # a run's job → its history
    expect(page).to_have_url(re.compile(r"/jobs\?job=btc-1h$"))
    expect(rows(page, "jobs-history")).to_have_count(1, timeout=TIMEOUT_MS)
    assert watch.problems == []


def test_jobs_page_health_history_and_deep_link(page: Any, served: Served, shots: list[Path]) -> None:
    from playwright.sync_api import expect

    watch = Watch().attach(page)
    page.goto(served.url + "/")
    page.locator("#nav-jobs").click()
    expect(page).to_have_url(served.url + "/jobs")
    expect(rows(page, "jobs-table")).to_have_count(2, timeout=TIMEOUT_MS)
    expect(rows(page, "jobs-history")).to_have_count(3)
    expect(page.locator("#jobs-daemon")).to_contain_text(f"pid {os.getpid()} on")
    expect(page.locator("#jobs-heartbeat")).to_have_text(re.compile(r"^\d+s$"))
    btc = rows(page, "jobs-table").filter(has_text="btc-1h")
    lag = btc.locator("td").nth(3).locator("span")
    expect(lag).to_have_text(re.compile(r"^(\d+s|\d+\.\dm)$"))  # the newest bar closed within the hour
    expect(lag).to_have_css("color", "rgb(27, 127, 59)")  # green: below the job's 1h interval
    eth = rows(page, "jobs-table").filter(has_text="eth-1d")
    expect(eth.locator("td").nth(4)).to_have_text("2")  # failures in a row
    expect(eth.locator("td").nth(6)).to_contain_text('<img src=x onerror="window.__pwned=1">')  # shown as text
    assert page.locator("#jobs-table img").count() == 0 and page.evaluate("window.__pwned") is None
    expect(eth.locator("td").nth(6)).to_contain_text("https://u:***@api.example.com/x")
    snap(page, shots, "jobs")

    updated = page.locator("#jobs-updated").inner_text()
    expect(page.locator("#jobs-updated")).not_to_have_text(updated, timeout=TIMEOUT_MS)  # refreshed by itself

    assert page.locator("#page-error").count() == 0
    rows(page, "jobs-table").filter(has_text="btc-1h").get_by_role("link", name="btc-1h").click()
    expect(page).to_have_url(re.compile(r"/jobs\?job=btc-1h$"))
    expect(rows(page, "jobs-history")).to_have_count(1, timeout=TIMEOUT_MS)
    page.goto(served.url + "/jobs?job=eth-1d")  # a shared link
    expect(page.locator("#jobs-filter-note")).to_contain_text("Only the runs of eth-1d", timeout=TIMEOUT_MS)
    expect(rows(page, "jobs-history")).to_have_count(2)
    page.get_by_role("link", name="Show all jobs").click()
    expect(rows(page, "jobs-history")).to_have_count(3, timeout=TIMEOUT_MS)
    assert watch.problems == []


def test_an_empty_store_shows_the_commands_that_fill_it(page: Any, tmp_path: Path, shots: list[Path]) -> None:
    from playwright.sync_api import expect

    site: Site = make_site(tmp_path, filled=False)
    with serve_process(site) as running:
        watch = Watch().attach(page)
        page.goto(running.url + "/")
        empty = page.locator("#overview-empty-store")
        expect(empty).to_contain_text(f"zvt-crypto --config {site.config_file} --home {site.home} demo",
                                      timeout=TIMEOUT_MS)
        expect(empty).to_contain_text("record bars --exchange binance --symbol BTC/USDT --level 1h")
        snap(page, shots, "overview-empty")
        page.goto(running.url + "/jobs")
        expect(page.locator("#jobs-history")).to_contain_text("No job has run on this store yet.",
                                                              timeout=TIMEOUT_MS)
        expect(page.locator("#jobs-daemon")).to_contain_text("No scheduler running")
        assert watch.problems == []
        assert running.stop()[0] == 0


def test_login_with_the_token_opens_the_dashboard(page: Any, tmp_path: Path, shots: list[Path]) -> None:
    from playwright.sync_api import expect

    site: Site = make_site(tmp_path, filled=True)
    with serve_process(site, env={"ZVT_CRYPTO_SERVE_TOKEN": TOKEN}) as running:
        page.goto(running.url + "/jobs?job=btc-1h")
        expect(page).to_have_url(re.compile(r"/login\?next="))
        snap(page, shots, "login")
        page.fill("#token", "not-the-token-at-all")
        page.click("button[type=submit]")
        expect(page.get_by_role("alert")).to_contain_text("not right")
        page.fill("#token", TOKEN)
        page.click("button[type=submit]")
        expect(page).to_have_url(running.url + "/jobs?job=btc-1h")
        expect(rows(page, "jobs-history")).to_have_count(1, timeout=TIMEOUT_MS)
        assert page.evaluate("document.cookie") == ""  # HTTP-only: scripts cannot read it
        assert running.stop()[0] == 0


def test_a_failing_callback_shows_why_and_the_server_logs_the_traceback(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    site: Site = make_site(tmp_path, filled=True)
    with serve_process(site) as running:
        (site.home / "zvt_crypto.db").unlink()  # the store vanishes under the running service
        page.goto(running.url + "/")
        error = page.locator("#page-error")
        expect(error).to_contain_text("Could not show the overview:", timeout=TIMEOUT_MS)
        expect(error).to_contain_text("The server log has the traceback.")
        expect(page.locator("[data-dash-is-loading=true]")).to_have_count(0)  # no spinner left turning
        status, _stdout, stderr = running.stop()
    assert status == 0
    assert "ERROR   zvt_crypto.ui: dashboard: the overview failed" in stderr and "Traceback" in stderr
