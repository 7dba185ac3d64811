"""Schema migrations with Alembic, applied when a store is opened.

The runner is generic; the revision scripts belong to the package that defines the tables, which names its
Alembic script directory in the ``zvt_crypto.migrations`` entry-point group (a package resource such as
``zvt_crypto.domain:migrations``; exactly one history per store). Each release that changes a table adds a
revision, so a store made by an older version is upgraded in place when a newer one opens it. Developers create
one with ``alembic -c zvt_crypto/domain/migrations/alembic.ini revision --autogenerate -m "..."`` (the test suite
checks that the migrations and the models agree).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text

from zvt_crypto.contract.errors import StoreError
from zvt_crypto.contract.registry import MIGRATIONS_GROUP, entry_point_values

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

#: key of the PostgreSQL advisory lock that serialises migrations (per database; any fixed 64-bit number)
PG_MIGRATION_LOCK = int.from_bytes(b"zvt_mig", "big")

_log = logging.getLogger(__name__)


def script_location() -> str:
    """The one Alembic script directory declared in the ``zvt_crypto.migrations`` group."""
    locations = list(dict.fromkeys(entry_point_values(MIGRATIONS_GROUP)))
    if len(locations) != 1:
        raise StoreError(f"the store needs exactly one migration history (entry-point group {MIGRATIONS_GROUP}), "
                         f"found {len(locations)}: {', '.join(locations) or 'none'}; reinstall zvt_crypto")
    return locations[0]


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", script_location())
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision of the script directory: read from the scripts' ``revision`` / ``down_revision`` lines
    (importing Alembic's script machinery costs ≈ 0.2 s, more than the command it would guard); Alembic decides
    whenever the lines do not name exactly one head (a merge written another way, a script outside ``versions/``)."""
    head = _scanned_head(script_location())
    if head is not None:
        return head
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


_REVISION_LINE = re.compile(r"^(down_revision|revision)\b[^=\n]*=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"""["']([^"']+)["']""")


@functools.lru_cache(maxsize=8)
def _scanned_head(location: str) -> str | None:
    """The one revision no script names as its ``down_revision``, or ``None`` when that is not clear cut."""
    folder = _script_folder(location)
    if folder is None or not (folder / "versions").is_dir():
        return None
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (folder / "versions").glob("*.py"):
        found = dict((name, _QUOTED.findall(value)) for name, value in _REVISION_LINE.findall(script.read_text()))
        if len(found.get("revision", ())) != 1 or "down_revision" not in found:
            return None
        revisions.add(found["revision"][0])
        parents.update(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _script_folder(location: str) -> Path | None:
    """The folder of a script location: ``package:folder`` (found without importing the package) or a path."""
    if ":" not in location:
        return Path(location)
    package, _, folder = location.partition(":")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / folder


def current_revision(engine: Engine) -> str | None:
    """The store's schema revision (``None``: an empty database), by one query of Alembic's version table."""
    with engine.connect() as connection:
        return _stored_revision(connection)


def _stored_revision(connection: Connection) -> str | None:
    if connection.dialect.name == "sqlite":
        exists = connection.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")).first()
    else:
        exists = connection.execute(text("SELECT to_regclass('alembic_version')")).scalar()
    if not exists:
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:
        raise StoreError(f"the store has several schema heads ({', '.join(rows)}); zvt_crypto keeps one history: "
                         "back up the database and report this")
    return rows[0] if rows else None


def upgrade(engine: Engine, revision: str = "head") -> bool:
    """Bring the database to ``revision`` (default: the newest); ``True`` when this call migrated it.

    Safe to call from any number of processes at once: the migration holds a lock for its whole transaction
    (SQLite: the write lock, ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-level advisory lock) and reads the
    store's revision again inside it, so one process migrates and the others, waiting, then find it done.
    """
    # a current store (every open but the first after an upgrade) costs one query: Alembic is not even imported
    if revision == "head" and current_revision(engine) == head_revision():
        return False
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE") as connection:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
                before = MigrationContext.configure(connection).get_current_revision()
                _check_known(before)
                if before == (head_revision() if revision == "head" else revision):
                    return False
                command.upgrade(alembic_config(connection), revision)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(
            f"could not migrate the store to {revision}: {exc}. Back up the database and report this"
        ) from exc
    _log.info("migrated the store from %s to %s", before or "an empty database", revision)
    return True


def _check_known(revision: str | None) -> None:
    """A revision this version has no script for was written by a newer zvt_crypto: say so, change nothing."""
    from alembic.script import ScriptDirectory

    if revision is None:
        return
    scripts = ScriptDirectory.from_config(alembic_config())
    if revision not in {script.revision for script in scripts.walk_revisions()}:
        raise StoreError(
            f"the store is at schema revision {revision}, which this zvt_crypto (newest revision "
            f"{head_revision()}) does not know: it was made by a newer zvt_crypto; upgrade zvt_crypto to open it"
        )
