"""The one write path: normalise → validate → upsert in a single transaction.

``INSERT … ON CONFLICT (key) DO UPDATE … WHERE the row differs``: writing the same rows again changes
nothing (not even a page of the file), a corrected row — a bar that was still open — is updated in place,
and a batch that fails validation or the database leaves the table untouched.

Rows travel as one Arrow table: on SQLite ADBC binds it to the prepared upsert in C (no Python tuple per
row), on PostgreSQL ADBC ingests it with COPY into a temporary table and one ``INSERT … SELECT`` upserts it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import is_integer_dtype
from sqlalchemy import JSON, BigInteger, Boolean, Float, String

from zvt_crypto.contract.errors import InvalidDataError, InvalidInputError, StoreError
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.schema import Schema, UtcMillis
from zvt_crypto.contract.timeutil import series_to_ms
from zvt_crypto.contract.validation import validate_frame

if TYPE_CHECKING:
    from zvt_crypto.contract.store import Store


@dataclass(frozen=True)
class WriteResult:
    """What a write did: ``rows`` offered (after dropping exact duplicates), ``changed`` inserted or updated."""

    schema: str
    rows: int
    changed: int

    @property
    def unchanged(self) -> int:
        return self.rows - self.changed


def _arrow_type(column: Any) -> pa.DataType:
    sql_type = column.type
    if isinstance(sql_type, (UtcMillis, BigInteger)):
        return pa.int64()
    if isinstance(sql_type, Float):
        return pa.float64()
    if isinstance(sql_type, Boolean):
        return pa.bool_()
    if isinstance(sql_type, (String, JSON)):
        return pa.string()
    raise TypeError(f"no Arrow type for {column.name}: {sql_type!r}")  # pragma: no cover - schema bug


def normalize_frame(schema: type[Schema], frame: pd.DataFrame, level: Level | str | None = None) -> pd.DataFrame:
    """Bring ``frame`` to the table's columns: index levels become columns, times become epoch ms,
    ``level`` is filled in, and exact duplicate rows are dropped. Conflicting duplicates are an error."""
    df = frame
    index_names = [name for name in df.index.names if name]
    if index_names and set(index_names) <= set(schema.column_names()):
        df = df.reset_index()
    else:
        df = df.reset_index(drop=True)
    if schema.has_level():
        if level is not None:
            df = df.assign(level=str(Level.parse(level)))
        elif "level" not in df:
            raise InvalidInputError(f"{schema.__name__} rows need a level: pass level='1m' … '1w'")
        else:
            canonical = {value: str(Level.parse(value)) for value in pd.unique(df["level"])}
            df = df.assign(level=df["level"].map(canonical).astype(object))
    known = schema.column_names()
    unknown = [name for name in df.columns if name not in known]
    if unknown:
        raise InvalidInputError(
            f"{schema.__name__} has no column(s) {', '.join(map(str, unknown))}; its columns are {', '.join(known)}"
        )
    # shallow: every change below replaces a whole column, never writes into the caller's arrays
    df = df[[name for name in known if name in df.columns]].copy(deep=False)
    # The bulk paths (ADBC) bypass SQLAlchemy's client-side column defaults: fill scalar defaults here, for
    # missing columns and for empty cells, as an ORM insert would. Columns the caller did not send are only
    # inserted, never updated (see ``write_frame``), so a partial upsert keeps an existing row's other values.
    for column in schema.__table__.columns:
        default = column.default
        if default is None or not getattr(default, "is_scalar", False):
            continue
        if column.name not in df:
            df[column.name] = default.arg
        elif df[column.name].isna().any():
            df[column.name] = df[column.name].astype(object).where(df[column.name].notna(), default.arg)
    ordered = [name for name in known if name in df.columns]
    if list(df.columns) != ordered:  # a default column was added at the end
        df = df[ordered]
    for column in schema.__table__.columns:
        if isinstance(column.type, UtcMillis) and column.name in df and _is_numeric_times(df[column.name]):
            # Fix: epoch ms held as floats (integers with a NaN, as pandas builds them from [None, 1704067200000])
            # went to the datetime branch below, where pandas reads numbers as nanoseconds (→ 1970).
            values = np.floor(pd.to_numeric(df[column.name]).astype("float64"))
            df[column.name] = values.astype("int64") if values.notna().all() else values.astype("Int64")
        elif isinstance(column.type, UtcMillis) and column.name in df and not is_integer_dtype(df[column.name]):
            notna = df[column.name].notna()
            if notna.all():
                df[column.name] = series_to_ms(df[column.name])
            else:  # nullable times (e.g. delist_timestamp) stay nullable
                values = pd.Series(pd.NA, index=df.index, dtype="Int64")
                values[notna] = series_to_ms(df.loc[notna, column.name])
                df[column.name] = values
        elif isinstance(column.type, JSON) and column.name in df:
            df[column.name] = [None if value is None else json.dumps(value) for value in df[column.name]]
    return _drop_duplicates(schema, df)


def _is_numeric_times(values: pd.Series) -> bool:
    """Float epoch ms, or an object column holding only numbers and missing values."""
    if pd.api.types.is_float_dtype(values):
        return True
    if values.dtype != object:
        return False
    present = values[values.notna()]
    return all(isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
               for value in present)


def _key_strictly_increasing(df: pd.DataFrame, key: list[str]) -> bool:
    """Cheap proof of "no duplicate keys" for the common batch: one entity (and level), times increasing."""
    *prefix, last = key
    times = df[last].to_numpy()
    if times.dtype.kind not in "iu" or not bool((np.diff(times) > 0).all()):
        return False
    return all(_is_constant(df[name]) for name in prefix)


def _is_constant(values: pd.Series) -> bool:
    """Every value equals the first, and none is missing."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        array = pa.array(values.array)  # Arrow-backed strings (pandas' default): compared in Arrow, no objects
        if array.null_count:
            return False
        return bool(pc.all(pc.equal(array, array[0])).as_py())
    array = values.to_numpy()
    return not pd.isna(array[0]) and bool((array == array[0]).all())


