"""The signal webhook's audit table: every trading signal the API received, accepted or rejected, with the reason
(:mod:`zvt_crypto.trader.signal_intake`).

Append-only: rows are inserted, never updated or deleted. An accepted row is the signal's order intent on its paper
account. Idempotency is the store's: a unique index over (account, client_id) of the *accepted* rows, so two
deliveries of one signal cannot both be accepted even when they race; a reused client id is audited as rejected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Float, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from zvt_crypto.contract.schema import Schema, UtcMillis

ACCEPTED = "accepted"
REJECTED = "rejected"
#: an autoincrementing 64-bit key (SQLite autoincrements only an INTEGER PRIMARY KEY)
AUDIT_ID = BigInteger().with_variant(Integer(), "sqlite")
_ACCEPTED_ONLY = text("status = 'accepted'")


class SignalAudit(Schema):
    """One received signal: what it asked, who sent it, and what became of it."""

    __tablename__ = "signal_audit"
    __kind__: ClassVar[str] = "meta"
    __key__: ClassVar[tuple[str, ...]] = ("id",)
    __table_args__: Any = (
        Index("uq_signal_audit_accepted_client_id", "account", "client_id", unique=True,
              sqlite_where=_ACCEPTED_ONLY, postgresql_where=_ACCEPTED_ONLY),
        Index("ix_signal_audit_account_received", "account", "received_timestamp"),
    )

    id: Mapped[int] = mapped_column(AUDIT_ID, primary_key=True, autoincrement=True)
    received_timestamp: Mapped[datetime] = mapped_column(UtcMillis)
    account: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(128))
    symbol: Mapped[str | None] = mapped_column(String(64))
    side: Mapped[str | None] = mapped_column(String(8))  # buy, sell, flat; None with a target position
    size: Mapped[float | None] = mapped_column(Float)  # base units to buy or sell
    weight: Mapped[float | None] = mapped_column(Float)  # target fraction of equity (signed)
    target: Mapped[float | None] = mapped_column(Float)  # target position in base units (signed)
    price: Mapped[float | None] = mapped_column(Float)  # a limit price; None: at market
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(512))
    token: Mapped[str | None] = mapped_column(String(64))  # the API token's name (never its secret)
    body_sha256: Mapped[str] = mapped_column(String(64))
