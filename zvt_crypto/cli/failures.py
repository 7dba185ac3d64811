"""What the CLI says when something fails: one line naming what failed and what to do, and log warnings on stderr
without tracebacks (unless ``--debug``), secrets redacted in both."""

from __future__ import annotations

import logging
import sys
from typing import Any

from zvt_crypto.contract.errors import ZvtCryptoError
from zvt_crypto.contract.redaction import redact_text

#: modules of the optional PostgreSQL extra
_POSTGRES_MODULES = ("psycopg", "psycopg2", "adbc_driver_postgresql")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _venue_failure(exc: Any) -> str:
    from zvt_crypto.recorders.resilience import venue_failure_advice

    first_word = str(exc).split(" ", 1)[0]  # ccxt's messages start with the exchange id
    exchange_id = first_word if first_word in sys.modules["ccxt"].exchanges else None
    return f"{_first_line(exc)}: {venue_failure_advice(exchange_id, exc)}"


def describe_failure(exc: BaseException) -> str:
    """One line for ``error: …``: what failed and the next step."""
    if isinstance(exc, ZvtCryptoError):
        return str(exc)
    ccxt = sys.modules.get("ccxt")
    if ccxt is not None and isinstance(exc, ccxt.BaseError):
        return _venue_failure(exc)
    if isinstance(exc, ImportError) and (exc.name or "").split(".")[0] in _POSTGRES_MODULES:
        return f'{_first_line(exc)}: PostgreSQL needs the optional drivers; pip install "zvt-crypto[postgres]"'
    if isinstance(exc, ImportError):
        return f"{_first_line(exc)}: a dependency is missing; reinstall zvt-crypto (pip install zvt-crypto)"
    if isinstance(exc, EOFError):
        return (f"the input ended too early ({_first_line(exc)}): a truncated or partly downloaded file? "
                "Download it again")
    if isinstance(exc, OSError) and exc.strerror:
        where = f" {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}:{where}; check the path and its permissions"
    return (f"{type(exc).__name__}: {_first_line(exc)} — unexpected; run again with --debug for the traceback and "
            "report it")


class _RedactingFormatter(logging.Formatter):
    """``warning: message`` lines; the exception of a record as its one-line description unless ``debug``."""

    def __init__(self, debug: bool) -> None:
        super().__init__()
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + self.formatException(record.exc_info) if self.debug else (
                f" ({describe_failure(record.exc_info[1])})")
        return redact_text(text)


class _StderrHandler(logging.StreamHandler):
    """Writes to the ``sys.stderr`` of the moment (a test runner swaps it per invocation)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def log_warnings_to_stderr(debug: bool) -> None:
    """Show warnings (and errors) the library logs as ``warning: …`` lines on stderr, secrets redacted and without
    tracebacks unless ``debug``. Replaces the handler an earlier call installed; ``schedule`` replaces it with its
    own (see :func:`zvt_crypto.schedule.logs.setup_logging`)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_zvt_cli", False):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(_RedactingFormatter(debug))
    handler._zvt_cli = True  # type: ignore[attr-defined]  # marks our handler for removal
    root.addHandler(handler)
