"""One scheduler per store: a ``scheduler_lock`` row with its holder and a heartbeat.

Why a row in the store rather than a lock file: the store is the shared resource (two daemons recording the
same data would double every request), and a PostgreSQL store is shared across machines where a file lock
would not be. Taking the lock is one transaction (``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE`` on PostgreSQL).
A holder whose heartbeat is older than the timeout, or whose process is gone (same host), is stale: its lock is
taken over, so a crashed daemon never blocks its restart.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.exc import IntegrityError

from zvt_crypto.contract.errors import ZvtCryptoError
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import iso, now_ms, to_ms
from zvt_crypto.domain.jobs import SchedulerLock
from zvt_crypto.schedule.history import host_name, pid_alive

log = logging.getLogger(__name__)
LOCK_NAME = "scheduler"
_held: set[str] = set()  # tokens of the locks this process holds


class LockHeldError(ZvtCryptoError):
    """Another scheduler is running on this store."""


@dataclass(frozen=True)
class Holder:
    token: str
    host: str
    pid: int
    started: datetime
    heartbeat: datetime

    def describe(self, now: int | None = None) -> str:
        age = ((now or now_ms()) - to_ms(self.heartbeat)) / 1000
        return (f"pid {self.pid} on {self.host}, running since {iso(to_ms(self.started))}, last heartbeat "
                f"{age:.0f} s ago")


def read_holder(store: Store) -> Holder | None:
    table = SchedulerLock.__table__
    with store.engine.connect() as connection:
        row = connection.execute(select(table).where(table.c.name == LOCK_NAME)).first()
    return _holder(row)


def _holder(row: Row[Any] | None) -> Holder | None:
    if row is None:
        return None
    data = row._mapping
    return Holder(data["token"], data["host"], data["pid"], data["started_timestamp"], data["heartbeat_timestamp"])


def is_stale(holder: Holder, timeout_seconds: float, now: int | None = None) -> str | None:
    """Why ``holder`` no longer holds the lock (its process is gone, or it stopped beating), or None."""
    now = now if now is not None else now_ms()
    if holder.host == host_name():
        if holder.pid == os.getpid():
            return None if holder.token in _held else "it was an earlier process with our pid (a container restart)"
        if not pid_alive(holder.pid):
            return f"process {holder.pid} is gone"
    if now - to_ms(holder.heartbeat) > timeout_seconds * 1000:
        return f"no heartbeat for {(now - to_ms(holder.heartbeat)) / 1000:.0f} s"
    return None


class SchedulerLockHandle:
    """The lock this process holds: :meth:`acquire`, :meth:`beat` from a thread, :meth:`release` at the end."""

    def __init__(self, store: Store, timeout_seconds: float = 60.0) -> None:
        self.store = store
        self.timeout_seconds = timeout_seconds
        self.token = str(uuid.uuid4())
        self.taken_over: Holder | None = None
        self._beating: threading.Thread | None = None
        self._stop = threading.Event()
        self.lost = threading.Event()

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockHeldError` naming the live holder."""
        table = SchedulerLock.__table__
        for _attempt in range(3):
            now = now_ms()
            try:
                with self.store.engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE") as connection:
                    with connection.begin():
                        query = select(table).where(table.c.name == LOCK_NAME)
                        if not self.store.is_sqlite:
                            query = query.with_for_update()
                        holder = _holder(connection.execute(query).first())
                        row = {"token": self.token, "host": host_name(), "pid": os.getpid(), "started_timestamp": now,
                               "heartbeat_timestamp": now}
                        if holder is None:
                            connection.execute(table.insert().values(name=LOCK_NAME, **row))
                            _held.add(self.token)
                            return
                        reason = is_stale(holder, self.timeout_seconds, now)
                        if reason is None:
                            raise LockHeldError(
                                f"another scheduler is running on this store: {holder.describe(now)}. Stop it first "
                                f"(kill -TERM {holder.pid} on {holder.host}, or systemctl stop …); a crashed one is "
                                f"taken over once its heartbeat is {self.timeout_seconds:.0f} s old")
                        log.warning("taking over the scheduler lock of %s: %s", holder.describe(now), reason)
                        connection.execute(update(table).where(table.c.name == LOCK_NAME).values(**row))
                        self.taken_over = holder
                        _held.add(self.token)
                        return
            except IntegrityError:  # another process inserted the row between our read and insert: read again
                continue
        raise LockHeldError("could not take the scheduler lock: other schedulers keep starting; try again")

    def beat(self) -> bool:
        """Refresh the heartbeat; False (and ``lost`` set) if another scheduler took the lock from us."""
        table = SchedulerLock.__table__
        with self.store.begin() as connection:
            result = connection.execute(update(table).where(table.c.name == LOCK_NAME, table.c.token == self.token)
                                        .values(heartbeat_timestamp=now_ms()))
        if result.rowcount == 0:
            self.lost.set()
            return False
        return True

    def start_heartbeat(self, interval_seconds: float) -> None:
        def loop() -> None:
            while not self._stop.wait(interval_seconds):
                try:
                    if not self.beat():
                        log.error("the scheduler lock was taken over by another scheduler; stopping")
                        return
                except Exception:  # a busy or briefly unreachable database: try again next beat
                    log.exception("scheduler heartbeat failed")

        self._beating = threading.Thread(target=loop, name="zvt-schedule-heartbeat", daemon=True)
        self._beating.start()

    def release(self) -> None:
        self._stop.set()
        if self._beating is not None:
            self._beating.join(timeout=10)
        table = SchedulerLock.__table__
        with self.store.begin() as connection:
            connection.execute(delete(table).where(table.c.name == LOCK_NAME, table.c.token == self.token))
        _held.discard(self.token)
