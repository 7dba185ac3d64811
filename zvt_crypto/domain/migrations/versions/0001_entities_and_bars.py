"""Entities (assets, pairs, perps) and price bars (trade, mark, index).

Revision ID: 0001
Revises: None
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crypto_asset",
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("entity_type", sa.String(length=8), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("exchange_symbol", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("list_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("delist_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("precision_amount", sa.Float(), nullable=True),
        sa.Column("updated_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=True),
        sa.Column("withdraw_fee", sa.Float(), nullable=True),
        sa.Column("min_withdraw", sa.Float(), nullable=True),
        sa.Column("max_withdraw", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("entity_id", name=op.f("pk_crypto_asset")),
    )
    with op.batch_alter_table("crypto_asset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crypto_asset_exchange_symbol"), ["exchange", "symbol"], unique=True)
    op.create_table(
        "crypto_pair",
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("entity_type", sa.String(length=8), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("exchange_symbol", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("list_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("delist_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("precision_amount", sa.Float(), nullable=True),
        sa.Column("updated_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("base", sa.String(length=32), nullable=False),
        sa.Column("quote", sa.String(length=32), nullable=False),
        sa.Column("precision_price", sa.Float(), nullable=True),
        sa.Column("min_amount", sa.Float(), nullable=True),
        sa.Column("max_amount", sa.Float(), nullable=True),
        sa.Column("min_price", sa.Float(), nullable=True),
        sa.Column("max_price", sa.Float(), nullable=True),
        sa.Column("min_cost", sa.Float(), nullable=True),
        sa.Column("maker_fee", sa.Float(), nullable=True),
        sa.Column("taker_fee", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("entity_id", name=op.f("pk_crypto_pair")),
    )
    with op.batch_alter_table("crypto_pair", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crypto_pair_exchange_symbol"), ["exchange", "symbol"], unique=True)
    op.create_table(
        "crypto_perp",
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("entity_type", sa.String(length=8), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("exchange_symbol", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("list_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("delist_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("precision_amount", sa.Float(), nullable=True),
        sa.Column("updated_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("base", sa.String(length=32), nullable=False),
        sa.Column("quote", sa.String(length=32), nullable=False),
        sa.Column("precision_price", sa.Float(), nullable=True),
        sa.Column("min_amount", sa.Float(), nullable=True),
        sa.Column("max_amount", sa.Float(), nullable=True),
        sa.Column("min_price", sa.Float(), nullable=True),
        sa.Column("max_price", sa.Float(), nullable=True),
        sa.Column("min_cost", sa.Float(), nullable=True),
        sa.Column("maker_fee", sa.Float(), nullable=True),
        sa.Column("taker_fee", sa.Float(), nullable=True),
        sa.Column("settle", sa.String(length=32), nullable=False),
        sa.Column("contract_size", sa.Float(), nullable=False),
        sa.Column("linear", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("entity_id", name=op.f("pk_crypto_perp")),
    )
    with op.batch_alter_table("crypto_perp", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crypto_perp_exchange_symbol"), ["exchange", "symbol"], unique=True)
    op.create_table(
        "bar",
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("open", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("close", sa.Float(), nullable=False),
        sa.Column("volume", sa.Float(), nullable=False),
        sa.Column("quote_volume", sa.Float(), nullable=True),
        sa.Column("trade_count", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("entity_id", "level", "timestamp", name=op.f("pk_bar")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "mark_price_bar",
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("open", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("close", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("entity_id", "level", "timestamp", name=op.f("pk_mark_price_bar")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "index_price_bar",
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("open", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("close", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("entity_id", "level", "timestamp", name=op.f("pk_index_price_bar")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("index_price_bar")
    op.drop_table("mark_price_bar")
    op.drop_table("bar")
    op.drop_table("crypto_perp")
    op.drop_table("crypto_pair")
    op.drop_table("crypto_asset")
