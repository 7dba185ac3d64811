"""Progress that moves: what a long job has done of what it expects, for a bar with an ETA.

Why: counting symbols leaves a 12 s single-symbol backfill at ``0/1``. A paged range knows how many pages it takes
(its length over the venue's page size), so the bar counts pages; the estimate is redone after every page from where
the next one starts, so a gap (an empty window skipped) or a short page corrects it rather than leaving it wrong.

>>> expected_pages(0, 7 * 1440 * 60_000 - 60_000, 60_000, 1000)  # a week of 1m bars, 1,000 a page
11
>>> count = PageCount(until=9_999, step_ms=1, page_rows=1000, done=0, expected=10)
>>> count.fetched(next_since=5_000); (count.done, count.expected)  # a gap: the rest is 5 pages, not 9
(1, 6)
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

#: ``on_progress(stage, done, total)``: how far a job's stage is, in the stage's own unit (``reading 2 file(s)`` in
#: bytes, ``writing 1,000,000 bars`` in rows, ``rsi:1h:window=14 over 40 symbol(s)`` in symbols).
OnProgress = Callable[[str, int, int], None]


def expected_pages(since: int, until: int, step_ms: int, page_rows: int) -> int:
    """Pages of ``page_rows`` rows ``step_ms`` apart that cover ``[since, until]`` (both in ms; 0 when empty)."""
    if until < since:
        return 0
    rows = (until - since) // step_ms + 1
    return -(-rows // page_rows)


@dataclass
class PageCount:
    """Pages fetched of pages expected for one range (``expected`` None: the row spacing is unknown, so only the
    pages fetched are counted); ``on_change(done, expected)`` hears every change (a progress bar's task)."""

    until: int
    step_ms: int | None
    page_rows: int
    done: int
    expected: int | None
    on_change: Callable[[int, int | None], None] = field(default=lambda done, expected: None, repr=False)

    @classmethod
    def start(cls, since: int, until: int, step_ms: int | None, page_rows: int,
              on_change: Callable[[int, int | None], None] | None = None) -> PageCount:
        expected = expected_pages(since, until, step_ms, page_rows) if step_ms else None
        count = cls(until, step_ms, page_rows, 0, expected)
        if on_change is not None:
            count.on_change = on_change
            on_change(0, expected)
        return count

    def fetched(self, next_since: int) -> None:
        """One more page; the next starts at ``next_since``."""
        self.done += 1
        if self.step_ms:
            self.expected = self.done + expected_pages(next_since, self.until, self.step_ms, self.page_rows)
        self.on_change(self.done, self.expected)

    def finish(self) -> None:
        """The range ended (the venue had no more, or the range is done): what was fetched is all there is."""
        self.expected = self.done
        self.on_change(self.done, self.expected)


def progress_columns() -> tuple[Any, ...]:
    """The columns of every progress bar: what, the bar, done/total, elapsed and the time left (the ETA)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("eta"), TimeRemainingColumn())


class StageBars:
    """Every stage reported to it (it is an :data:`OnProgress`) as one bar of :func:`progress_columns` on stderr:
    done of total with elapsed time and an ETA. A stage's count never goes back: a second pass over the same rows
    (SQLite's insert, then its upsert) leaves the bar full rather than starting it again.

    >>> bars = StageBars(show=False)
    >>> with bars: bars("writing 3 bars", 2, 3); bars("writing 3 bars", 1, 3)
    >>> bars.state()
    {'writing 3 bars': (2, 3)}
    """

    def __init__(self, show: bool | None = None) -> None:
        from rich.console import Console
        from rich.progress import Progress

        console = Console(stderr=True)
        self.progress = Progress(*progress_columns(), console=console, transient=True,
                                 disable=not (console.is_terminal if show is None else show))
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> StageBars:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def __call__(self, stage: str, done: int, total: int) -> None:
        task = self.tasks.get(stage)
        if task is None:
            self.tasks[stage] = self.progress.add_task(stage, total=total, completed=done)
            return
        current = self._shown()[task].completed
        self.progress.update(task, total=total, completed=max(done, current))

    def state(self) -> dict[str, tuple[int, int]]:
        """``{stage: (done, total)}``, as the bars show them."""
        shown = self._shown()
        return {stage: (int(shown[task].completed), int(shown[task].total or 0)) for stage, task in self.tasks.items()}

    def _shown(self) -> dict[Any, Any]:
        return {task.id: task for task in self.progress.tasks}


def stages(on_progress: OnProgress | None) -> AbstractContextManager[OnProgress]:
    """``on_progress`` as it is, or (``None``) bars of :class:`StageBars` while the job runs, shown when stderr is a
    terminal."""
    return StageBars() if on_progress is None else nullcontext(on_progress)


@dataclass
class TrialCount:
    """Trials done of the total, the best so far and, for a walk-forward, the folds whose trials are all done.

    A trial's key is ``k`` (a search) or ``(fold, k)`` (a walk-forward: ``fold`` an int, or ``"full"`` for the trials
    on all the data); the best is over the trials that are not a fold's (those compare like with like).

    >>> count = TrialCount.of([0, 1, 2], "sharpe", maximize=True)
    >>> count.add(1, {"fast": 5}, 0.8); count.add(0, {"fast": 3}, 1.2); count.status()
    'best sharpe 1.2 (fast=3)'
    """

    total: int
    metric: str
    maximize: bool
    fold_sizes: dict[Any, int]
    done: int = 0
    best: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    folds_done: int = 0

    @classmethod
    def of(cls, keys: list[Any], metric: str, maximize: bool) -> TrialCount:
        sizes: dict[Any, int] = {}
        for key in keys:
            fold = _fold(key)
            if fold is not None:
                sizes[fold] = sizes.get(fold, 0) + 1
        return cls(len(keys), metric, maximize, sizes)

    def add(self, key: Any, params: dict[str, Any], value: float) -> None:
        """One trial done with ``value`` of the metric (NaN: it has none, e.g. no trade)."""
        self.done += 1
        fold = _fold(key)
        if fold is not None:
            self.fold_sizes[fold] -= 1
            self.folds_done += self.fold_sizes[fold] == 0
            return
        if value == value and (self.best is None or (value > self.best if self.maximize else value < self.best)):
            self.best, self.best_params = value, dict(params)

    def status(self) -> str:
        """``folds 2/5`` and ``best sharpe 1.23 (fast=10, slow=30)``, as far as known."""
        parts = [f"folds {self.folds_done}/{len(self.fold_sizes)}"] if self.fold_sizes else []
        if self.best is not None:
            params = ", ".join(f"{key}={value}" for key, value in self.best_params.items())
            parts.append(f"best {self.metric} {self.best:.4g} ({params})")
        return " · ".join(parts)


def _fold(key: Any) -> Any:
    """The walk-forward fold of a trial key (``None``: a search's trial or one on all the data)."""
    if isinstance(key, tuple) and key and key[0] != "full":
        return key[0]
    return None