def _drop_duplicates(schema: type[Schema], df: pd.DataFrame) -> pd.DataFrame:
    key = list(schema.__key__)
    if not set(key) <= set(df.columns) or df.empty or _key_strictly_increasing(df, key):
        return df
    duplicated_key = df.duplicated(key, keep=False)
    if not duplicated_key.any():
        return df
    df = df.drop_duplicates()
    conflicting = df.duplicated(key, keep=False)
    if conflicting.any():
        raise InvalidDataError(
            f"{schema.__name__}: {int(conflicting.sum())} rows share a key ({', '.join(key)}) with different values; "
            f"nothing was written. First ones:\n{df[conflicting].head(5).to_string(index=False)}"
        )
    return df


def to_arrow(schema: type[Schema], df: pd.DataFrame) -> pa.Table:
    columns = {column.name: column for column in schema.__table__.columns}
    arrays = {}
    for name in df.columns:
        values = df[name]
        arrow_type = _arrow_type(columns[name])
        # Fix: a value the column type cannot hold (1.5 trade counts, text in a price) escaped as a bare
        # pyarrow/pandas error; report it as invalid data, naming the column.
        try:
            if arrow_type == pa.int64() and values.dtype == object:
                values = pd.to_numeric(values)
            arrays[name] = pa.array(values.to_numpy(dtype=object) if values.dtype == object else values,
                                    type=arrow_type, from_pandas=True)
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise InvalidDataError(
                f"{schema.__name__}: column {name} cannot be stored as {arrow_type}: {exc}; nothing was written"
            ) from None
    return pa.table(arrays)


