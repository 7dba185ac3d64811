"""``query_data`` — the read verb every schema carries (universes: ``zvt_crypto.domain.universe``).

Results are DataFrames indexed ``(entity_id, timestamp)`` (entities: ``entity_id``) with UTC-aware times.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from sqlalchemy import BigInteger, Boolean, ColumnElement, Float, String, and_, or_, select, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import ENTITY_TYPES, EntityType, check_exchange_id, entity_id
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.reader import in_values, is_json, read_frame
from zvt_crypto.contract.schema import Schema, UtcMillis
from zvt_crypto.contract.store import Store, get_store
from zvt_crypto.contract.timeutil import TimeLike, check_range, to_ms

if TYPE_CHECKING:
    import pandas as pd

    from zvt_crypto.contract.config import Config

# pandas and numpy are imported where frames are built: commands that only name entities (coverage) or count
# rows must not pay ≈ 0.6 s for them

_DEFAULT: Any = object()  # "not given" (None means "no index")
ReturnType = Literal["df", "dicts"]


def _as_list(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def resolve_entity_ids(
    schema: type[Schema], exchange: str | None, symbols: Sequence[str] | None, entity_ids: Sequence[str] | None
) -> list[str] | None:
    """Entity ids named by ``symbols`` on ``exchange`` plus ``entity_ids``; ``None`` means "no restriction"."""
    if symbols is None and entity_ids is None:
        return None
    ids = list(entity_ids or [])
    if symbols:
        if not exchange:
            raise InvalidInputError("symbols need an exchange: pass exchange='binance' (the ccxt id) as well")
        kind: EntityType | None = "asset" if schema.__tablename__ == "crypto_asset" else None
        ids.extend(entity_id(exchange, symbol, kind) for symbol in symbols)
    return list(dict.fromkeys(ids))


def exchange_condition(column: ColumnElement[str], exchange: str) -> ColumnElement[bool]:
    """Entity ids of ``exchange`` as index-friendly ranges: ``'pair_binance_' <= id < 'pair_binance`'``
    (backtick follows underscore in ASCII), one per entity type."""
    check_exchange_id(exchange)
    column = _ByteOrder(column)
    return or_(*(and_(column >= f"{kind}_{exchange}_", column < f"{kind}_{exchange}`") for kind in ENTITY_TYPES))


class _ByteOrder(FunctionElement[str]):
    """Fix: the ranges above assume byte order. SQLite compares bytes (BINARY) but PostgreSQL uses the database's
    collation, and glibc's en_US.UTF-8 (the usual default) ignores punctuation at first: there
    'pair_binance_BTC-USDT' < 'pair_binance`' is false and exchange-only queries returned nothing. On
    PostgreSQL the column is compared ``COLLATE "C"``; elsewhere it is left as it is."""

    type = String()
    name = "bytewise"
    inherit_cache = True


@compiles(_ByteOrder)
def _bytewise_default(element: _ByteOrder, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_ByteOrder, "postgresql")
def _bytewise_postgresql(element: _ByteOrder, compiler: Any, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


def _order_by(schema: type[Schema], order: Any) -> list[Any]:
    table = schema.__table__
    if order is None:
        if "entity_id" not in table.c:  # metadata tables (factor_meta …): their primary key
            return list(table.primary_key.columns)
        names = ["entity_id", "timestamp"] if "timestamp" in table.c else ["entity_id"]
        return [table.c[name] for name in names]
    out = []
    for item in order if isinstance(order, (list, tuple)) else [order]:
        if isinstance(item, str):
            descending = item.startswith("-")
            name = item.lstrip("-")
            if name not in table.c:
                raise InvalidInputError(f"cannot order by {name!r}: {schema.__name__} has {', '.join(table.c.keys())}")
            out.append(table.c[name].desc() if descending else table.c[name])
        else:
            out.append(item)
    return out


# The row form follows from ``return_type``: callers get a DataFrame or a list of dicts, never a union to narrow.
@overload
def query_data(
    schema: type[Schema],
    *,
    exchange: str | None = ...,
    symbols: str | Sequence[str] | None = ...,
    entity_ids: str | Sequence[str] | None = ...,
    level: Level | str | None = ...,
    start_timestamp: TimeLike | None = ...,
    end_timestamp: TimeLike | None = ...,
    columns: Sequence[str] | None = ...,
    filters: ColumnElement[bool] | Sequence[ColumnElement[bool]] | None = ...,
    order: Any = ...,
    limit: int | None = ...,
    index: str | Sequence[str] | None = ...,
    return_type: Literal["df"] = ...,
    store: Store | Config | str | None = ...,
) -> pd.DataFrame: ...


@overload
def query_data(
    schema: type[Schema],
    *,
    exchange: str | None = ...,
    symbols: str | Sequence[str] | None = ...,
    entity_ids: str | Sequence[str] | None = ...,
    level: Level | str | None = ...,
    start_timestamp: TimeLike | None = ...,
    end_timestamp: TimeLike | None = ...,
    columns: Sequence[str] | None = ...,
    filters: ColumnElement[bool] | Sequence[ColumnElement[bool]] | None = ...,
    order: Any = ...,
    limit: int | None = ...,
    index: str | Sequence[str] | None = ...,
    return_type: Literal["dicts"],
    store: Store | Config | str | None = ...,
) -> list[dict[str, Any]]: ...


def query_data(
    schema: type[Schema],
    *,
    exchange: str | None = None,
    symbols: str | Sequence[str] | None = None,
    entity_ids: str | Sequence[str] | None = None,
    level: Level | str | None = None,
    start_timestamp: TimeLike | None = None,
    end_timestamp: TimeLike | None = None,
    columns: Sequence[str] | None = None,
    filters: ColumnElement[bool] | Sequence[ColumnElement[bool]] | None = None,
    order: Any = None,
    limit: int | None = None,
    index: str | Sequence[str] | None = _DEFAULT,
    return_type: ReturnType = "df",
    store: Store | Config | str | None = None,
) -> pd.DataFrame | list[dict[str, Any]]:
    """Read rows of ``schema``.

    Args:
        exchange: ccxt id; with ``symbols`` names entities, alone restricts to that venue.
        symbols: ccxt unified symbols (``"BTC/USDT"``, ``"BTC/USDT:USDT"``).
        entity_ids: entity ids (``"pair_binance_BTC-USDT"``); any number works.
        level: required for leveled schemas (bars, open interest).
        start_timestamp, end_timestamp: inclusive UTC bounds (naive values are UTC).
        columns: subset of columns; the index columns are always included.
        filters: extra SQLAlchemy conditions, e.g. ``[Bar.close > 100]``.
        order: column name (``"-close"`` for descending) or SQLAlchemy expression(s); default by key.
        limit: at most this many rows.
        index: index column(s); default ``("entity_id", "timestamp")`` (entities: ``"entity_id"``); ``None`` for none.
        return_type: ``"df"`` (DataFrame) or ``"dicts"`` (list of row dicts).
        store: a :class:`Store`, a config or a URL; default: the configured store.

    >>> Bar.query_data(exchange="binance", symbols=["BTC/USDT"], level="1h",
    ...                start_timestamp="2024-01-01", end_timestamp="2024-01-02")  # doctest: +SKIP
    """
    store = get_store(store)
    table = schema.__table__
    symbols_list, ids_list = _as_list(symbols), _as_list(entity_ids)
    conditions: list[ColumnElement[bool]] = []
    ids: list[str] | None = None
    if "entity_id" not in table.c and (exchange or symbols_list is not None or ids_list is not None):
        raise InvalidInputError(f"{schema.__name__} is not kept per market: drop exchange, symbols and entity ids")
    if schema.__kind__ == "entity":
        if exchange:
            conditions.append(table.c.exchange == check_exchange_id(exchange))
        if symbols_list is not None:
            if not exchange:
                raise InvalidInputError("symbols need an exchange: pass exchange='binance' as well")
            conditions.append(in_values(table.c.symbol, symbols_list, store.dialect))
        if ids_list is not None:
            conditions.append(in_values(table.c.entity_id, ids_list, store.dialect))
    else:
        ids = resolve_entity_ids(schema, exchange, symbols_list, ids_list)
        if ids is not None:
            conditions.append(in_values(table.c.entity_id, ids, store.dialect))
        elif exchange:
            conditions.append(exchange_condition(table.c.entity_id, exchange))
    # Columns the query pins to one value are not fetched (a 1M-row read would move them 1M times).
    constants: dict[str, str] = {}
    if schema.__kind__ != "entity" and ids is not None and len(ids) == 1:
        constants["entity_id"] = ids[0]
    if "level" in table.c:
        if level is None and schema.__kind__ == "series":
            raise InvalidInputError(f"{schema.__name__} holds several levels: pass level='1m' … '1w'")
        if level is not None:
            constants["level"] = str(Level.parse(level))
            conditions.append(table.c.level == constants["level"])
    elif level is not None:
        raise InvalidInputError(f"{schema.__name__} has no level; drop level={level!r}")

    time_column = "timestamp" if "timestamp" in table.c else None
    start_ms = None if start_timestamp is None else to_ms(start_timestamp)
    end_ms = None if end_timestamp is None else to_ms(end_timestamp)
    check_range(start_ms, end_ms)
    if time_column is None:
        if start_ms is not None or end_ms is not None:
            raise InvalidInputError(f"{schema.__name__} has no timestamp; use get_entities(as_of=...) for universes")
    else:
        if start_ms is not None:
            conditions.append(table.c[time_column] >= start_ms)
        if end_ms is not None:
            conditions.append(table.c[time_column] <= end_ms)
    if filters is not None:
        conditions.extend(filters if isinstance(filters, Sequence) else [filters])

    default_index: tuple[str, ...] = ("entity_id", "timestamp") if time_column else ("entity_id",)
    if "entity_id" not in table.c:  # job and scheduler tables: their primary key
        default_index = tuple(column.name for column in table.primary_key.columns)
    index_names = list(default_index if index is _DEFAULT else (_as_list(index) or []))
    names = list(table.c.keys()) if columns is None else list(dict.fromkeys([*index_names, *columns]))
    unknown = [name for name in names if name not in table.c]
    if unknown:
        raise InvalidInputError(
            f"{schema.__name__} has no column(s) {', '.join(unknown)}; its columns are {', '.join(table.c.keys())}"
        )
    fetched = [name for name in names if name not in constants]
    if not fetched:  # nothing varies: fetch the pinned columns too, to know how many rows there are
        fetched, constants = names, {}
    selected = [
        # epoch ms as plain integers: the reader converts whole columns, not one datetime per row
        type_coerce(table.c[name], BigInteger).label(name) if isinstance(table.c[name].type, UtcMillis)
        else table.c[name]
        for name in fetched
    ]
    statement = select(*selected).where(*conditions).order_by(*_order_by(schema, order))
    if limit is not None:
        if limit < 0:
            raise InvalidInputError(f"limit must be ≥ 0, got {limit}")
        statement = statement.limit(limit)
    time_names = tuple(name for name in fetched if isinstance(table.c[name].type, UtcMillis))
    json_names = tuple(name for name in fetched if is_json(table.c[name]))
    categorical = ("entity_id",) if "entity_id" in fetched and schema.__kind__ != "entity" else ()
    import numpy as np
    import pandas as pd

    frame = read_frame(store, statement, time_columns=time_names, json_columns=json_names,
                       categorical_columns=categorical)
    for position, name in enumerate(names):
        if name in constants:
            frame.insert(position, name, pd.Categorical.from_codes(np.zeros(len(frame), np.int8), [constants[name]]))
    for name in names:
        sql_type = table.c[name].type
        if name in frame and isinstance(sql_type, Boolean):
            frame[name] = frame[name].astype(bool)
        elif name in frame and type(sql_type) is BigInteger:  # counts: nullable integers, not floats
            frame[name] = frame[name].astype("Int64")
        elif name in frame and isinstance(sql_type, Float) and frame[name].dtype == object:
            # Fix: the SQLAlchemy path (statements with JSON columns) gave object columns for floats with NULLs
            # (e.g. best_bid); connectorx gives float64. Same dtype whichever path read it.
            frame[name] = frame[name].astype("float64")
    if return_type == "dicts":
        return frame.to_dict("records")
    if return_type != "df":
        raise InvalidInputError(f"unknown return_type {return_type!r}; use 'df' or 'dicts'")
    if index_names == ["entity_id", "timestamp"]:
        return _with_entity_time_index(frame, single_entity="entity_id" in constants)
    return frame.set_index(index_names) if index_names else frame


def _with_entity_time_index(frame: pd.DataFrame, *, single_entity: bool) -> pd.DataFrame:
    """Set the ``(entity_id, timestamp)`` index from codes, without hashing a million strings.

    ``entity_id`` arrives categorical (dictionary-encoded by the reader, or pinned); one entity's
    timestamps are unique, so each row is its own code."""
    import numpy as np
    import pandas as pd

    entity = frame["entity_id"]
    if not isinstance(entity.dtype, pd.CategoricalDtype):
        return frame.set_index(["entity_id", "timestamp"])
    times = pd.DatetimeIndex(frame["timestamp"])
    if single_entity:
        time_codes, time_levels = np.arange(len(frame)), times
    else:
        time_codes, time_levels = pd.factorize(times)
    index = pd.MultiIndex(
        levels=[pd.Index(entity.cat.categories, dtype=object), time_levels],
        codes=[entity.cat.codes.to_numpy(), time_codes],
        names=["entity_id", "timestamp"],
        verify_integrity=False,
    )
    return frame.drop(columns=["entity_id", "timestamp"]).set_axis(index, axis=0)
