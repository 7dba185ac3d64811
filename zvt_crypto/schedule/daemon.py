"""The scheduler daemon: APScheduler 3 with its job store in our store, one scheduler per store, restart-safe.

* Jobs come from the config; they are written to APScheduler's ``SQLAlchemyJobStore`` (table ``scheduler_job``,
  on the store's own engine — never a second engine, see ``SqliteFileGuard``) with ``max_instances=1``,
  ``coalesce`` and a misfire grace time; jobs no longer in the config are removed from it.
* Catch-up: at start, a job whose schedule had a fire time since its last successful run (the daemon was down,
  crashed, or the run failed) runs once at once. Recorders resume after the last stored row, so one run fills
  everything missed.
* Chains: a job with ``after_job`` has no trigger of its own; it runs in the same worker right after each finished
  (not abandoned) run of its upstream. At start, one whose upstream finished a run after its own last run started
  (the daemon stopped in between) catches up on that run.
* Stopping: the first SIGTERM/SIGINT stops scheduling and lets running jobs finish for up to
  ``shutdown_grace_seconds``, then abandons them between pages; a second signal abandons them at once. Exit 0.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from zvt_crypto.contract.config import Config
from zvt_crypto.contract.store import Store
from zvt_crypto.schedule.config import JobSpec, Schedule
from zvt_crypto.schedule.history import job_health, reap_abandoned
from zvt_crypto.schedule.lock import SchedulerLockHandle
from zvt_crypto.schedule.runner import JobRunner
from zvt_crypto.schedule.triggers import missed_since

log = logging.getLogger(__name__)
JOB_TABLE = "scheduler_job"
JOB_FUNCTION = "zvt_crypto.schedule.daemon:run_scheduled_job"

_current: Daemon | None = None


def run_chained_catch_up(name: str, upstream_run_id: str) -> None:
    """A chained job's catch-up (queued in the in-memory job store at start, never persisted)."""
    daemon = _current
    if daemon is not None:
        daemon.run_chained_catch_up(name, upstream_run_id)


def run_scheduled_job(name: str) -> None:
    """What APScheduler calls (by this module path, stored in the job store): the running daemon's job ``name``."""
    daemon = _current
    if daemon is None:
        log.error("job %s fired but no daemon is running in this process", name)
        return
    daemon.run_job(name)