def _upsert_sql(
    schema: type[Schema], names: list[str], source: str, dialect: str, insert_only: frozenset[str] = frozenset()
) -> str:
    """The upsert statement; ``insert_only`` columns (defaults the caller did not send) are not updated."""
    table = schema.__tablename__
    key = list(schema.__key__)
    values = [name for name in names if name not in key and name not in insert_only]
    column_list = ", ".join(f'"{name}"' for name in names)
    conflict = f"ON CONFLICT ({', '.join(key)})"
    if not values:
        return f"INSERT INTO {table} ({column_list}) {source} {conflict} DO NOTHING"
    assignments = ", ".join(f'"{name}" = excluded."{name}"' for name in values)
    json_columns = {c.name for c in schema.__table__.columns if isinstance(c.type, JSON)}

    def side(prefix: str) -> str:
        cast = "CAST({0} AS TEXT)" if dialect == "postgresql" else "{0}"
        return ", ".join(
            cast.format(f'{prefix}."{name}"') if name in json_columns else f'{prefix}."{name}"' for name in values
        )

    differs = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    row = "ROW" if dialect == "postgresql" and len(values) == 1 else ""
    return (
        f"INSERT INTO {table} ({column_list}) {source} {conflict} DO UPDATE SET {assignments} "
        f"WHERE {row}({side(table)}) {differs} {row}({side('excluded')})"
    )


def write_frame(
    store: "Store",
    schema: type[Schema],
    frame: pd.DataFrame,
    *,
    level: Level | str | None = None,
    validate: bool = True,
) -> WriteResult:
    """Upsert ``frame`` into ``schema``'s table. All or nothing: a bad row or a database error writes nothing.

    ``frame`` may be indexed ``(entity_id, timestamp)`` as ``query_data`` returns it; times may be
    datetimes (naive ones are taken as UTC) or epoch milliseconds.
    """
    df = normalize_frame(schema, frame, level)
    sent = {*frame.columns, *(name for name in frame.index.names if name), *(["level"] if level is not None else [])}
    insert_only = frozenset(name for name in df.columns if name not in sent)
    if df.empty:
        return WriteResult(schema.__name__, 0, 0)
    if validate:
        validate_frame(schema, df)
    table = to_arrow(schema, df)
    names = list(df.columns)
    try:
        if store.is_sqlite:
            changed = _write_sqlite(store, schema, table, names, insert_only)
        else:
            changed = _write_postgresql(store, schema, table, names, insert_only)
    except (InvalidDataError, InvalidInputError):
        raise
    except Exception as exc:
        raise StoreError(f"writing {len(df)} {schema.__name__} rows failed, nothing was written: {exc}") from exc
    return WriteResult(schema.__name__, len(df), changed)


def _write_sqlite(
    store: "Store", schema: type[Schema], table: pa.Table, names: list[str], insert_only: frozenset[str]
) -> int:
    sql = _upsert_sql(schema, names, f"VALUES ({', '.join('?' * len(names))})", "sqlite", insert_only)
    with store.adbc_transaction() as cursor:
        cursor.execute("SELECT total_changes()")
        before = cursor.fetchone()[0]
        cursor.executemany(sql, table)  # ADBC binds the Arrow table to the prepared statement, in C
        cursor.execute("SELECT total_changes()")
        return int(cursor.fetchone()[0] - before)


def _write_postgresql(
    store: "Store", schema: type[Schema], table: pa.Table, names: list[str], insert_only: frozenset[str]
) -> int:
    stage = f"zvt_stage_{schema.__tablename__}"
    json_columns = {c.name for c in schema.__table__.columns if isinstance(c.type, JSON)}
    select_list = ", ".join(f'CAST("{n}" AS JSON)' if n in json_columns else f'"{n}"' for n in names)
    sql = _upsert_sql(schema, names, f"SELECT {select_list} FROM {stage}", "postgresql", insert_only)
    with store.adbc_transaction() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        cursor.adbc_ingest(stage, table, mode="create", temporary=True)  # COPY, in C
        cursor.execute(f"WITH upserted AS ({sql} RETURNING 1) SELECT count(*) FROM upserted")
        changed = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {stage}")
        return int(changed)
