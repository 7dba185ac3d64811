"""Scheduler: job run history, the one-scheduler-per-store lock, APScheduler's job store table.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_run",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("ended_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("changed", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("retries", sa.BigInteger(), nullable=False),
        sa.Column("gaps_found", sa.BigInteger(), nullable=False),
        sa.Column("gaps_filled", sa.BigInteger(), nullable=False),
        sa.Column("gaps_confirmed", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_job_run")),
    )
    op.create_index(op.f("ix_job_run_job_started_timestamp"), "job_run", ["job", "started_timestamp"])
    op.create_table(
        "scheduler_lock",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("token", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("heartbeat_timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_lock")),
    )
    op.create_table(
        "scheduler_job",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Double(), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_job")),
    )
    op.create_index(op.f("ix_scheduler_job_next_run_time"), "scheduler_job", ["next_run_time"])


def downgrade() -> None:
    op.drop_index(op.f("ix_scheduler_job_next_run_time"), table_name="scheduler_job")
    op.drop_table("scheduler_job")
    op.drop_table("scheduler_lock")
    op.drop_index(op.f("ix_job_run_job_started_timestamp"), table_name="job_run")
    op.drop_table("job_run")
