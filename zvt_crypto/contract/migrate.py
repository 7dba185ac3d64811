"""Schema migrations with Alembic, applied when a store is opened.

The revision scripts live in ``contract/migrations/versions``; each release that changes a table adds one,
so a store made by an older version is upgraded in place when a newer one opens it. Developers create a
revision with ``alembic -c zvt_crypto/contract/migrations/alembic.ini revision --autogenerate -m "..."``
(the test suite checks that the migrations and the models agree).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from zvt_crypto.contract.errors import StoreError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(connection: object | None = None) -> "object":
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: the newest). Safe to call concurrently: on SQLite the
    migration holds the write lock (``BEGIN IMMEDIATE``) and re-reads the version inside it."""
    from alembic import command

    if revision == "head" and current_revision(engine) == head_revision():
        return
    try:
        with engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE") as connection:
            with connection.begin():
                command.upgrade(alembic_config(connection), revision)
    except Exception as exc:
        raise StoreError(
            f"could not migrate the store to {revision}: {exc}. Back up the database file and report this; "
            "a store from a newer zvt_crypto cannot be opened by an older one"
        ) from exc
