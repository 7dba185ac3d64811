"""Stored factor results: one row per (factor, entity, bar) in a table every factor shares.

Why one generic table rather than a table per factor: factors are plugins, parameters multiply them, and
each new table would need a migration. ``factor_id`` names the factor, its level and its parameters
(``rsi:1h:window=14``); its outputs map to the value columns ``v0`` … ``v9`` in the order the factor
declares them (:class:`FactorMeta` keeps that mapping), next to ZVT's ``filter_result`` (1 long, −1 short,
0 neutral) and ``score_result`` (in [0, 1]).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from zvt_crypto.contract.schema import Schema, UtcMillis

#: value columns available to a factor's outputs
VALUE_COLUMNS: tuple[str, ...] = tuple(f"v{i}" for i in range(10))
_SQLITE_CLUSTERED = {"sqlite_with_rowid": False}


class FactorValue(Schema):
    """Values of one factor (``factor_id``) for one entity at one bar's open time (``timestamp``)."""

    __tablename__ = "factor_value"
    __key__: ClassVar[tuple[str, ...]] = ("factor_id", "entity_id", "timestamp")
    __table_args__: Any = (_SQLITE_CLUSTERED,)

    factor_id: Mapped[str] = mapped_column(String(160), primary_key=True, sort_order=-40)
    entity_id: Mapped[str] = mapped_column(String(128), primary_key=True, sort_order=-30)
    timestamp: Mapped[datetime] = mapped_column(UtcMillis, primary_key=True, sort_order=-10)
    v0: Mapped[float | None] = mapped_column(Float)
    v1: Mapped[float | None] = mapped_column(Float)
    v2: Mapped[float | None] = mapped_column(Float)
    v3: Mapped[float | None] = mapped_column(Float)
    v4: Mapped[float | None] = mapped_column(Float)
    v5: Mapped[float | None] = mapped_column(Float)
    v6: Mapped[float | None] = mapped_column(Float)
    v7: Mapped[float | None] = mapped_column(Float)
    v8: Mapped[float | None] = mapped_column(Float)
    v9: Mapped[float | None] = mapped_column(Float)
    filter_result: Mapped[int | None] = mapped_column(BigInteger)
    score_result: Mapped[float | None] = mapped_column(Float)


class FactorMeta(Schema):
    """What a ``factor_id`` is: the factor's name, level, parameters, outputs (→ ``v0`` …) and version."""

    __tablename__ = "factor_meta"
    __kind__: ClassVar[str] = "meta"
    __key__: ClassVar[tuple[str, ...]] = ("factor_id",)

    factor_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(4))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    outputs: Mapped[list[str]] = mapped_column(JSON)
    version: Mapped[str] = mapped_column(String(32))
    updated_timestamp: Mapped[datetime | None] = mapped_column(UtcMillis)
