"""The daemon's logs: a rotating file in the data home, text or JSON lines, every line tagged with its run.

Why a run id on every line: several jobs run at once and each run spans recorders, retries and factor steps in
other modules and threads; ``grep <run_id>`` (or a JSON filter) gives one run's story, and the same id is the
``job_run`` row's key. The id lives in a context variable, which asyncio tasks and ``asyncio.to_thread`` copy.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path

from zvt_crypto.contract.redaction import redact_text

LOG_FILE = "schedule.log"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5

#: (job, run id) of the run the current code works for
current_run: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("zvt_crypto_run", default=None)
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "job", "run_id"}


@contextmanager
def run_context(job: str, run_id: str) -> Iterator[None]:
    token = current_run.set((job, run_id))
    try:
        yield
    finally:
        current_run.reset(token)


class RunFilter(logging.Filter):
    """Adds ``job`` and ``run_id`` (``-`` outside a run) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        run = current_run.get()
        record.job, record.run_id = run if run else ("-", "-")
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC ISO), level, logger, message, job, run_id, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "job": getattr(record, "job", "-"),
            "run_id": getattr(record, "run_id", "-"),
        }
        entry.update({key: value for key, value in record.__dict__.items() if key not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact_text(json.dumps(entry, default=str, ensure_ascii=False))


class UtcFormatter(logging.Formatter):
    converter = staticmethod(lambda seconds: datetime.fromtimestamp(seconds, UTC).timetuple())

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


TEXT_FORMAT = "%(asctime)sZ %(levelname)-7s [%(job)s %(run_id)s] %(name)s: %(message)s"


def setup_logging(home: Path, fmt: str = "text", level: str = "INFO", *, console: bool = True) -> Path:
    """Log to ``<home>/logs/schedule.log`` (rotated at 10 MB, 5 kept) in ``fmt`` and, as text, to stderr.
    Returns the file's path. Replaces handlers a previous call installed (tests call it more than once)."""
    path = home / "logs" / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_zvt_schedule", False) or getattr(handler, "_zvt_cli", False):
            root.removeHandler(handler)
            handler.close()
    file_handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    file_handler.setFormatter(JsonFormatter() if fmt == "json" else UtcFormatter(TEXT_FORMAT, "%Y-%m-%dT%H:%M:%S"))
    handlers: list[logging.Handler] = [file_handler]
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(UtcFormatter(TEXT_FORMAT, "%Y-%m-%dT%H:%M:%S"))
        handlers.append(stream)
    for handler in handlers:
        handler.addFilter(RunFilter())
        handler._zvt_schedule = True  # type: ignore[attr-defined]  # marks our handler for removal
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations checked at every start: not news
    # ccxt's debug lines dump every request's headers (API keys among them) and whole response bodies
    logging.getLogger("ccxt").setLevel(max(logging.INFO, root.level))
    return path
