"""The scheduler's state in the store, on SQLite and PostgreSQL: the lock row refuses a live holder (naming it)
and takes over a dead or silent one; a run left ``running`` by a dead process is marked ``abandoned``;
APScheduler's job store works on the table our migration created."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC

import pytest
from sqlalchemy import select, update

from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import now_ms
from zvt_crypto.domain import JobRun, SchedulerLock
from zvt_crypto.schedule.history import RunTotals, finish_run, host_name, job_health, reap_abandoned, start_run
from zvt_crypto.schedule.lock import LOCK_NAME, LockHeldError, SchedulerLockHandle, read_holder


@pytest.fixture
def other_process() -> Iterator[int]:
    """The pid of a live process that is not us."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process.pid
    process.kill()
    process.wait()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def set_holder(store: Store, **values: object) -> None:
    with store.begin() as connection:
        connection.execute(update(SchedulerLock.__table__).where(SchedulerLock.__table__.c.name == LOCK_NAME)
                           .values(**values))


def test_live_holder_is_refused_by_name(store: Store, other_process: int) -> None:
    first = SchedulerLockHandle(store)
    first.acquire()
    holder = read_holder(store)
    assert holder is not None and (holder.pid, holder.host, holder.token) == (os.getpid(), host_name(), first.token)
    second = SchedulerLockHandle(store)
    with pytest.raises(LockHeldError, match=f"another scheduler is running on this store: pid {os.getpid()} on "):
        second.acquire()  # the same process holds it: not mistaken for a container restart
    set_holder(store, pid=other_process)  # another live process on this host
    with pytest.raises(LockHeldError) as info:
        second.acquire()
    assert f"pid {other_process} on {host_name()}" in str(info.value)
    assert f"kill -TERM {other_process}" in str(info.value)


def test_dead_or_silent_holder_is_taken_over(store: Store, other_process: int) -> None:
    SchedulerLockHandle(store).acquire()
    gone = dead_pid()
    set_holder(store, pid=gone, token="dead")
    taker = SchedulerLockHandle(store)
    taker.acquire()  # same host, process gone: no need to wait for the heartbeat to age
    assert taker.taken_over is not None and taker.taken_over.pid == gone
    assert read_holder(store).token == taker.token  # type: ignore[union-attr]

    set_holder(store, host="elsewhere", token="remote", heartbeat_timestamp=now_ms() - 5_000)
    with pytest.raises(LockHeldError, match=r"pid \d+ on elsewhere"):  # another host, beating: cannot check its pid
        SchedulerLockHandle(store, timeout_seconds=60).acquire()
    set_holder(store, heartbeat_timestamp=now_ms() - 120_000)
    late = SchedulerLockHandle(store, timeout_seconds=60)
    late.acquire()
    assert late.taken_over is not None and late.taken_over.host == "elsewhere"


def test_heartbeat_release_and_losing_the_lock(store: Store) -> None:
    lock = SchedulerLockHandle(store)
    lock.acquire()
    set_holder(store, heartbeat_timestamp=now_ms() - 30_000)
    assert lock.beat()
    assert now_ms() - read_holder(store).heartbeat.timestamp() * 1000 < 5_000  # type: ignore[union-attr]
    set_holder(store, token="someone-else")  # another scheduler took it over
    assert not lock.beat() and lock.lost.is_set()
    lock.release()  # not ours any more: left alone
    assert read_holder(store).token == "someone-else"  # type: ignore[union-attr]
    set_holder(store, token=lock.token)
    lock.release()
    assert read_holder(store) is None


def test_runs_of_dead_processes_are_marked_abandoned(store: Store, other_process: int) -> None:
    start_run(store, "spot", "killed", "schedule")
    start_run(store, "spot", "alive", "schedule")
    start_run(store, "spot", "ours", "schedule")
    table = JobRun.__table__
    with store.begin() as connection:
        connection.execute(update(table).where(table.c.run_id == "killed").values(pid=dead_pid()))
        connection.execute(update(table).where(table.c.run_id == "alive").values(pid=other_process))
    assert reap_abandoned(store) == ["killed"]
    with store.engine.connect() as connection:
        rows = dict(connection.execute(select(table.c.run_id, table.c.status)).all())
        error = connection.execute(select(table.c.error).where(table.c.run_id == "killed")).scalar_one()
    assert rows == {"killed": "abandoned", "alive": "running", "ours": "running"}
    assert "ended without finishing this run (killed or crashed)" in error

    finish_run(store, "ours", "failed", RunTotals(errors=["boom"]))
    finish_run(store, "alive", "ok", RunTotals(changed=5))
    health = job_health(store, "spot")
    assert health.runs == 3 and health.last_success["run_id"] == "alive"  # type: ignore[index]


def test_apscheduler_job_store_uses_our_table(store: Store) -> None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from zvt_crypto.schedule.daemon import JOB_FUNCTION, JOB_TABLE
    from zvt_crypto.schedule.status import next_runs
    from zvt_crypto.schedule.triggers import GridTrigger

    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(engine=store.engine,
                                                                             tablename=JOB_TABLE)}, timezone=UTC)
    scheduler.start(paused=True)
    try:
        job = scheduler.add_job(JOB_FUNCTION, trigger=GridTrigger(3600, 5), args=["spot"], id="spot")
        assert job.next_run_time.minute == 0 and job.next_run_time.second == 5
        assert next_runs(store) == {"spot": job.next_run_time}
        assert [stored.trigger.interval_seconds for stored in scheduler.get_jobs()] == [3600]  # unpickled
    finally:
        scheduler.shutdown(wait=False)
