"""The scheduler's own tables: the history of job runs, the one-scheduler-per-store lock, APScheduler's job store.

Why in the store rather than in files next to it: the store is what every process (the daemon, ``zvt-crypto
schedule status``, the dashboard) already opens, it works the same on SQLite and PostgreSQL, and a run's history
row and the data it wrote live in one database, so they can never disagree about which store was recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Double, Index, Integer, LargeBinary, String, Text, Unicode
from sqlalchemy.orm import Mapped, mapped_column

from zvt_crypto.contract.schema import Schema, UtcMillis

#: ``job_run.status`` values: a run is written ``running`` when it starts and updated when it ends; a process
#: that dies mid-run leaves ``running`` with a dead pid, which the next scheduler start marks ``abandoned``.
RUN_STATUSES: tuple[str, ...] = ("running", "ok", "failed", "abandoned")


class JobRun(Schema):
    """One execution of a scheduled job: when, how it ended, what it wrote and asked, which gaps it met."""

    __tablename__ = "job_run"
    __kind__: ClassVar[str] = "meta"
    __key__: ClassVar[tuple[str, ...]] = ("run_id",)
    __table_args__: Any = (Index(None, "job", "started_timestamp"),)

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))  # schedule, catch-up, manual
    status: Mapped[str] = mapped_column(String(16))
    started_timestamp: Mapped[datetime] = mapped_column(UtcMillis)
    ended_timestamp: Mapped[datetime | None] = mapped_column(UtcMillis)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    changed: Mapped[int] = mapped_column(BigInteger, default=0)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    retries: Mapped[int] = mapped_column(BigInteger, default=0)
    gaps_found: Mapped[int] = mapped_column(BigInteger, default=0)
    gaps_filled: Mapped[int] = mapped_column(BigInteger, default=0)
    gaps_confirmed: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # symbols recorded, per-kind and per-step results


class SchedulerLock(Schema):
    """The running scheduler of this store (one row): who holds it and when it last proved it was alive."""

    __tablename__ = "scheduler_lock"
    __kind__: ClassVar[str] = "meta"
    __key__: ClassVar[tuple[str, ...]] = ("name",)

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    token: Mapped[str] = mapped_column(String(36))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_timestamp: Mapped[datetime] = mapped_column(UtcMillis)
    heartbeat_timestamp: Mapped[datetime] = mapped_column(UtcMillis)


class SchedulerJob(Schema):
    """APScheduler 3's ``SQLAlchemyJobStore`` table (its exact columns), created by our migrations so that the
    store's schema stays ours; APScheduler finds it in place and only reads and writes rows."""

    __tablename__ = "scheduler_job"
    __kind__: ClassVar[str] = "meta"
    __key__: ClassVar[tuple[str, ...]] = ("id",)

    id: Mapped[str] = mapped_column(Unicode(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Double, index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)
