"""Backtest runs: inputs, data fingerprint, version and metrics of each run, its trades and its equity curve.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backtest_run",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("created_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("strategy", sa.String(length=160), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=True),
        sa.Column("symbols", sa.JSON(), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=True),
        sa.Column("start_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("end_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("n_bars", sa.BigInteger(), nullable=False),
        sa.Column("cash", sa.Float(), nullable=False),
        sa.Column("fee", sa.JSON(), nullable=True),
        sa.Column("slippage", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("data_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_backtest_run")),
    )
    op.create_index(op.f("ix_backtest_run_strategy_created_timestamp"), "backtest_run",
                    ["strategy", "created_timestamp"])
    op.create_table(
        "backtest_trade",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("trade_no", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("size", sa.Float(), nullable=False),
        sa.Column("entry_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("exit_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("entry_price", sa.Float(), nullable=False),
        sa.Column("exit_price", sa.Float(), nullable=False),
        sa.Column("pnl", sa.Float(), nullable=False),
        sa.Column("fees", sa.Float(), nullable=False),
        sa.Column("funding", sa.Float(), nullable=False),
        sa.Column("trade_return", sa.Float(), nullable=True),
        sa.Column("exit_reason", sa.String(length=16), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "trade_no", name=op.f("pk_backtest_trade")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "backtest_equity",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("equity", sa.Float(), nullable=False),
        sa.Column("cash", sa.Float(), nullable=False),
        sa.Column("drawdown", sa.Float(), nullable=False),
        sa.Column("exposure", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "timestamp", name=op.f("pk_backtest_equity")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("backtest_equity")
    op.drop_table("backtest_trade")
    op.drop_index(op.f("ix_backtest_run_strategy_created_timestamp"), table_name="backtest_run")
    op.drop_table("backtest_run")
