"""Alembic environment: runs on the connection the store hands over (``config.attributes['connection']``),
or on ``sqlalchemy.url`` from alembic.ini when a developer runs the alembic command line."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

import zvt_crypto.domain.builtin  # noqa: F401 - defines every table: the metadata to compare and autogenerate
from zvt_crypto.contract.schema import Schema

config = context.config
target_metadata = Schema.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things: Alembic copies the table instead
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    section = config.get_section(config.config_ini_section, {})
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.begin() as conn:
        _run(conn)
