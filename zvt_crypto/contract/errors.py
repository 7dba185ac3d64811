"""Exceptions raised by zvt_crypto.

Every error says what failed and what to do next; the CLI prints the message and exits non-zero.
"""

from __future__ import annotations

from collections.abc import Iterator


class ZvtCryptoError(Exception):
    """Base class of every error zvt_crypto raises on purpose."""


class ConfigError(ZvtCryptoError):
    """The configuration (environment, TOML file, options) is malformed or inconsistent."""


class InvalidInputError(ZvtCryptoError, ValueError):
    """An argument is unknown or out of range: a level, a symbol, a date range, a column."""


class InvalidDataError(ZvtCryptoError, ValueError):
    """A batch of rows failed validation; nothing of it was written."""


class StoreError(ZvtCryptoError):
    """The store cannot be opened, migrated or written."""


class ImportFormatError(ZvtCryptoError, ValueError):
    """A file given to ``import`` cannot be read as bars."""


class NoUsableDataError(ZvtCryptoError):
    """A computation had stored data to work on but produced no usable value (no bars, all NaN); the message
    names what is missing and the command that records it."""


class ConflictError(InvalidDataError):
    """Rows differ from stored rows with the same key and the write was asked not to replace them."""


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or during (``__cause__``, else ``__context__``), outermost
    first, each once: ccxt wraps aiohttp's error, which wraps the socket's."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
