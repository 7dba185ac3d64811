"""When jobs fire: on the UTC bar grid plus a small delay, so the bar that just closed is final at the venue.

Why not APScheduler's ``IntervalTrigger``: it counts from its start date, so a daemon started at 10:03:17 with
``every = "5m"`` would fire at :08:17, :13:17 … — mid-bar. :class:`GridTrigger` fires at epoch-aligned multiples
of the interval (weeks on Mondays, as the ``1w`` level), plus the delay. Cron expressions are standard crontab
(weekday 0 or 7 = Sunday; APScheduler 3 alone would read 0 as Monday), in UTC, shifted by the delay.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

if TYPE_CHECKING:
    from zvt_crypto.schedule.config import JobSpec

_WEEK = 604_800
_WEEK_ANCHOR = 4 * 86_400  # 1970-01-01 was a Thursday: the first Monday 00:00 UTC is four days later
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MICRO = 1_000_000


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * _MICRO + delta.microseconds


def _from_micros(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


class GridTrigger(BaseTrigger):
    """Fires at ``anchor + k * interval + delay`` (UTC) for every integer ``k``."""

    def __init__(self, interval_seconds: int, delay_seconds: int = 0) -> None:
        self.interval_seconds = interval_seconds
        self.delay_seconds = delay_seconds
        anchor = _WEEK_ANCHOR if interval_seconds % _WEEK == 0 else 0
        self._base = (anchor + delay_seconds) * _MICRO
        self._step = interval_seconds * _MICRO

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        """The first grid time after ``previous_fire_time`` (which may be off the grid, after a catch-up run), or
        at/after ``now`` for a new job."""
        if previous_fire_time is not None:
            k = (_micros(previous_fire_time) - self._base) // self._step + 1
        else:
            k = -((self._base - _micros(now)) // self._step)  # ceil
        return _from_micros(self._base + k * self._step)

    def __getstate__(self) -> dict[str, Any]:
        return {"version": 1, "interval_seconds": self.interval_seconds, "delay_seconds": self.delay_seconds}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["interval_seconds"], state["delay_seconds"])  # type: ignore[misc]  # re-run the checks

    def __str__(self) -> str:
        return f"every {self.interval_seconds}s on the UTC grid +{self.delay_seconds}s"

    def __repr__(self) -> str:
        return f"GridTrigger({self.interval_seconds}, {self.delay_seconds})"


class DelayedCronTrigger(BaseTrigger):
    """A UTC crontab schedule, every fire moved ``delay_seconds`` later."""

    def __init__(self, expression: str, delay_seconds: int = 0) -> None:
        self.expression = expression
        self.delay_seconds = delay_seconds
        minute, hour, day, month, weekday = expression.split()
        self._cron = CronTrigger(minute=minute, hour=hour, day=day, month=month,
                                 day_of_week=crontab_weekdays(weekday), timezone=UTC)
        self._delay = timedelta(seconds=delay_seconds)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        previous = previous_fire_time - self._delay if previous_fire_time is not None else None
        fire = self._cron.get_next_fire_time(previous, now - self._delay)
        return None if fire is None else fire + self._delay

    def __getstate__(self) -> dict[str, Any]:
        return {"version": 1, "expression": self.expression, "delay_seconds": self.delay_seconds}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["expression"], state["delay_seconds"])  # type: ignore[misc]  # re-run the checks

    def __str__(self) -> str:
        return f"cron '{self.expression}' UTC +{self.delay_seconds}s"

    def __repr__(self) -> str:
        return f"DelayedCronTrigger({self.expression!r}, {self.delay_seconds})"


def crontab_weekdays(field: str) -> str:
    """Crontab weekday numbers (0 or 7 = Sunday) as names, which APScheduler 3 reads unambiguously; a step
    (``*/2``) is left alone."""
    return re.sub(r"(?<![/\w])([0-7])(?!\w)", lambda match: _DAY_NAMES[int(match.group(1))], field)


def job_trigger(job: JobSpec) -> BaseTrigger:
    """The trigger of a job (raises ``ValueError`` with APScheduler's words for a bad cron field)."""
    if job.every_seconds:
        return GridTrigger(job.every_seconds, job.delay_seconds)
    assert job.cron is not None
    return DelayedCronTrigger(job.cron, job.delay_seconds)


def missed_since(trigger: BaseTrigger, last_start: datetime | None, now: datetime) -> bool:
    """Whether ``trigger`` had a fire time after ``last_start`` (the last successful run) and up to ``now``: the
    daemon was down, or the run failed, when it should have run. Never run at all counts as missed."""
    if last_start is None:
        return True
    fire = trigger.get_next_fire_time(None, last_start + timedelta(seconds=1))
    return fire is not None and fire <= now