class Daemon:
    """``Daemon(store, config, schedule).run()`` blocks until a signal (or a lost lock); returns the exit code."""

    def __init__(self, store: Store, config: Config, schedule: Schedule) -> None:
        self.store = store
        self.config = config
        self.schedule = schedule
        self.settings = schedule.settings
        self.jobs = {job.name: job for job in schedule.jobs if job.enabled}
        self.runner = JobRunner(store, config, self.settings)
        self.lock = SchedulerLockHandle(store, self.settings.lock_timeout_seconds)
        self._catch_up: set[str] = set()
        self._signal_name = "stop request"
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._scheduler: Any = None

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def run(self) -> int:
        global _current
        self.lock.acquire()  # raises LockHeldError naming the holder
        try:
            holder = self.lock.taken_over
            reaped = reap_abandoned(self.store, {holder.host: holder.pid} if holder else None)
            if reaped:
                log.warning("marked %d run(s) of a dead process as abandoned: %s", len(reaped), ", ".join(reaped))
            self.lock.start_heartbeat(self.settings.heartbeat_seconds)
            _current = self
            self._install_signals()
            self._start_scheduler()
            log.info("scheduler started: %d job(s) — %s", len(self.jobs), "; ".join(
                f"{job.name} ({job.when()})" for job in self.jobs.values()))
            while not self._stop.wait(0.2):
                if self.lock.lost.is_set():
                    log.error("another scheduler took over this store's lock; stopping without finishing runs")
                    self._shutdown(grace=0)
                    return 1
            log.warning("%s: stopping — running jobs may finish for up to %.0f s (send it again to abandon them "
                        "now)", self._signal_name, self.settings.shutdown_grace_seconds)
            self._shutdown(grace=self.settings.shutdown_grace_seconds)
            log.info("scheduler stopped cleanly")
            return 0
        finally:
            if self._scheduler is not None and self._scheduler.running:  # start-up failed half-way
                self._scheduler.shutdown(wait=False)
            _current = None
            if not self.lock.lost.is_set():
                self.lock.release()

    def _install_signals(self) -> None:
        """Handlers only set flags (no logging or locking inside a signal handler); the main thread acts."""

        def handle(signum: int, _frame: FrameType | None) -> None:
            self._signal_name = signal.Signals(signum).name
            (self._abort if self._stop.is_set() else self._stop).set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def _start_scheduler(self) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        workers = max(1, min(self.settings.max_concurrent_jobs, len(self.jobs)))
        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.store.engine, tablename=JOB_TABLE),
                       "memory": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": self.settings.misfire_grace_seconds},
            timezone=UTC,
        )
        scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        scheduler.start(paused=True)
        self._scheduler = scheduler
        for stored in scheduler.get_jobs():
            if stored.id not in self.jobs:
                log.info("removing job %s from the job store: no longer in the config (or disabled)", stored.id)
                scheduler.remove_job(stored.id)
        now = datetime.now(UTC)
        for job in self.jobs.values():
            if job.after_job is not None:
                continue  # chained: started by its upstream's runs, see run_job
            scheduler.add_job(JOB_FUNCTION, trigger=job.trigger(), args=[job.name], id=job.name, name=job.name,
                              replace_existing=True)
            if self._missed(job, now):
                self._catch_up.add(job.name)
                scheduler.modify_job(job.name, next_run_time=now)
        self._catch_up_chains()
        if self._catch_up:
            log.info("catching up: %s run now (a scheduled time passed since the last successful run)",
                     ", ".join(sorted(self._catch_up)))
        scheduler.resume()

    def _catch_up_chains(self) -> None:
        """Chained jobs whose upstream finished a run they did not follow: queue them (once) at start."""
        from zvt_crypto.schedule.history import last_chainable_run

        for job in self.jobs.values():
            if job.after_job is None or job.after_job in self._catch_up or job.after_job not in self.jobs:
                continue  # an upstream that catches up now starts its chain anyway
            upstream = last_chainable_run(self.store, job.after_job)
            own = job_health(self.store, job.name).last_run
            if upstream is not None and (own is None or own["started_timestamp"] < upstream["started_timestamp"]):
                self._catch_up.add(job.name)
                self._scheduler.add_job(run_chained_catch_up, args=[job.name, upstream["run_id"]],
                                        id=f"{job.name}#catch-up", name=f"{job.name} catch-up",
                                        replace_existing=True, jobstore="memory")

    def _missed(self, job: JobSpec, now: datetime) -> bool:
        success = job_health(self.store, job.name).last_success
        return missed_since(job.trigger(), success["started_timestamp"] if success else None, now)

    def _on_event(self, event: Any) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES

        if event.code == EVENT_JOB_MAX_INSTANCES:
            log.warning("job %s: skipped a fire time, its previous run is still going", event.job_id)
        else:
            log.warning("job %s: missed its fire time by more than the misfire grace time", event.job_id)

    def run_job(self, name: str) -> None:
        job = self.jobs.get(name)
        if job is None:
            log.error("job %s fired but is not in the config; ignored", name)
            return
        reason = "catch-up" if name in self._catch_up else "schedule"
        self._catch_up.discard(name)
        self._run_with_chain(job, reason)

    def run_chained_catch_up(self, name: str, upstream_run_id: str) -> None:
        from zvt_crypto.schedule.history import get_run

        self._catch_up.discard(name)
        row = get_run(self.store, upstream_run_id)
        if row is not None:
            self._run_with_chain(self.jobs[name], "catch-up", {"run_id": row["run_id"], **(row["detail"] or {})})

    def _run_with_chain(self, job: JobSpec, reason: str, upstream: dict[str, Any] | None = None) -> None:
        """Run ``job``, then the jobs chained to it (depth first, in config order)."""
        try:
            outcome = self.runner.execute(job, reason, upstream)
        except Exception:  # the history row could not be written (database down): keep the daemon alive
            log.exception("run of %s could not be recorded", job.name)
            return
        if outcome is None or not outcome.chains:
            return
        for chained in self.schedule.chained(job.name):
            if chained.name in self.jobs:
                self._run_with_chain(chained, f"after {job.name}", outcome.as_upstream())

    def _shutdown(self, grace: float) -> None:
        self.runner.stop_accepting("the scheduler is stopping")
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        deadline = time.monotonic() + grace
        while self.runner.active() and not self._abort.is_set() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.runner.active():
            self.runner.cancel_all(f"{self._signal_name} received twice" if self._abort.is_set() else
                                   f"still running {grace:.0f} s after the stop request")
        while self.runner.active():
            time.sleep(0.05)
