"""Paper accounts: definition and state, closed trades, final orders and the equity curve of each account.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_account",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("strategy", sa.String(length=160), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("symbols", sa.JSON(), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("start_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("data_start_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("definition_hash", sa.String(length=64), nullable=False),
        sa.Column("strategy_version", sa.String(length=64), nullable=True),
        sa.Column("created_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("updated_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("last_bar_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("first_bar_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("n_trades", sa.BigInteger(), nullable=False),
        sa.Column("n_orders", sa.BigInteger(), nullable=False),
        sa.Column("cash", sa.Float(), nullable=False),
        sa.Column("equity", sa.Float(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_paper_account")),
    )
    op.create_table(
        "paper_trade",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("trade_no", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("size", sa.Float(), nullable=False),
        sa.Column("entry_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("exit_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("entry_price", sa.Float(), nullable=False),
        sa.Column("exit_price", sa.Float(), nullable=False),
        sa.Column("pnl", sa.Float(), nullable=False),
        sa.Column("fees", sa.Float(), nullable=False),
        sa.Column("funding", sa.Float(), nullable=False),
        sa.Column("trade_return", sa.Float(), nullable=True),
        sa.Column("exit_reason", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("account", "trade_no", name=op.f("pk_paper_trade")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "paper_order",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("created_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("fill_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("filled_size", sa.Float(), nullable=False),
        sa.Column("fill_price", sa.Float(), nullable=True),
        sa.Column("fees", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("account", "order_id", name=op.f("pk_paper_order")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "paper_equity",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("equity", sa.Float(), nullable=False),
        sa.Column("cash", sa.Float(), nullable=False),
        sa.Column("drawdown", sa.Float(), nullable=False),
        sa.Column("exposure", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("account", "timestamp", name=op.f("pk_paper_equity")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("paper_equity")
    op.drop_table("paper_order")
    op.drop_table("paper_trade")
    op.drop_table("paper_account")
