"""Market data: trades, order-book snapshots, funding rates, open interest, known gaps.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trade",
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("trade_id", sa.String(length=64), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=True),
        sa.PrimaryKeyConstraint("entity_id", "timestamp", "trade_id", name=op.f("pk_trade")),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "order_book_snapshot",
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("depth", sa.BigInteger(), nullable=False),
        sa.Column("best_bid", sa.Float(), nullable=True),
        sa.Column("best_ask", sa.Float(), nullable=True),
        sa.Column("bids", sa.JSON(), nullable=False),
        sa.Column("asks", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("entity_id", "timestamp", name=op.f("pk_order_book_snapshot")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "funding_rate",
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("funding_rate", sa.Float(), nullable=False),
        sa.Column("mark_price", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("entity_id", "timestamp", name=op.f("pk_funding_rate")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "open_interest",
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("open_interest", sa.Float(), nullable=False),
        sa.Column("open_interest_value", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("entity_id", "level", "timestamp", name=op.f("pk_open_interest")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "known_gap",
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("start_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("schema_name", sa.String(length=64), nullable=False),
        sa.Column("end_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=True),
        sa.Column("confirmed_timestamp", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("entity_id", "level", "start_timestamp", "schema_name", name=op.f("pk_known_gap")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("known_gap", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_known_gap_entity_id_level"), ["entity_id", "level"], unique=False)


def downgrade() -> None:
    op.drop_table("known_gap")
    op.drop_table("open_interest")
    op.drop_table("funding_rate")
    op.drop_table("order_book_snapshot")
    op.drop_table("trade")
