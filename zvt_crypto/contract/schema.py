"""The declarative base of every table, and the verbs every schema carries.

``Schema`` subclasses are SQLAlchemy 2 models. Defining one registers it (``schema_registry()``); each gets
``query_data`` (read a DataFrame indexed ``(entity_id, timestamp)``) and ``record_data`` (run the recorder
plugin registered for it). Timestamps are stored as integer epoch milliseconds (UTC): one representation on
SQLite and PostgreSQL, compact, fast to compare, and free of time-zone ambiguity. Python code sees UTC-aware
``datetime`` objects (ORM) or ``datetime64[ns, UTC]`` columns (DataFrames).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, overload

from sqlalchemy import BigInteger, MetaData, Table
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.registry import recorder_for, schema_modules
from zvt_crypto.contract.timeutil import to_datetime, to_ms

_DEFAULT_INDEX: Any = object()  # query_data's "index not given" (None means "no index")

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

    from zvt_crypto.contract.levels import Level
    from zvt_crypto.contract.store import Store, StoreLike
    from zvt_crypto.contract.timeutil import TimeLike

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcMillis(TypeDecorator[datetime]):
    """Epoch milliseconds in the database, UTC-aware ``datetime`` in Python."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> int | None:
        return None if value is None else to_ms(value)

    def process_literal_param(self, value: Any, dialect: Any) -> str:
        return "NULL" if value is None else str(to_ms(value))

    def process_result_value(self, value: int | None, dialect: Any) -> datetime | None:
        return None if value is None else to_datetime(int(value))


class Schema(DeclarativeBase):
    """Base of every zvt_crypto table.

    Class attributes that describe a schema to the generic store code:

    * ``__kind__`` — ``"entity"`` or ``"series"``.
    * ``__key__`` — the natural key (primary key) columns; writes upsert on it.
    * ``__validators__`` — names of checks run on every write (see ``contract.validation``).
    """

    metadata = MetaData(naming_convention=_NAMING)
    __abstract__ = True
    __kind__: ClassVar[str] = "series"
    __key__: ClassVar[tuple[str, ...]] = ()
    __validators__: ClassVar[tuple[str, ...]] = ()
    if TYPE_CHECKING:
        # Every schema is mapped to a plain Table (DeclarativeBase types it as the wider FromClause, which has
        # no insert/update/delete and no primary_key).
        __table__: ClassVar[Table]

    @classmethod
    def has_level(cls) -> bool:
        return "level" in cls.__key__

    @classmethod
    def column_names(cls) -> list[str]:
        return [column.name for column in cls.__table__.columns]

    # Overloads on ``return_type`` (as on :func:`~zvt_crypto.contract.query.query_data`): a DataFrame unless
    # ``return_type="dicts"`` asks for the list of row dicts.
    @overload
    @classmethod
    def query_data(cls, *, exchange: str | None = None, symbols: str | Sequence[str] | None = None,
                   entity_ids: str | Sequence[str] | None = None, level: Level | str | None = None,
                   start_timestamp: TimeLike | None = None, end_timestamp: TimeLike | None = None,
                   columns: Sequence[str] | None = None, filters: Any = None, order: Any = None,
                   limit: int | None = None, index: str | Sequence[str] | object | None = _DEFAULT_INDEX,
                   return_type: Literal["df"] = ..., store: StoreLike = None) -> pd.DataFrame: ...

    @overload
    @classmethod
    def query_data(cls, *, exchange: str | None = None, symbols: str | Sequence[str] | None = None,
                   entity_ids: str | Sequence[str] | None = None, level: Level | str | None = None,
                   start_timestamp: TimeLike | None = None, end_timestamp: TimeLike | None = None,
                   columns: Sequence[str] | None = None, filters: Any = None, order: Any = None,
                   limit: int | None = None, index: str | Sequence[str] | object | None = _DEFAULT_INDEX,
                   return_type: Literal["dicts"], store: StoreLike = None
                   ) -> list[dict[str, Any]]: ...

    @classmethod
    def query_data(cls, *, exchange: str | None = None, symbols: str | Sequence[str] | None = None,
                   entity_ids: str | Sequence[str] | None = None, level: Level | str | None = None,
                   start_timestamp: TimeLike | None = None, end_timestamp: TimeLike | None = None,
                   columns: Sequence[str] | None = None, filters: Any = None, order: Any = None,
                   limit: int | None = None, index: str | Sequence[str] | object | None = _DEFAULT_INDEX,
                   return_type: Literal["df", "dicts"] = "df", store: StoreLike = None
                   ) -> pd.DataFrame | list[dict[str, Any]]:
        """Read rows as a DataFrame indexed ``(entity_id, timestamp)`` (UTC times);
        :func:`zvt_crypto.contract.query.query_data` describes every argument.

        >>> from zvt_crypto.domain import Bar
        >>> bars = Bar.query_data(exchange="binance", symbols=["BTC/USDT"], level="1h",
        ...                       start_timestamp="2024-01-02", end_timestamp="2024-01-02 05:00")
        >>> len(bars), list(bars.index.names)
        (6, ['entity_id', 'timestamp'])
        """
        from zvt_crypto.contract import query

        chosen = {} if index is _DEFAULT_INDEX else {"index": index}  # not given: the schema's own index
        run: Any = query.query_data  # its overloads on return_type are this method's (typed above)
        return run(cls, exchange=exchange, symbols=symbols, entity_ids=entity_ids, level=level,
                   start_timestamp=start_timestamp, end_timestamp=end_timestamp, columns=columns, filters=filters,
                   order=order, limit=limit, return_type=return_type, store=store, **chosen)

    @classmethod
    def record_data(cls, *, exchange: str, symbols: str | Sequence[str] | None = None, level: str | None = None,
                    start: str | None = None, end: str | None = None, recheck_gaps: bool | None = None,
                    depth: int | None = None, store: Store | None = None, show_progress: bool = True) -> Any:
        """Fetch new rows from a venue through the recorder registered for this schema and return its summary
        (``level`` for leveled schemas; ``start`` / ``end`` inclusive UTC, default: resume after the stored data;
        ``recheck_gaps`` for bars, ``depth`` for order books).

        >>> Bar.record_data(exchange="binance", symbols=["BTC/USDT"], level="1h", start="2024-01-01")  # doctest: +SKIP
        """
        recorder = recorder_for(cls, exchange)
        given = {"level": level, "start": start, "end": end, "recheck_gaps": recheck_gaps, "depth": depth}
        options = {key: value for key, value in given.items() if value is not None}
        return recorder(store).record(exchange=exchange, symbols=symbols, show_progress=show_progress, **options)


def schema_registry() -> dict[str, type[Schema]]:
    """Every concrete schema by class name: the modules of the ``zvt_crypto.schemas`` entry-point group (the
    built-in ``zvt_crypto.domain`` among them) are imported on first use, and defining a schema registers it."""
    schema_modules.names()
    return {mapper.class_.__name__: mapper.class_ for mapper in Schema.registry.mappers}


def get_schema(name: str) -> type[Schema]:
    """Look a schema up by class name (``"Bar"``) or table name (``"bar"``)."""
    registry = schema_registry()
    by_table = {schema.__tablename__: schema for schema in registry.values()}
    found = registry.get(name) or by_table.get(name)
    if found is None:
        raise InvalidInputError(f"unknown schema {name!r}; known: {', '.join(sorted(registry))}")
    return found
