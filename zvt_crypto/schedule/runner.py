"""One execution of a job: resolve its symbols, record each kind and level (exchanges concurrently), run its
after-steps, and keep the ``job_run`` row, the logs and the alerts in step with what happened.

Stopping a run: :meth:`JobRunner.cancel_all` cancels the run's asyncio task. The recorders write each page in
one transaction inside a worker thread, so cancellation lands between pages: the page being written is committed
whole, the rest is left for the next run (which resumes after the last stored row). The row ends ``abandoned``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from zvt_crypto.contract.config import Config
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.redaction import redact_text
from zvt_crypto.contract.schema import Schema
from zvt_crypto.contract.store import Store
from zvt_crypto.schedule.alerts import Alerter
from zvt_crypto.schedule.config import JobSpec, ScheduleSettings
from zvt_crypto.schedule.history import RunTotals, finish_run, job_health, new_run_id, start_run
from zvt_crypto.schedule.logs import run_context
from zvt_crypto.schedule.steps import StepContext, get_step

if TYPE_CHECKING:
    from zvt_crypto.recorders.base import RecordSummary

log = logging.getLogger(__name__)
#: kinds whose recorders take no ``start`` (a whole listing, or a snapshot of now)
_NO_START = {"markets", "orderbook"}


@dataclass
class ActiveRun:
    """A run in progress, as the daemon sees it (to wait for it or to cancel it)."""

    job: str
    run_id: str
    loop: asyncio.AbstractEventLoop | None = None
    task: asyncio.Task[Any] | None = None
    cancel_reason: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def cancel(self, reason: str) -> None:
        self.cancel_reason = reason
        if self.loop is not None and self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)


@dataclass
class RunOutcome:
    run_id: str
    job: str
    status: str
    totals: RunTotals
    error: str | None = None

    @property
    def symbols(self) -> dict[str, list[str]]:
        """Exchange → the symbols this run recorded (what a chained steps-only job works on)."""
        return upstream_symbols(self.totals.detail)

    @property
    def failed(self) -> dict[str, set[str]]:
        """Exchange → the symbols whose recording failed in this run."""
        return upstream_failed(self.totals.detail)

    def as_upstream(self) -> dict[str, Any]:
        """What a job chained to this one receives (see :meth:`JobRunner.execute`)."""
        return {"run_id": self.run_id, **self.totals.detail}

    @property
    def chains(self) -> bool:
        """Whether jobs chained to this one run after it: yes unless it was abandoned (stopping) — a run with
        some failed symbols still recorded the others; the chained steps get the failed ones in
        :attr:`StepContext.failed`, and every step is incremental, so a step over a symbol with nothing new is a
        no-op."""
        return self.status in ("ok", "failed")

    def __str__(self) -> str:
        t = self.totals
        text = (f"{self.job}: {self.status} — {t.changed} rows written ({t.rows} received), {t.requests} requests, "
                f"{t.retries} retries, gaps {t.gaps_found} found / {t.gaps_filled} filled / {t.gaps_confirmed} "
                f"confirmed (run {self.run_id})")
        if self.error:
            text += "\n  " + self.error.replace("\n", "\n  ")
        return text


class JobRunner:
    """Runs jobs (from any thread) and tracks the runs in progress."""

    def __init__(self, store: Store, config: Config, settings: ScheduleSettings) -> None:
        self.store = store
        self.config = config
        self.alerter = Alerter(settings)
        self._lock = threading.Lock()
        self._active: dict[str, ActiveRun] = {}
        self._stopping: str | None = None

    # -- control from the daemon ------------------------------------------------------------------------------
    def active(self) -> list[ActiveRun]:
        with self._lock:
            return list(self._active.values())

    def stop_accepting(self, reason: str) -> None:
        """No new run starts from now on (a run APScheduler already queued returns at once)."""
        with self._lock:
            self._stopping = reason

    def cancel_all(self, reason: str) -> None:
        for run in self.active():
            log.warning("abandoning run %s of %s: %s", run.run_id, run.job, reason)
            run.cancel(reason)

    # -- one run -------------------------------------------------------------------------------------------------
    def execute(self, job: JobSpec, reason: str = "schedule",
                upstream: Mapping[str, Any] | None = None) -> RunOutcome | None:
        """Run ``job`` now, write its history row, alert if needed. None if the runner is stopping, or if the job
        is running already (``max_instances=1`` holds for chained runs too). ``upstream`` is the ``detail`` of the
        run a chained job follows: a steps-only job works on the symbols it recorded."""
        run = ActiveRun(job.name, new_run_id())
        with self._lock:
            if self._stopping is not None:
                log.info("job %s not started: %s", job.name, self._stopping)
                return None
            if any(other.job == job.name for other in self._active.values()):
                log.warning("job %s not started (%s): its previous run is still going", job.name, reason)
                return None
            self._active[run.run_id] = run
        try:
            with run_context(job.name, run.run_id):
                return self._execute(job, run, reason, upstream)
        finally:
            with self._lock:
                self._active.pop(run.run_id, None)
            run.done.set()

    def _execute(self, job: JobSpec, run: ActiveRun, reason: str,
                 upstream: Mapping[str, Any] | None = None) -> RunOutcome:
        failures_before = job_health(self.store, job.name).consecutive_failures
        start_run(self.store, job.name, run.run_id, reason)
        log.info("run of %s started (%s): %s", job.name, reason, job.what())
        totals = RunTotals()
        error: str | None = None
        try:
            from zvt_crypto.recorders.base import run_coroutine

            # also from a thread with a running loop (the demo run inside a notebook or a browser test's process)
            run_coroutine(self._run(job, run, totals, upstream))
            status = "failed" if totals.errors else "ok"
        except (asyncio.CancelledError, KeyboardInterrupt):
            status = "abandoned"
            error = (f"stopped ({run.cancel_reason or 'interrupted'}) before the run finished; every page written "
                     "is complete, the next run resumes after it")
        except Exception as exc:
            log.exception("run of %s failed", job.name)
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        error = error or ("\n".join(totals.errors) or None)
        outcome = RunOutcome(run.run_id, job.name, status, totals, redact_text(error) if error else None)
        finish_run(self.store, run.run_id, status, totals, outcome.error)
        log.info("%s", outcome)
        if status != "abandoned":
            self.alerter.after_run(job.name, run.run_id, status, failures_before, outcome.error)
        return outcome

    async def _run(self, job: JobSpec, run: ActiveRun, totals: RunTotals,
                   upstream: Mapping[str, Any] | None = None) -> None:
        run.loop, run.task = asyncio.get_running_loop(), asyncio.current_task()
        if run.cancel_reason is not None:
            raise asyncio.CancelledError
        if job.steps_only:
            if upstream is None:
                raise InvalidInputError(f"job {job.name} only runs steps on what {job.after_job} recorded; run "
                                        f"{job.after_job} (zvt-crypto schedule run-once {job.after_job}) to start it")
            totals.detail["after_run"] = upstream.get("run_id")
            symbols: dict[str, list[str] | None] = dict(upstream_symbols(upstream))
            failed_before = upstream_failed(upstream)
            totals.detail["failed"] = {ex: sorted(syms) for ex, syms in failed_before.items() if syms}
        else:
            symbols = await self._symbols(job, totals)
            failed_before = {}
        totals.detail["symbols"] = symbols
        totals.detail["record"] = []
        from zvt_crypto.contract.schema import get_schema
        from zvt_crypto.domain.kinds import KINDS  # the kind → schema table of `zvt-crypto record`

        for kind in job.kinds:
            schema_name, leveled, _help = KINDS[kind]
            schema = get_schema(schema_name)
            for level in job.levels if leveled else (None,):
                targets = {exchange: syms for exchange, syms in symbols.items() if kind == "markets" or syms}
                if targets:
                    await self._record(job, kind, schema, level, targets, totals)
        failed: dict[str, set[str]] = {exchange: set(failed_before.get(exchange, ())) for exchange in symbols}
        for entry in totals.detail["record"]:
            failed[entry["exchange"]].update(entry["failed"])
        steps: list[dict[str, Any]] = []
        totals.detail["steps"] = steps
        context = StepContext(self.store, self.config, job, {ex: list(s or []) for ex, s in symbols.items()}, failed)
        for step in job.after:
            step_kind = get_step(step.kind)
            name = step_kind.describe(step)
            try:
                result = await asyncio.to_thread(step_kind.run, context, step)
            except Exception as exc:  # a failing step is recorded; the other steps still run
                log.exception("after-step %s of %s failed", name, job.name)
                totals.errors.append(f"after {name}: {type(exc).__name__}: {exc}")
                steps.append({"step": name, "error": str(exc)})
                continue
            steps.append({"step": name, "rows": result.rows, "text": result.text})
            log.info("after-step %s: %s", name, result.text or f"{result.rows} rows")

    async def _symbols(self, job: JobSpec, totals: RunTotals) -> dict[str, list[str] | None]:
        """Exchange → symbols (None: the kind records everything, e.g. markets)."""
        universe = job.universe
        if universe is None:
            return {exchange: list(job.symbols) if job.symbols else None for exchange in job.exchanges}
        from zvt_crypto.schedule.universe import resolve_universe

        async def one(exchange: str) -> list[str]:
            try:
                chosen, stats = await resolve_universe(exchange, universe, self.config)
            except Exception as exc:  # one venue's failure must not stop the others
                log.warning("universe of %s on %s failed: %s", job.name, exchange, exc, exc_info=True)
                totals.errors.append(f"universe on {exchange}: {type(exc).__name__}: {exc}")
                return []
            totals.requests += stats.requests
            totals.retries += stats.retries
            log.info("universe on %s: %s", exchange, ", ".join(chosen) or "(none)")
            return chosen

        chosen = await asyncio.gather(*(one(exchange) for exchange in job.exchanges))
        return dict(zip(job.exchanges, chosen, strict=True))

    async def _record(self, job: JobSpec, kind: str, schema: type[Schema], level: str | None,
                      targets: Mapping[str, Sequence[str] | None], totals: RunTotals) -> None:
        """Record one kind (and level) from every exchange at once. With a ``start``, symbols that have nothing
        stored begin there and the others resume where they stopped (the recorders' ``start`` applies to all)."""
        from zvt_crypto.recorders.base import arecord_exchanges

        options: dict[str, Any] = {"level": level} if level else {}
        groups: list[tuple[dict[str, Sequence[str] | None], dict[str, Any]]] = [(dict(targets), options)]
        if job.start is not None and kind not in _NO_START:
            fresh = await asyncio.to_thread(_unrecorded, self.store, schema, targets, level)
            resumed = {ex: [s for s in syms or () if s not in fresh[ex]] for ex, syms in targets.items()}
            groups = [({ex: syms for ex, syms in resumed.items() if syms}, options),
                      ({ex: list(syms) for ex, syms in fresh.items() if syms}, {**options, "start": job.start})]
        for group, group_options in groups:
            if not group:
                continue
            partial: list[RecordSummary] = []
            try:
                summaries = await arecord_exchanges(schema, group, store=self.store, config=self.config,
                                                    show_progress=False, partial=partial, **group_options)
            except BaseException:  # stopped part-way: the history still counts what reached the store
                _add_summaries(totals, kind, level, partial)
                raise
            _add_summaries(totals, kind, level, summaries)


def _add_summaries(totals: RunTotals, kind: str, level: str | None, summaries: Sequence[RecordSummary]) -> None:
    """Add recording summaries to a run's totals and ``detail``."""
    for summary in summaries:
        entry = {"kind": kind, "level": level, "exchange": summary.exchange, "rows": summary.total("rows"),
                 "changed": summary.total("changed"), "requests": summary.requests,
                 "failed": {r.symbol: r.error for r in summary.failed}}
        totals.detail.setdefault("record", []).append(entry)
        totals.rows += summary.total("rows")
        totals.changed += summary.total("changed")
        totals.requests += summary.requests
        totals.retries += summary.retries
        totals.gaps_found += summary.total("gaps_found")
        totals.gaps_filled += summary.total("gaps_filled")
        totals.gaps_confirmed += summary.total("gaps_confirmed")
        where = f"{kind}{' ' + level if level else ''} on {summary.exchange}"
        totals.errors.extend(f"{where}: {r.symbol}: {r.error}" for r in summary.failed)


def upstream_symbols(detail: Mapping[str, Any]) -> dict[str, list[str]]:
    """Exchange → symbols of a run, from its ``detail`` (``None``, everything, counts as none: markets only)."""
    return {exchange: list(symbols or []) for exchange, symbols in (detail.get("symbols") or {}).items()}


def upstream_failed(detail: Mapping[str, Any]) -> dict[str, set[str]]:
    """Exchange → the symbols whose recording failed in a run, from its ``detail``."""
    failed: dict[str, set[str]] = {}
    for entry in detail.get("record") or ():
        failed.setdefault(entry["exchange"], set()).update(entry.get("failed") or ())
    failed.update({exchange: set(symbols) for exchange, symbols in (detail.get("failed") or {}).items()})
    return failed


def _unrecorded(store: Store, schema: type[Schema], targets: Mapping[str, Sequence[str] | None],
                level: str | None) -> dict[str, set[str]]:
    """Exchange → the symbols with no row of ``schema`` (at ``level``) in the store yet."""
    from zvt_crypto.contract.ids import entity_id

    table = schema.__table__
    out: dict[str, set[str]] = {}
    with store.engine.connect() as connection:
        for exchange, symbols in targets.items():
            out[exchange] = set()
            for symbol in symbols or ():
                query = select(table.c.entity_id).where(table.c.entity_id == entity_id(exchange, symbol))
                if level is not None and "level" in table.c:
                    query = query.where(table.c.level == level)
                if connection.execute(query.limit(1)).first() is None:
                    out[exchange].add(symbol)
    return out
