"""The pages' content functions, called as their callbacks call them, on real SQLite stores (no browser)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from tests.ui.components import find, table_rows, text_of
from tests.ui.conftest import HOSTILE_ERROR, Site, backtesting_csv, make_site, ui_context
from zvt_crypto.schedule.status import JobStatus, Lag, jobs_report
from zvt_crypto.ui.components import GREEN, RED, guarded
from zvt_crypto.ui.pages import jobs, overview


def test_overview_of_a_filled_store_lists_rows_newest_bars_and_last_runs(site: Site) -> None:
    goog, eurusd = (pd.read_csv(backtesting_csv(name), index_col=0) for name in ("GOOG", "EURUSD"))
    content = overview.overview_content(ui_context(site))
    rows = {row[0]: row[1] for row in table_rows(content, "overview-rows")}
    assert rows["Bar"] == f"{len(goog) + len(eurusd):,}"
    assert rows["JobRun"] == "3"
    newest = table_rows(content, "overview-newest")
    assert [row[:3] for row in newest] == [["nasdaq", "1d", f"{goog.index[-1]} 00:00:00"],
                                            ["oanda", "1h", eurusd.index[-1]]]
    assert [row[4:] for row in newest] == [["1", f"{len(goog):,}"], ["1", f"{len(eurusd):,}"]]
    assert find(content, "overview-store-url").children == site.db_url
    runs = table_rows(content, "overview-runs")
    assert [row[1:3] for row in runs] == [["eth-1d", "failed"], ["eth-1d", "failed"], ["btc-1h", "ok"]]
    assert "hunter2" not in text_of(content) and "https://u:***@api.example.com/x" in runs[0][4]
    assert "No scheduler running" in text_of(find(content, "overview-scheduler"))


def test_overview_of_an_empty_store_gives_the_commands_that_fill_it(empty_site: Site) -> None:
    content = overview.overview_content(ui_context(empty_site))
    text = text_of(find(content, "overview-empty-store"))
    prefix = f"zvt-crypto --config {empty_site.config_file} --home {empty_site.home}"  # the shell may set another
    assert f"{prefix} demo" in text
    assert f"{prefix} record bars --exchange binance --symbol BTC/USDT --level 1h --start 2024-01-01" in text
    assert table_rows(content, "overview-rows") == []


def test_overview_command_prefix_names_the_store_of_the_server(tmp_path: Path) -> None:
    from zvt_crypto.contract.config import load_config
    from zvt_crypto.contract.store import Store
    from zvt_crypto.ui.context import UiContext
    from zvt_crypto.ui.settings import ServeSettings

    home = tmp_path / "elsewhere"
    config = load_config(env={"ZVT_CRYPTO_HOME": str(home)})
    context = UiContext(config, Store(config), ServeSettings())
    assert f"zvt-crypto --home {home} demo" in text_of(overview.overview_content(context))


def test_jobs_page_shows_health_per_job_and_the_history(site: Site) -> None:
    context = ui_context(site)
    content = jobs.jobs_content(jobs_report(context.store, context.config, 50), None)
    by_job = {row[0]: row for row in table_rows(content, "jobs-table")}
    assert set(by_job) == {"btc-1h", "eth-1d"}
    assert by_job["eth-1d"][4] == "2" and by_job["btc-1h"][4] == "0"  # failures in a row
    assert by_job["btc-1h"][3] == "no data"  # the job's market has no bars yet
    assert "https://u:***@api.example.com/x" in by_job["eth-1d"][6]
    assert by_job["btc-1h"][2] != "never" and by_job["eth-1d"][2] == "never"
    history = table_rows(content, "jobs-history")
    assert [row[1] for row in history] == ["eth-1d", "eth-1d", "btc-1h"]
    assert history[2][4:9] == [history[2][4], "24", "2", "1", "1/1/0"]
    assert "No scheduler running" in text_of(find(content, "jobs-daemon"))


def test_jobs_page_filtered_to_one_job(site: Site) -> None:
    context = ui_context(site)
    content = jobs.jobs_content(jobs_report(context.store, context.config, 50, "btc-1h"), "btc-1h")
    assert [row[1] for row in table_rows(content, "jobs-history")] == ["btc-1h"]
    assert "Only the runs of btc-1h" in text_of(find(content, "jobs-filter-note"))


def test_jobs_page_shows_the_scheduler_holding_the_store(site: Site) -> None:
    from zvt_crypto.schedule.lock import SchedulerLockHandle

    context = ui_context(site)
    lock = SchedulerLockHandle(context.store)
    lock.acquire()
    try:
        content = jobs.jobs_content(jobs_report(context.store, context.config, 50), None)
    finally:
        lock.release()
    daemon = text_of(find(content, "jobs-daemon"))
    assert "running" in daemon and f"pid {__import__('os').getpid()}" in daemon
    assert find(content, "jobs-heartbeat").children.children.endswith("s")  # seconds old


def test_jobs_page_without_jobs_in_the_config_still_shows_history(tmp_path: Path) -> None:
    site = make_site(tmp_path, filled=True)
    site.config_file.write_text(f'home = "{site.home}"\n', encoding="utf-8")
    context = ui_context(site)
    content = jobs.jobs_content(jobs_report(context.store, context.config, 50), None)
    assert "no [[jobs]] defined" in text_of(find(content, "jobs-no-config"))
    assert len(table_rows(content, "jobs-history")) == 3


def _status(seconds: float | None, interval: float | None) -> JobStatus:
    return JobStatus("j", True, "every 1h UTC", None, False, "ok", None, None, 0, None,
                     [Lag("binance", "bars", "1h", seconds, "BTC/USDT", None)], interval)


@pytest.mark.parametrize(("seconds", "interval", "colour"), [(7200, 3600, RED), (1800, 3600, GREEN),
                                                             (99_999, None, GREEN)])
def test_lag_is_red_above_the_jobs_interval(seconds: float, interval: float | None, colour: str) -> None:
    shown = jobs._lag(_status(seconds, interval))
    assert shown.style["color"] == colour
    assert "BTC/USDT 1h on binance" in shown.title


def test_a_failing_callback_shows_why_and_logs_the_traceback(caplog: pytest.LogCaptureFixture) -> None:
    @guarded("the test part")
    def broken() -> None:
        raise RuntimeError("no such table at postgresql://u:pw@db/x")

    with caplog.at_level(logging.ERROR, logger="zvt_crypto.ui"):
        shown = broken()
    assert shown.id == "page-error" and shown.role == "alert"
    assert text_of(shown).startswith("Could not show the test part: no such table at postgresql://u:***@db/x.")
    assert "pw" not in text_of(shown)
    assert caplog.records[0].exc_info is not None  # the traceback is in the log


def test_markup_from_the_store_is_text_not_html(site: Site) -> None:
    """Dash's html components render children as text nodes; the pages never use dangerouslySetInnerHTML or
    Markdown for stored text."""
    root = Path(overview.__file__).parent.parent
    for source in root.rglob("*.py"):
        code = source.read_text(encoding="utf-8")
        assert "dangerously" not in code and "dcc.Markdown" not in code, source
    context = ui_context(site)
    content = jobs.jobs_content(jobs_report(context.store, context.config, 50), None)
    assert HOSTILE_ERROR.split(" at ")[0] in text_of(content)
