"""Paper accounts: a strategy trading new bars on a simulated account whose state lives in the store
(:mod:`zvt_crypto.trader.paper`).

``paper_account`` holds the definition (strategy, parameters, market, settings, start) and the state after the
last processed bar (cash, equity, positions, open orders, risk state), with a ``revision`` that every step bumps —
a step writes only if the revision it read is still current, so two processes stepping one account cannot both
append. ``paper_trade`` (closed trades), ``paper_order`` (orders once final) and ``paper_equity`` (equity at
every processed bar's close) only ever grow; a step appends to them and updates the account in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from zvt_crypto.contract.schema import Schema, UtcMillis

_SQLITE_CLUSTERED = {"sqlite_with_rowid": False}


class PaperAccount(Schema):
    """One paper account: its definition and its state after ``last_bar_timestamp``."""

    __tablename__ = "paper_account"
    __kind__: ClassVar[str] = "meta"
    __key__: ClassVar[tuple[str, ...]] = ("name",)

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    strategy: Mapped[str] = mapped_column(String(160))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)  # resolved (defaults included)
    exchange: Mapped[str] = mapped_column(String(32))
    symbols: Mapped[list[str]] = mapped_column(JSON)
    level: Mapped[str] = mapped_column(String(4))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)  # cash, fee, slippage, leverage, margin, risk
    start_timestamp: Mapped[datetime] = mapped_column(UtcMillis)  # the first bar the strategy may trade
    data_start_timestamp: Mapped[datetime] = mapped_column(UtcMillis)  # the first bar read (indicator warm-up)
    definition_hash: Mapped[str] = mapped_column(String(64))
    strategy_version: Mapped[str | None] = mapped_column(String(64))
    created_timestamp: Mapped[datetime] = mapped_column(UtcMillis)
    updated_timestamp: Mapped[datetime] = mapped_column(UtcMillis)
    revision: Mapped[int] = mapped_column(BigInteger)
    last_bar_timestamp: Mapped[datetime | None] = mapped_column(UtcMillis)
    # the first bar the first step read (the data start, or the first stored after it): later steps read from
    # there, so bars recorded before it afterwards (a backfilled warm-up) do not change the replay
    first_bar_timestamp: Mapped[datetime | None] = mapped_column(UtcMillis)
    n_trades: Mapped[int] = mapped_column(BigInteger)
    n_orders: Mapped[int] = mapped_column(BigInteger)
    cash: Mapped[float] = mapped_column(Float)
    equity: Mapped[float] = mapped_column(Float)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)  # positions, open orders, risk state
    version: Mapped[str] = mapped_column(String(32))  # the package version of the last step


class PaperTrade(Schema):
    """A closed trade of a paper account, numbered in the order the trades closed."""

    __tablename__ = "paper_trade"
    __kind__: ClassVar[str] = "meta"
    __key__: ClassVar[tuple[str, ...]] = ("account", "trade_no")
    __table_args__: Any = (_SQLITE_CLUSTERED,)

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    trade_no: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    size: Mapped[float] = mapped_column(Float)
    entry_timestamp: Mapped[datetime] = mapped_column(UtcMillis)
    exit_timestamp: Mapped[datetime] = mapped_column(UtcMillis)
    entry_price: Mapped[float] = mapped_column(Float)
    exit_price: Mapped[float] = mapped_column(Float)
    pnl: Mapped[float] = mapped_column(Float)
    fees: Mapped[float] = mapped_column(Float)
    funding: Mapped[float] = mapped_column(Float)
    trade_return: Mapped[float | None] = mapped_column(Float)
    exit_reason: Mapped[str] = mapped_column(String(16))


class PaperOrder(Schema):
    """An order of a paper account once it is final (filled, rejected or cancelled), with its fill."""

    __tablename__ = "paper_order"
    __kind__: ClassVar[str] = "meta"
    __key__: ClassVar[tuple[str, ...]] = ("account", "order_id")
    __table_args__: Any = (_SQLITE_CLUSTERED,)

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    type: Mapped[str] = mapped_column(String(16))
    created_timestamp: Mapped[datetime] = mapped_column(UtcMillis)  # the bar whose close decided it
    fill_timestamp: Mapped[datetime | None] = mapped_column(UtcMillis)
    filled_size: Mapped[float] = mapped_column(Float)
    fill_price: Mapped[float | None] = mapped_column(Float)
    fees: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(512))


class PaperEquity(Schema):
    """Equity of a paper account at every processed bar's close (from its start)."""

    __tablename__ = "paper_equity"
    __kind__: ClassVar[str] = "meta"
    __key__: ClassVar[tuple[str, ...]] = ("account", "timestamp")
    __table_args__: Any = (_SQLITE_CLUSTERED,)

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UtcMillis, primary_key=True)
    equity: Mapped[float] = mapped_column(Float)
    cash: Mapped[float] = mapped_column(Float)
    drawdown: Mapped[float] = mapped_column(Float)
    exposure: Mapped[float | None] = mapped_column(Float)
