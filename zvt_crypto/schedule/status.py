"""Health per job, for ``zvt-crypto schedule status`` and the dashboard: last success, failures in a row, lag
behind the venue, next run, and whether a daemon holds the store.

Lag is measured on what matters — the data: our UTC clock minus the close of the newest stored bar, per
exchange, kind and level, for the job's worst symbol (the last run's symbols for a universe job). A job can
"succeed" while a symbol silently stops advancing; the lag shows it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from zvt_crypto.contract.config import Config
from zvt_crypto.contract.redaction import redact_text
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import iso, now_ms, to_ms
from zvt_crypto.domain.jobs import SchedulerJob
from zvt_crypto.schedule.config import JobSpec, Schedule
from zvt_crypto.schedule.history import job_health
from zvt_crypto.schedule.lock import is_stale, read_holder


@dataclass
class Lag:
    exchange: str
    kind: str
    level: str
    seconds: float | None  # None: nothing stored yet
    worst_symbol: str | None
    last_bar: str | None  # open time of the worst symbol's newest bar (ISO, UTC)


@dataclass
class JobStatus:
    job: str
    enabled: bool
    when: str
    next_run: str | None
    running: bool  # a run is in progress now
    last_status: str | None  # of the newest finished run
    last_run: str | None
    last_success: str | None
    consecutive_failures: int
    last_error: str | None
    lags: list[Lag] = field(default_factory=list)
    #: seconds between two runs (cron: between its next two fire times; chained: its upstream's), None if unknown;
    #: a lag above it means the job fell behind
    interval_seconds: float | None = None

    @property
    def worst_lag(self) -> float | None:
        values = [lag.seconds for lag in self.lags if lag.seconds is not None]
        if len(values) < len(self.lags):
            return None
        return max(values, default=None)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "worst_lag_seconds": self.worst_lag}


def next_runs(store: Store) -> dict[str, datetime | None]:
    """Job id → next run time, from APScheduler's job store (as the daemon last wrote it)."""
    from zvt_crypto.contract.timeutil import to_datetime

    table = SchedulerJob.__table__
    with store.engine.connect() as connection:
        rows = connection.execute(select(table.c.id, table.c.next_run_time)).all()
    return {job: None if value is None else to_datetime(round(value * 1000)) for job, value in rows}


def daemon_status(store: Store, timeout_seconds: float) -> dict[str, Any]:
    holder = read_holder(store)
    if holder is None:
        return {"running": False, "text": "no scheduler is running on this store"}
    stale = is_stale(holder, timeout_seconds)
    text = f"scheduler {holder.describe()}" + (f" — STALE: {stale}" if stale else "")
    return {"running": stale is None, "host": holder.host, "pid": holder.pid, "started": iso(to_ms(holder.started)),
            "heartbeat": iso(to_ms(holder.heartbeat)),
            "heartbeat_age_seconds": (now_ms() - to_ms(holder.heartbeat)) / 1000, "stale": stale, "text": text}


def interval_seconds(job: JobSpec, schedule: Schedule, now: datetime | None = None) -> float | None:
    """Seconds between two runs of ``job``: ``every``, the gap between a cron's next two fire times, or (chained)
    its upstream's interval; None when there is no upstream to follow."""
    if job.every_seconds:
        return float(job.every_seconds)
    if job.cron:
        moment = now or datetime.now(UTC)
        trigger = job.trigger()
        first = trigger.get_next_fire_time(None, moment)
        second = trigger.get_next_fire_time(first, first) if first else None
        return (second - first).total_seconds() if first and second else None
    upstream = next((other for other in schedule.jobs if other.name == job.after_job), None)
    return interval_seconds(upstream, schedule, now) if upstream is not None and upstream is not job else None


