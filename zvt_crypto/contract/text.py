"""Showing user input in messages and logs: escaped and bounded.

Why: a file cell or a command-line argument is echoed in the error that rejects it. Echoed raw, a 100 KB cell
floods the terminal and the log, and a newline in a symbol forges a log line of its own.
"""

from __future__ import annotations

from typing import Any


def shown(value: Any, limit: int = 80) -> str:
    """``value`` as a quoted, escaped one-liner (``repr`` of its text: newlines and control characters escaped),
    cut after ``limit`` characters with a note of the full length.

    >>> shown("BTC/USDT\\nINFO forged")
    "'BTC/USDT\\\\nINFO forged'"
    >>> shown("x" * 1000, limit=5)
    "'xxxxx'… (1,000 characters)"
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"


def human_duration(seconds: float) -> str:
    """A duration in its two largest units: ``45s``, ``12m 5s``, ``23h 53m``, ``52d 4h`` (never ``0 days 23:53:28``).

    >>> human_duration(86_008.695), human_duration(45), human_duration(4_512_000)
    ('23h 53m', '45s', '52d 5h')
    """
    total = round(abs(seconds))
    parts = [(total // 86_400, "d"), (total % 86_400 // 3_600, "h"), (total % 3_600 // 60, "m"), (total % 60, "s")]
    first = next((i for i, (amount, _unit) in enumerate(parts) if amount), 3)
    text = " ".join(f"{amount}{unit}" for amount, unit in parts[first:first + 2] if amount or first == 3)
    return f"-{text}" if seconds < 0 and total else text
