"""Factor results: values of every factor in one table, and what each factor id means.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "factor_value",
        sa.Column("factor_id", sa.String(length=160), nullable=False),
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        *(sa.Column(f"v{i}", sa.Float(), nullable=True) for i in range(10)),
        sa.Column("filter_result", sa.BigInteger(), nullable=True),
        sa.Column("score_result", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("factor_id", "entity_id", "timestamp", name=op.f("pk_factor_value")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "factor_meta",
        sa.Column("factor_id", sa.String(length=160), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("updated_timestamp", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("factor_id", name=op.f("pk_factor_meta")),
    )


def downgrade() -> None:
    op.drop_table("factor_meta")
    op.drop_table("factor_value")
