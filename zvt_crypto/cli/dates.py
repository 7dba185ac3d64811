"""``--days N`` beside every ``--start``: the last N days, the same as ``--start Nd``.

Why a wrapper and not a second parser: ``--days 30`` becomes ``start="30d"``, which the one parser of times
(:func:`zvt_crypto.contract.timeutil.to_ms`) reads as 30 days back from now (UTC), as it reads ``--start 30d``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def days_option(command: F) -> F:
    """Add ``--days N`` to a command that takes ``start`` (anywhere among its decorators: ``--days`` with
    ``--start`` is a one-line ``error: …`` of its own)."""

    @wraps(command)
    def wrapper(*args: Any, days: int | None = None, **kwargs: Any) -> Any:
        if days is not None:
            if kwargs.get("start") is not None:
                from zvt_crypto.cli.app import fail

                fail(f"--days {days} and --start {kwargs['start']} both say where to start; pass one of them")
            kwargs["start"] = f"{days}d"
        return command(*args, **kwargs)

    option = click.option("--days", type=click.IntRange(min=1), metavar="N",
                          help="The last N days (UTC): the same as --start Nd.")
    return option(wrapper)  # type: ignore[return-value]  # same signature as command, plus --days
