"""Job history: one ``job_run`` row per execution, written ``running`` at the start and completed at the end.

Why two writes: a run that never ends (the process was SIGKILLed, the machine lost power) must still be visible.
Its row stays ``running`` with the pid of a dead process; :func:`reap_abandoned` marks such rows ``abandoned``
when the next scheduler starts, so "the job silently stopped" always shows up in the history.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from zvt_crypto.contract.redaction import redact_text, redact_value
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import iso, now_ms
from zvt_crypto.domain.jobs import JobRun

MAX_ERROR_CHARS = 4000
COUNTERS = ("rows", "changed", "requests", "retries", "gaps_found", "gaps_filled", "gaps_confirmed")


@dataclass
class RunTotals:
    """What a run did so far (the numbers of its recording summaries)."""

    rows: int = 0
    changed: int = 0
    requests: int = 0
    retries: int = 0
    gaps_found: int = 0
    gaps_filled: int = 0
    gaps_confirmed: int = 0
    errors: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def counters(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTERS}


def host_name() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie (a killed child nobody reaped yet)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def new_run_id() -> str:
    return str(uuid.uuid4())


def start_run(store: Store, job: str, run_id: str, reason: str) -> datetime:
    """Insert the ``running`` row; returns its start time."""
    started = now_ms()
    row = {"run_id": run_id, "job": job, "reason": reason, "status": "running", "started_timestamp": started,
           "ended_timestamp": None, "error": None, "host": host_name(), "pid": os.getpid(), "detail": None,
           **dict.fromkeys(COUNTERS, 0)}
    with store.begin() as connection:
        connection.execute(JobRun.__table__.insert().values(**row))
    from zvt_crypto.contract.timeutil import to_datetime

    return to_datetime(started)


def finish_run(store: Store, run_id: str, status: str, totals: RunTotals, error: str | None = None) -> None:
    text = error if error is not None else ("\n".join(totals.errors) or None)
    text = redact_text(text) if text else text  # the history outlives the run: no credential of a URL in it
    if text and len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 20] + " … (truncated)"
    with store.begin() as connection:
        connection.execute(
            update(JobRun.__table__).where(JobRun.__table__.c.run_id == run_id).values(
                status=status, ended_timestamp=now_ms(), error=text, detail=redact_value(totals.detail) or None,
                **totals.counters())
        )


def reap_abandoned(store: Store, also: Mapping[str, int] | None = None) -> list[str]:
    """Mark ``running`` rows of dead processes on this host — and of ``also`` (host → pid: a stale lock holder on
    another host) — as ``abandoned``. Returns their run ids."""
    table = JobRun.__table__
    host = host_name()
    with store.begin() as connection:
        rows = connection.execute(
            select(table.c.run_id, table.c.host, table.c.pid).where(table.c.status == "running")
        ).all()
        dead = [run_id for run_id, run_host, pid in rows
                if (run_host == host and pid != os.getpid() and not pid_alive(pid))
                or (also is not None and also.get(run_host) == pid)]
        for run_id, run_host, pid in rows:
            if run_id in dead:
                connection.execute(
                    update(table).where(table.c.run_id == run_id, table.c.status == "running").values(
                        status="abandoned",
                        error=f"process {pid} on {run_host} ended without finishing this run (killed or crashed); "
                              f"noticed at {iso(now_ms())}; the next run resumes after the last stored data")
                )
    return dead


def running_elsewhere(store: Store, job: str) -> tuple[str, int] | None:
    """(host, pid) of a live process running ``job`` now on this host, if any (other hosts: not checkable)."""
    table = JobRun.__table__
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(table.c.host, table.c.pid).where(table.c.job == job, table.c.status == "running")
        ).all()
    for host, pid in rows:
        if host == host_name() and pid != os.getpid() and pid_alive(pid):
            return host, pid
    return None


@dataclass
class JobHealth:
    """The history facts ``status`` and the dashboard show for one job."""

    job: str
    last_run: dict[str, Any] | None = None  # the newest row, maybe still running
    last_finished: dict[str, Any] | None = None  # the newest row that ended (ok, failed or abandoned)
    last_success: dict[str, Any] | None = None
    consecutive_failures: int = 0
    runs: int = 0


def job_health(store: Store, job: str, window: int = 200) -> JobHealth:
    """Last run, last success, failures in a row since the last success (``abandoned`` runs neither break nor
    extend the streak; a run still ``running`` is skipped)."""
    table = JobRun.__table__
    with store.engine.connect() as connection:
        recent = [dict(row._mapping) for row in connection.execute(
            select(table).where(table.c.job == job).order_by(table.c.started_timestamp.desc()).limit(window))]
        total = connection.execute(select(func.count()).select_from(table).where(table.c.job == job)).scalar_one()
        last_ok = connection.execute(
            select(table).where(table.c.job == job, table.c.status == "ok")
            .order_by(table.c.started_timestamp.desc()).limit(1)).first()
    finished = next((row for row in recent if row["status"] != "running"), None)
    health = JobHealth(job, recent[0] if recent else None, finished, dict(last_ok._mapping) if last_ok else None, 0,
                       total)
    for row in recent:
        if row["status"] == "ok":
            break
        if row["status"] == "failed":
            health.consecutive_failures += 1
    return health


def last_chainable_run(store: Store, job: str) -> dict[str, Any] | None:
    """The newest run of ``job`` that finished ``ok`` or ``failed`` (the runs chained jobs follow)."""
    table = JobRun.__table__
    with store.engine.connect() as connection:
        row = connection.execute(
            select(table).where(table.c.job == job, table.c.status.in_(("ok", "failed")))
            .order_by(table.c.started_timestamp.desc()).limit(1)).first()
    return None if row is None else dict(row._mapping)


def get_run(store: Store, run_id: str) -> dict[str, Any] | None:
    table = JobRun.__table__
    with store.engine.connect() as connection:
        row = connection.execute(select(table).where(table.c.run_id == run_id)).first()
    return None if row is None else dict(row._mapping)


def recent_runs(store: Store, job: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    table = JobRun.__table__
    query = select(table).order_by(table.c.started_timestamp.desc()).limit(limit)
    if job is not None:
        query = query.where(table.c.job == job)
    with store.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]

