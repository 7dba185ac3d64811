"""``jobs_report`` (the dashboard's /jobs and the API) and the job interval that colours a lag."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from zvt_crypto.contract.config import load_config
from zvt_crypto.contract.store import Store
from zvt_crypto.schedule.config import parse_schedule
from zvt_crypto.schedule.history import RunTotals, finish_run, new_run_id, start_run
from zvt_crypto.schedule.status import interval_seconds, jobs_report

JOBS = {"jobs": [
    {"name": "every", "exchange": "binance", "symbols": ["BTC/USDT"], "levels": ["1h"], "every": "15m"},
    {"name": "nightly", "exchange": "binance", "symbols": ["BTC/USDT"], "levels": ["1d"], "cron": "0 0 * * *"},
    {"name": "weekdays", "exchange": "binance", "symbols": ["BTC/USDT"], "levels": ["1h"], "cron": "0 9 * * 1-5"},
    {"name": "chained", "after_job": "every", "after": [{"factor": "rsi", "level": "1h"}]},
]}


@pytest.mark.parametrize(("job", "seconds"), [("every", 900), ("nightly", 86_400), ("chained", 900),
                                              ("weekdays", 86_400)])
def test_interval_seconds(job: str, seconds: float) -> None:
    schedule = parse_schedule(JOBS)
    monday = datetime(2024, 1, 1, 10, tzinfo=UTC)  # cron: the gap between the next two fire times
    assert interval_seconds(schedule.job(job), schedule, monday) == seconds


def test_jobs_report_with_and_without_jobs_in_the_config(sqlite_store: Store, tmp_path: Path) -> None:
    for job, status in (("spot", "ok"), ("spot", "failed"), ("other", "ok")):
        run_id = new_run_id()
        start_run(sqlite_store, job, run_id, "scheduled")
        finish_run(sqlite_store, run_id, status, RunTotals(), error="at https://u:pw@x.example/y" if
                   status == "failed" else None)
    config_file = tmp_path / "jobs.toml"
    config_file.write_text('[[jobs]]\nname = "spot"\nexchange = "binance"\nsymbols = ["BTC/USDT"]\n'
                           'levels = ["1h"]\nevery = "1h"\n', encoding="utf-8")
    from zvt_crypto.schedule import config as _schedule_config  # noqa: F401 - load_config accepts [[jobs]]

    report = jobs_report(sqlite_store, load_config(config_file, env={}), history_limit=10)
    assert report.config_problem is None and report.daemon["running"] is False
    assert [(job.job, job.consecutive_failures, job.interval_seconds) for job in report.jobs] == [("spot", 1, 3600)]
    assert report.jobs[0].last_error == "at https://u:***@x.example/y"
    assert [run["job"] for run in report.runs] == ["other", "spot", "spot"]
    assert [run["job"] for run in jobs_report(sqlite_store, load_config(config_file, env={}), 10, "spot").runs
            ] == ["spot", "spot"]

    bare = jobs_report(sqlite_store, load_config(env={}), history_limit=2)
    assert bare.jobs == [] and "no jobs configured" in (bare.config_problem or "")
    assert len(bare.runs) == 2  # the history lives in the store, config or not
