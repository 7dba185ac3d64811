"""Exceptions raised by zvt_crypto.

Every error says what failed and what to do next; the CLI prints the message and exits non-zero.
"""

from __future__ import annotations


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


class ConflictError(InvalidDataError):
    """Rows differ from stored rows with the same key and the write was asked not to replace them."""
