"""The signal webhook's append-only audit table.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ACCEPTED_ONLY = sa.text("status = 'accepted'")


def upgrade() -> None:
    op.create_table(
        "signal_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("received_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=True),
        sa.Column("symbol", sa.String(length=64), nullable=True),
        sa.Column("side", sa.String(length=8), nullable=True),
        sa.Column("size", sa.Float(), nullable=True),
        sa.Column("weight", sa.Float(), nullable=True),
        sa.Column("target", sa.Float(), nullable=True),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=512), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=True),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal_audit")),
    )
    op.create_index("uq_signal_audit_accepted_client_id", "signal_audit", ["account", "client_id"], unique=True,
                    sqlite_where=_ACCEPTED_ONLY, postgresql_where=_ACCEPTED_ONLY)
    op.create_index("ix_signal_audit_account_received", "signal_audit", ["account", "received_timestamp"])


def downgrade() -> None:
    op.drop_index("ix_signal_audit_account_received", table_name="signal_audit")
    op.drop_index("uq_signal_audit_accepted_client_id", table_name="signal_audit")
    op.drop_table("signal_audit")
