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
