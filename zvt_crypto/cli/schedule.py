"""``zvt-crypto schedule run|list|status|run-once|history``: the recording daemon and its health."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from zvt_crypto.cli.app import Context, cli, handle_errors

# Cheap (stdlib and the config module only), and needed by every command: load_config() accepts the [schedule]
# and [[jobs]] sections once this is imported.
from zvt_crypto.schedule import config as _schedule_config  # noqa: F401

_FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)


def _config_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--config FILE`` after the subcommand too (``zvt-crypto schedule run --config jobs.toml``)."""

    def use(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value:
            ctx.ensure_object(Context).use_config_file(value)

    return click.option("--config", type=click.Path(dir_okay=False), expose_value=False, callback=use,
                        is_eager=True, help="TOML config file with [[jobs]] (same as zvt-crypto --config).")(command)


def _schedule(obj: Context) -> Any:
    from zvt_crypto.schedule.config import load_schedule

    return load_schedule(obj.config)


def _table(*columns: str) -> Any:
    from rich.table import Table

    return Table(*columns, box=None, pad_edge=False, show_edge=False)


def _print(table: Any) -> None:
    from rich.console import Console

    Console(width=200, soft_wrap=True).print(table)


@cli.group()
def schedule() -> None:
    """Run recording and factor jobs on a schedule ([[jobs]] in the config file) and watch their health."""


@schedule.command("run")
@_config_option
@click.pass_obj
@handle_errors
def run(obj: Context) -> None:
    """Run the scheduler in the foreground until SIGTERM/SIGINT (one per store; restart-safe)."""
    from zvt_crypto.contract.errors import ConfigError
    from zvt_crypto.schedule.daemon import Daemon
    from zvt_crypto.schedule.logs import setup_logging

    plan = _schedule(obj)  # every job validated before anything is opened or written
    if not any(job.enabled for job in plan.jobs):
        raise ConfigError("every job is disabled (enabled = false): the scheduler would have nothing to do")
    settings = plan.settings
    path = setup_logging(obj.config.home, settings.log_format, settings.log_level)
    click.echo(f"logging to {path}", err=True)
    sys.exit(Daemon(obj.store, obj.config, plan).run())


@schedule.command("list")
@_config_option
@_FORMAT
@click.pass_obj
@handle_errors
def list_jobs(obj: Context, fmt: str) -> None:
    """The configured jobs: what, when, the steps after, next run and last outcome."""
    from zvt_crypto.contract.timeutil import iso
    from zvt_crypto.schedule.history import job_health
    from zvt_crypto.schedule.status import next_runs

    plan = _schedule(obj)
    planned = next_runs(obj.store)
    rows = []
    for job in plan.jobs:
        health = job_health(obj.store, job.name)
        last = health.last_finished
        nxt = planned.get(job.name)
        rows.append({
            "job": job.name, "enabled": job.enabled, "when": job.when(), "what": job.what(),
            "after": [step.describe() for step in job.after],
            "next_run": iso(nxt) if nxt and job.enabled else None,
            "running": bool(health.last_run and health.last_run["status"] == "running"),
            "last_outcome": None if last is None else {
                "status": last["status"], "started": iso(last["started_timestamp"]),
                "ended": iso(last["ended_timestamp"]), "changed": last["changed"], "error": last["error"]},
        })
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    table = _table("job", "when", "what", "after", "next run", "last outcome")
    for row in rows:
        last = row["last_outcome"]
        outcome = "never ran" if last is None else f"{last['status']} at {last['started']} ({last['changed']} rows)"
        outcome += " — running now" if row["running"] else ""
        table.add_row(row["job"] + ("" if row["enabled"] else " (disabled)"), row["when"], row["what"],
                      ", ".join(row["after"]) or "-", row["next_run"] or "-", outcome)
    _print(table)


@schedule.command("status")
@_config_option
@_FORMAT
@click.pass_obj
@handle_errors
def status(obj: Context, fmt: str) -> None:
    """Health per job: last success, lag behind the venue, failures in a row, last error."""
    from zvt_crypto.schedule.status import daemon_status, format_age, schedule_status

    plan = _schedule(obj)
    daemon = daemon_status(obj.store, plan.settings.lock_timeout_seconds)
    jobs = schedule_status(obj.store, plan)
    if fmt == "json":
        click.echo(json.dumps({"daemon": daemon, "jobs": [job.as_dict() for job in jobs]}, indent=2))
        return
    click.echo(daemon["text"])
    table = _table("job", "last success", "failures in a row", "lag", "worst", "next run", "last error")
    for job in jobs:
        worst = max(job.lags, key=lambda lag: float("inf") if lag.seconds is None else lag.seconds, default=None)
        where = f"{worst.worst_symbol} {worst.level} on {worst.exchange}" if worst else "-"
        error = (job.last_error or "-").splitlines()[0][:70]
        table.add_row(job.job + (" (running)" if job.running else ""), job.last_success or "never",
                      str(job.consecutive_failures),
                      format_age(job.worst_lag) if job.lags else "-", where, job.next_run or "-", error)
    _print(table)


@schedule.command("run-once")
@click.argument("job_name", metavar="JOB")
@click.option("--chain/--no-chain", default=True, show_default=True,
              help="Also run the jobs chained to JOB (after_job), as the daemon does.")
@_config_option
@click.pass_obj
@handle_errors
def run_once(obj: Context, job_name: str, chain: bool) -> None:
    """Run JOB now in the foreground (recorded in the history like a scheduled run), then the jobs chained to
    it; exit 1 if any of them failed."""
    from zvt_crypto.contract.errors import InvalidInputError
    from zvt_crypto.schedule.history import reap_abandoned, running_elsewhere
    from zvt_crypto.schedule.logs import setup_logging
    from zvt_crypto.schedule.runner import JobRunner

    plan = _schedule(obj)
    job = plan.job(job_name)
    setup_logging(obj.config.home, plan.settings.log_format, plan.settings.log_level, console=False)
    reap_abandoned(obj.store)
    busy = running_elsewhere(obj.store, job.name)
    if busy:
        raise InvalidInputError(f"job {job.name} is running now (pid {busy[1]} on {busy[0]}); wait for it to end")
    if job.steps_only:
        raise InvalidInputError(f"job {job.name} only runs steps on what {job.after_job} recorded; run "
                                f"{job.after_job} instead (its chained jobs run after it)")
    runner = JobRunner(obj.store, obj.config, plan.settings)
    ok = True
    todo: list[tuple[Any, str, dict[str, Any] | None]] = [(job, "manual", None)]
    while todo:  # the job, then the jobs chained to it (depth first, as the daemon runs them)
        current, reason, upstream = todo.pop(0)
        outcome = runner.execute(current, reason=reason, upstream=upstream)
        assert outcome is not None
        click.echo(str(outcome))
        ok = ok and outcome.status == "ok"
        if chain and outcome.chains:
            todo[:0] = [(chained, f"after {current.name}", outcome.as_upstream())
                        for chained in plan.chained(current.name)]
    if not ok:
        sys.exit(1)


@schedule.command("history")
@_config_option
@click.option("--job", "job_name", help="Only this job.")
@click.option("--limit", type=int, default=20, show_default=True)
@_FORMAT
@click.pass_obj
@handle_errors
def history(obj: Context, job_name: str | None, limit: int, fmt: str) -> None:
    """The latest runs, newest first: status, duration, rows, requests, retries, gaps, error."""
    from zvt_crypto.contract.redaction import redact_value
    from zvt_crypto.contract.timeutil import iso
    from zvt_crypto.schedule.history import recent_runs

    # redacted when shown too: rows written before redaction existed may hold a URL's credentials
    runs = [redact_value(run) for run in recent_runs(obj.store, job_name, limit)]
    if fmt == "json":
        click.echo(json.dumps([{**run, "started_timestamp": iso(run["started_timestamp"]),
                                "ended_timestamp": iso(run["ended_timestamp"])} for run in runs],
                              indent=2, default=str))
        return
    table = _table("started", "job", "reason", "status", "seconds", "written", "requests", "retries", "gaps",
                   "error")
    for run in runs:
        seconds = ("-" if run["ended_timestamp"] is None
                   else f"{(run['ended_timestamp'] - run['started_timestamp']).total_seconds():.1f}")
        gaps = f"{run['gaps_found']}/{run['gaps_filled']}/{run['gaps_confirmed']}"
        table.add_row(iso(run["started_timestamp"]), run["job"], run["reason"], run["status"], seconds,
                      str(run["changed"]), str(run["requests"]), str(run["retries"]), gaps,
                      (run["error"] or "-").splitlines()[0][:80])
    _print(table)