def job_lags(store: Store, job: JobSpec, symbols: dict[str, list[str] | None], now: int | None = None) -> list[Lag]:
    from zvt_crypto.contract.ids import entity_id
    from zvt_crypto.contract.levels import Level
    from zvt_crypto.contract.schema import get_schema
    from zvt_crypto.domain.kinds import KINDS

    now = now if now is not None else now_ms()
    lags: list[Lag] = []
    with store.engine.connect() as connection:
        for kind in job.kinds:
            schema_name, leveled, _help = KINDS[kind]
            if not leveled:
                continue
            table = get_schema(schema_name).__table__
            for exchange in job.exchanges:
                for level in job.levels:
                    step = Level.parse(level).ms
                    entries: list[tuple[float | None, str, int | None]] = []
                    for symbol in symbols.get(exchange) or ():
                        last = connection.execute(
                            select(func.max(table.c.timestamp)).where(table.c.entity_id == entity_id(exchange, symbol),
                                                                      table.c.level == level)).scalar()
                        last_ms = None if last is None else to_ms(last)
                        entries.append((None if last_ms is None else (now - (last_ms + step)) / 1000, symbol, last_ms))
                    if not entries:
                        continue
                    missing = [entry for entry in entries if entry[0] is None]
                    seconds, symbol, last_ms = missing[0] if missing else max(entries, key=lambda e: e[0] or 0.0)
                    lags.append(Lag(exchange, kind, level, seconds, symbol, iso(last_ms) if last_ms else None))
    return lags


def schedule_status(store: Store, schedule: Schedule) -> list[JobStatus]:
    planned = next_runs(store)
    out = []
    for job in schedule.jobs:
        health = job_health(store, job.name)
        last, success = health.last_finished, health.last_success
        symbols: dict[str, list[str] | None] = {ex: list(job.symbols) if job.symbols else None for ex in job.exchanges}
        if job.universe is not None:
            detail = (success or last or {}).get("detail") or {}
            symbols = detail.get("symbols") or {}
        nxt = planned.get(job.name)
        out.append(JobStatus(
            job=job.name, enabled=job.enabled, when=job.when(), next_run=iso(to_ms(nxt)) if nxt else None,
            running=bool(health.last_run and health.last_run["status"] == "running"),
            last_status=last["status"] if last else None,
            last_run=iso(to_ms(last["started_timestamp"])) if last else None,
            last_success=iso(to_ms(success["ended_timestamp"] or success["started_timestamp"])) if success else None,
            consecutive_failures=health.consecutive_failures,
            # redacted again when shown: rows written before redaction existed may hold a URL's credentials
            last_error=redact_text(last["error"]) if last and last["status"] != "ok" and last["error"] else None,
            lags=job_lags(store, job, symbols),
            interval_seconds=interval_seconds(job, schedule),
        ))
    return out


@dataclass
class JobsReport:
    """Everything the dashboard's jobs page (and the REST API) shows: the daemon, health per job, the history.

    ``jobs`` is empty and ``config_problem`` says why when the config names no jobs: the history and the daemon
    are still shown, since they live in the store."""

    daemon: dict[str, Any]
    jobs: list[JobStatus]
    runs: list[dict[str, Any]]
    config_problem: str | None = None


def jobs_report(store: Store, config: Config, history_limit: int = 50, job: str | None = None) -> JobsReport:
    """The daemon's state, each configured job's health and the newest ``history_limit`` runs (of ``job`` only,
    if given), every error text redacted."""
    from zvt_crypto.contract.errors import ConfigError
    from zvt_crypto.contract.redaction import redact_value
    from zvt_crypto.schedule.config import ScheduleSettings, load_schedule
    from zvt_crypto.schedule.history import recent_runs

    problem = None
    try:
        schedule: Schedule | None = load_schedule(config)
    except ConfigError as exc:
        schedule, problem = None, str(exc)
    timeout = (schedule.settings if schedule else ScheduleSettings()).lock_timeout_seconds
    jobs = schedule_status(store, schedule) if schedule else []
    runs = [redact_value(run) for run in recent_runs(store, job, history_limit)]
    return JobsReport(daemon_status(store, timeout), jobs, runs, problem)


def format_age(seconds: float | None) -> str:
    if seconds is None:
        return "no data"
    seconds = max(seconds, 0)
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"
