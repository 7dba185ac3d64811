"""Stored backtest runs: what ran (strategy, parameters, data range, settings), on which data (its fingerprint) with
which code (the package version), what came out (metrics, trades, the equity curve) — so a run can be listed,
compared and re-run (:mod:`zvt_crypto.trader.storage`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from zvt_crypto.contract.schema import Schema, UtcMillis

_SQLITE_CLUSTERED = {"sqlite_with_rowid": False}


class BacktestRun(Schema):
    """One backtest: its inputs, its data fingerprint and version, its metrics."""

    __tablename__ = "backtest_run"
    __kind__: ClassVar[str] = "meta"
    __key__: ClassVar[tuple[str, ...]] = ("run_id",)
    __table_args__: Any = (Index(None, "strategy", "created_timestamp"),)

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_timestamp: Mapped[datetime] = mapped_column(UtcMillis)
    strategy: Mapped[str] = mapped_column(String(160))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    exchange: Mapped[str | None] = mapped_column(String(32))
    symbols: Mapped[list[str]] = mapped_column(JSON)
    level: Mapped[str | None] = mapped_column(String(4))
    start_timestamp: Mapped[datetime] = mapped_column(UtcMillis)
    end_timestamp: Mapped[datetime] = mapped_column(UtcMillis)
    n_bars: Mapped[int] = mapped_column(BigInteger)
    cash: Mapped[float] = mapped_column(Float)
    fee: Mapped[Any] = mapped_column(JSON, nullable=True)  # a rate, [maker, taker] or null: the markets' own
    slippage: Mapped[dict[str, Any]] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)  # leverage, margin, risk limits, engine
    engine: Mapped[str] = mapped_column(String(16))
    data_fingerprint: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    seconds: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(512))


class BacktestTrade(Schema):
    """The trades of a run (open ones at the end too, marked at the last close)."""

    __tablename__ = "backtest_trade"
    __kind__: ClassVar[str] = "meta"
    __key__: ClassVar[tuple[str, ...]] = ("run_id", "trade_no")
    __table_args__: Any = (_SQLITE_CLUSTERED,)

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    trade_no: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(128))
    side: Mapped[str] = mapped_column(String(8))
    size: Mapped[float] = mapped_column(Float)
    entry_timestamp: Mapped[datetime] = mapped_column(UtcMillis)
    exit_timestamp: Mapped[datetime | None] = mapped_column(UtcMillis)
    entry_price: Mapped[float] = mapped_column(Float)
    exit_price: Mapped[float] = mapped_column(Float)
    pnl: Mapped[float] = mapped_column(Float)
    fees: Mapped[float] = mapped_column(Float)
    funding: Mapped[float] = mapped_column(Float)
    trade_return: Mapped[float | None] = mapped_column(Float)
    exit_reason: Mapped[str] = mapped_column(String(16))
    is_open: Mapped[bool] = mapped_column(Boolean)


class BacktestEquity(Schema):
    """The equity curve of a run at every bar's close."""

    __tablename__ = "backtest_equity"
    __kind__: ClassVar[str] = "meta"
    __key__: ClassVar[tuple[str, ...]] = ("run_id", "timestamp")
    __table_args__: Any = (_SQLITE_CLUSTERED,)

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UtcMillis, primary_key=True)
    equity: Mapped[float] = mapped_column(Float)
    cash: Mapped[float] = mapped_column(Float)
    drawdown: Mapped[float] = mapped_column(Float)
    exposure: Mapped[float | None] = mapped_column(Float)
