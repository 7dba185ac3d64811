"""``/jobs?job=NAME`` — the recording scheduler: who holds the store and its heartbeat age; per job the last
success, the lag behind the venue (red above the job's interval), failures in a row, the next run and the last
error; the run history (of one job with ``?job=``). Refreshed every few seconds. "No scheduler running" is a
state, not an error: the history lives in the store."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import dash
from dash import Dash, Input, Output, dcc, html

from zvt_crypto.contract.timeutil import now_ms
from zvt_crypto.schedule.status import JobsReport, JobStatus
from zvt_crypto.ui.components import (
    AMBER,
    GREEN,
    GREY,
    RED,
    age,
    coloured,
    guarded,
    note,
    refresh_timer,
    table,
    utc,
)
from zvt_crypto.ui.context import UiContext

PATH = "/jobs"
REFRESH_SECONDS = 5
HISTORY_ROWS = 50


def register(app: Dash, context: UiContext) -> None:
    dash.register_page(__name__, path=PATH, name="Jobs", title="zvt_crypto — jobs", order=10, layout=layout)

    @app.callback(Output("jobs-content", "children"), Input("jobs-timer", "n_intervals"),
                  Input("jobs-filter", "data"))
    @guarded("the jobs")
    def refresh(_n: int | None, job: str | None) -> Any:
        from zvt_crypto.schedule.status import jobs_report

        return jobs_content(jobs_report(context.store, context.config, HISTORY_ROWS, job or None), job or None)


def layout(job: str | None = None, **_query: str) -> html.Div:
    """``job``: the query parameter that narrows the history to one job (a shareable link)."""
    return html.Div([
        html.H1("Jobs"),
        dcc.Store(id="jobs-filter", data=job or None),
        refresh_timer("jobs-timer", REFRESH_SECONDS),
        html.Div(id="jobs-content"),  # no spinner: a refresh every few seconds must not flash the page
    ])


def jobs_content(report: JobsReport, job: str | None) -> list[Any]:
    return [
        _daemon_section(report.daemon),
        _jobs_section(report),
        _history_section(report.runs, job),
        html.P(f"Updated {utc(now_ms())} UTC; refreshed every {REFRESH_SECONDS} s.", className="updated",
               id="jobs-updated"),
    ]


def _daemon_section(daemon: dict[str, Any]) -> html.Section:
    if "host" not in daemon:
        state: Any = [coloured("No scheduler running", GREY), " on this store. Jobs run when ",
                      html.Code("zvt-crypto schedule run --config FILE"), " is started (see the README)."]
    else:
        heartbeat = daemon["heartbeat_age_seconds"]
        colour = RED if daemon.get("stale") else GREEN
        state = html.Dl([
            html.Dt("state"), html.Dd(coloured("stale: " + daemon["stale"] if daemon.get("stale") else "running",
                                               colour)),
            html.Dt("holder"), html.Dd(f"pid {daemon['pid']} on {daemon['host']}"),
            html.Dt("started (UTC)"), html.Dd(utc(daemon["started"])),
            html.Dt("heartbeat age"), html.Dd(coloured(age(heartbeat), colour), id="jobs-heartbeat"),
        ], className="kv")
    return html.Section([html.H2("Scheduler"), html.Div(state, id="jobs-daemon")], className="card")


def _jobs_section(report: JobsReport) -> html.Section:
    if report.config_problem:
        body: Any = note([
            "Health per job (lag, next run) needs the config file the scheduler runs with; start the dashboard "
            "with it: ", html.Code("zvt-crypto serve --config FILE"), ". ",
            html.Span(f"({report.config_problem.splitlines()[0]})", className="hint"),
        ], note_id="jobs-no-config")
    else:
        body = table(["job", "when", "last success (UTC)", "lag", "failures in a row", "next run (UTC)",
                      "last error"], [_job_row(job) for job in report.jobs], "jobs-table", "No jobs configured.")
    return html.Section([html.H2("Jobs"), body], className="card")


def _job_row(job: JobStatus) -> list[Any]:
    name: Any = dcc.Link(job.job, href=f"{PATH}?job={quote(job.job)}")
    if not job.enabled:
        name = html.Span([name, " (disabled)"])
    elif job.running:
        name = html.Span([name, coloured(" running", GREY)])
    failures = coloured(str(job.consecutive_failures), RED if job.consecutive_failures else GREEN)
    error = (job.last_error or "").splitlines()[0][:160] if job.last_error else ""
    next_run = (utc(job.next_run) if job.next_run
                else coloured("not scheduled", GREY, "planned by the scheduler once it runs" if job.enabled
                              else "disabled in the config"))
    return [name, job.when, utc(job.last_success) if job.last_success else "never", _lag(job), failures,
            next_run, html.Span(error, title=job.last_error or None, className="wrap")]


def _lag(job: JobStatus) -> Any:
    """The worst lag of the job's data; red when above the job's interval (it fell behind), amber when nothing is
    stored yet."""
    if not job.lags:
        return "-"
    worst = max(job.lags, key=lambda lag: float("inf") if lag.seconds is None else lag.seconds)
    where = f"{worst.worst_symbol} {worst.level} on {worst.exchange}"
    if worst.seconds is None:
        return coloured("no data", AMBER, f"nothing stored yet for {where}")
    behind = job.interval_seconds is not None and worst.seconds > job.interval_seconds
    limit = f"; the job runs every {age(job.interval_seconds)}" if job.interval_seconds else ""
    return coloured(age(worst.seconds), RED if behind else GREEN, f"worst: {where}{limit}")


def _history_section(runs: list[dict[str, Any]], job: str | None) -> html.Section:
    rows = [[utc(run["started_timestamp"]), dcc.Link(run["job"], href=f"{PATH}?job={quote(run['job'])}"),
             run["reason"], _status(run["status"]), _seconds(run), f"{run['changed']:,}", f"{run['requests']:,}",
             f"{run['retries']:,}", f"{run['gaps_found']}/{run['gaps_filled']}/{run['gaps_confirmed']}",
             html.Span((run["error"] or "").splitlines()[0][:120] if run["error"] else "",
                       title=run["error"] or None, className="wrap")] for run in runs]
    heading: list[Any] = [html.H2(f"Run history of {job}" if job else "Run history")]
    if job:
        heading.append(html.P(["Only the runs of ", html.Strong(job), ". ", dcc.Link("Show all jobs", href=PATH)],
                              id="jobs-filter-note"))
    return html.Section([
        *heading,
        table(["started (UTC)", "job", "reason", "status", "seconds", "rows written", "requests", "retries",
               "gaps found/filled/confirmed", "error"], rows, "jobs-history",
              f"No run of {job} in the history." if job else "No job has run on this store yet."),
    ], className="card")


def _seconds(run: dict[str, Any]) -> str:
    if run["ended_timestamp"] is None:
        return "-"
    return f"{(run['ended_timestamp'] - run['started_timestamp']).total_seconds():.1f}"


def _status(status: str) -> html.Span:
    return coloured(status, {"ok": GREEN, "running": GREY}.get(status, RED))

