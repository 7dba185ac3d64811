"""The one write path: normalise → validate → upsert in a single transaction.

``INSERT … ON CONFLICT (key) DO NOTHING`` stores the new rows, then — only when some keys were already
stored — ``INSERT … ON CONFLICT (key) DO UPDATE … WHERE the row differs`` updates the stored rows that differ:
two statements so that new and changed rows are counted apart (a batch of new rows, what the recorders write,
runs the first only). Writing the same rows again changes nothing (not even a page of the file), a corrected
row — a bar that was still open — is updated in place (``on_conflict="update"``; ``"skip"`` keeps the stored
row, ``"error"`` refuses the batch), and a batch that fails validation or the database leaves the table untouched.

Rows travel as one Arrow table: on SQLite ADBC binds it to the prepared upsert in C (no Python tuple per
row), on PostgreSQL ADBC ingests it with COPY into a temporary table and one ``INSERT … SELECT`` upserts it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import is_integer_dtype
from sqlalchemy import JSON, BigInteger, Boolean, ColumnDefault, Float, String

from zvt_crypto.contract.errors import ConflictError, InvalidDataError, InvalidInputError, StoreError
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.schema import Schema, UtcMillis
from zvt_crypto.contract.timeutil import series_to_ms
from zvt_crypto.contract.validation import validate_frame

if TYPE_CHECKING:
    from zvt_crypto.contract.store import Store


OnConflict = Literal["update", "skip", "error"]
ON_CONFLICT: tuple[str, ...] = ("update", "skip", "error")


@dataclass(frozen=True)
class WriteResult:
    """What a write did: ``rows`` offered (after dropping exact duplicates), of which ``inserted`` were new and
    ``updated`` replaced a stored row with other values; ``kept`` stored rows differed from the batch and were
    kept (``on_conflict="skip"``)."""

    schema: str
    rows: int
    inserted: int
    updated: int = 0
    kept: int = 0

    @property
    def changed(self) -> int:
        """Rows inserted or updated."""
        return self.inserted + self.updated

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
        if not isinstance(default, ColumnDefault) or not default.is_scalar:
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


def _insert_sql(schema: type[Schema], names: list[str], source: str) -> str:
    """Insert the rows whose key is not stored yet; the others are left to :func:`_upsert_sql`."""
    column_list = ", ".join(f'"{name}"' for name in names)
    conflict = f"ON CONFLICT ({', '.join(schema.__key__)})"
    return f"INSERT INTO {schema.__tablename__} ({column_list}) {source} {conflict} DO NOTHING"


def _upsert_sql(
    schema: type[Schema], names: list[str], source: str, dialect: str, insert_only: frozenset[str] = frozenset()
) -> str | None:
    """The upsert statement, ``None`` when the rows have no value to update (key-only rows); ``insert_only``
    columns (defaults the caller did not send) are not updated."""
    table = schema.__tablename__
    key = list(schema.__key__)
    values = [name for name in names if name not in key and name not in insert_only]
    column_list = ", ".join(f'"{name}"' for name in names)
    conflict = f"ON CONFLICT ({', '.join(key)})"
    if not values:
        return None
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


#: Rows per statement when a write reports its progress (≈ 0.3 s of SQLite's upsert; one statement costs ~1 ms).
PROGRESS_CHUNK_ROWS = 100_000


def write_frame(
    store: "Store",
    schema: type[Schema],
    frame: pd.DataFrame,
    *,
    level: Level | str | None = None,
    validate: bool = True,
    on_conflict: OnConflict = "update",
    now_ms: int | None = None,
    on_rows: Callable[[int, int], None] | None = None,
) -> WriteResult:
    """Upsert ``frame`` into ``schema``'s table. All or nothing: a bad row or a database error writes nothing.

    ``frame`` may be indexed ``(entity_id, timestamp)`` as ``query_data`` returns it; times may be
    datetimes (naive ones are taken as UTC) or epoch milliseconds. A row whose key is stored with other values
    replaces it (``on_conflict="update"``), is dropped (``"skip"``: counted as ``kept``), or refuses the whole
    batch (``"error"``: :class:`InvalidDataError`, nothing written). ``now_ms`` is the clock bars are validated
    against (default: the wall clock). ``on_rows(done, total)`` hears the rows passed to the database so far (on
    SQLite chunk by chunk of :data:`PROGRESS_CHUNK_ROWS`, still in the one transaction; on PostgreSQL once, at the
    end), for a progress bar.
    """
    if on_conflict not in ON_CONFLICT:
        raise InvalidInputError(f"on_conflict must be one of {', '.join(ON_CONFLICT)}, not {on_conflict!r}")
    df = normalize_frame(schema, frame, level)
    sent = {*frame.columns, *(name for name in frame.index.names if name), *(["level"] if level is not None else [])}
    insert_only = frozenset(name for name in df.columns if name not in sent)
    if df.empty:
        return WriteResult(schema.__name__, 0, 0)
    if validate:
        validate_frame(schema, df, now_ms=now_ms)
    table = to_arrow(schema, df)
    names = list(df.columns)
    try:
        if store.is_sqlite:
            inserted, updated, kept = _write_sqlite(store, schema, table, names, insert_only, on_conflict,
                                                    _range_count(schema, df), on_rows)
        else:
            inserted, updated, kept = _write_postgresql(store, schema, table, names, insert_only, on_conflict,
                                                        _range_count(schema, df))
    except (InvalidDataError, InvalidInputError):
        raise
    except Exception as exc:
        raise StoreError(f"writing {len(df)} {schema.__name__} rows failed, nothing was written: {exc}") from exc
    if on_rows is not None:
        on_rows(len(df), len(df))
    return WriteResult(schema.__name__, len(df), inserted, updated, kept)


def _apply(
    cursor: Any, run: Callable[[str], int], schema: type[Schema], rows: int, insert: str, upsert: str | None,
    on_conflict: OnConflict, split: Callable[[str], tuple[int, int]] | None = None,
) -> tuple[int, int, int]:
    """(inserted, updated, kept) of the batch, inside the caller's transaction. ``run`` executes a statement over
    the batch and returns how many rows it changed; ``split``, when the backend can, runs the upsert once and
    returns (inserted, updated) — else new rows are inserted first and the upsert runs for the stored ones."""
    if upsert is None:  # key-only rows: nothing to update, nothing can differ
        return run(insert), 0, 0
    if split is not None and on_conflict != "skip":
        inserted, updated = split(upsert)
    else:
        inserted = run(insert)
        if inserted == rows:  # every row was new
            return inserted, 0, 0
        if on_conflict == "skip":
            # count the stored rows that differ, then undo: the stored rows stay as they are
            cursor.execute("SAVEPOINT zvt_count_conflicts")
            kept = run(upsert)
            cursor.execute("ROLLBACK TO SAVEPOINT zvt_count_conflicts")
            cursor.execute("RELEASE SAVEPOINT zvt_count_conflicts")
            return inserted, 0, kept
        updated = run(upsert)
    if on_conflict == "error" and updated:
        # raised inside the transaction: it rolls back, the new rows with it
        raise ConflictError(
            f"{schema.__name__}: {updated} of {rows} rows differ from the stored rows with the same key; nothing was "
            "written (on conflict: error). Use on conflict 'update' to replace the stored rows or 'skip' to keep them"
        )
    return inserted, updated, 0


def _range_count(schema: type[Schema], df: pd.DataFrame) -> tuple[str, list[Any]] | None:
    """``SELECT count(*)`` of the stored rows in the batch's key range, when the batch is one entity (and level)
    with increasing times — what recorders and imports write. The count before and after one upsert tells the
    inserted rows from the updated ones without a second pass over the batch (rows of the range the batch does
    not hold are in both counts)."""
    key = list(schema.__key__)
    if not _key_strictly_increasing(df, key):
        return None
    *prefix, last = key
    where = " AND ".join([*(f'"{name}" = ?' for name in prefix), f'"{last}" BETWEEN ? AND ?'])
    params = [*(df[name].iloc[0] for name in prefix), int(df[last].iloc[0]), int(df[last].iloc[-1])]
    return f"SELECT count(*) FROM {schema.__tablename__} WHERE {where}", [
        value.item() if isinstance(value, np.generic) else value for value in params
    ]


def _write_sqlite(
    store: "Store", schema: type[Schema], table: pa.Table, names: list[str], insert_only: frozenset[str],
    on_conflict: OnConflict, range_count: tuple[str, list[Any]] | None,
    on_rows: Callable[[int, int], None] | None = None,
) -> tuple[int, int, int]:
    values = f"VALUES ({', '.join('?' * len(names))})"
    insert = _insert_sql(schema, names, values)
    upsert = _upsert_sql(schema, names, values, "sqlite", insert_only)
    with store.adbc_transaction() as cursor:

        def run(sql: str) -> int:
            cursor.execute("SELECT total_changes()")
            before = cursor.fetchone()[0]
            if on_rows is None:
                cursor.executemany(sql, table)  # ADBC binds the Arrow table to the prepared statement, in C
            else:  # the same in chunks, so a bar moves (a 1M-row import is seconds of this call)
                for start in range(0, table.num_rows, PROGRESS_CHUNK_ROWS):
                    cursor.executemany(sql, table.slice(start, PROGRESS_CHUNK_ROWS))
                    on_rows(min(start + PROGRESS_CHUNK_ROWS, table.num_rows), table.num_rows)
            cursor.execute("SELECT total_changes()")
            return int(cursor.fetchone()[0] - before)

        def stored() -> int:
            cursor.execute(*range_count)  # type: ignore[misc]  # only called when range_count is set
            return int(cursor.fetchone()[0])

        def split(sql: str) -> tuple[int, int]:
            before = stored()
            changed = run(sql)
            inserted = stored() - before if before else changed  # the write lock is ours: no one else inserts
            return inserted, changed - inserted

        return _apply(cursor, run, schema, table.num_rows, insert, upsert, on_conflict,
                      split if range_count is not None else None)


def _write_postgresql(
    store: "Store", schema: type[Schema], table: pa.Table, names: list[str], insert_only: frozenset[str],
    on_conflict: OnConflict, range_count: tuple[str, list[Any]] | None = None,
) -> tuple[int, int, int]:
    stage = f"zvt_stage_{schema.__tablename__}"
    json_columns = {c.name for c in schema.__table__.columns if isinstance(c.type, JSON)}
    select_list = ", ".join(f'CAST("{n}" AS JSON)' if n in json_columns else f'"{n}"' for n in names)
    source = f"SELECT {select_list} FROM {stage}"
    insert = _insert_sql(schema, names, source)
    upsert = _upsert_sql(schema, names, source, "postgresql", insert_only)
    with store.adbc_transaction() as cursor:

        def run(sql: str) -> int:
            cursor.execute(f"WITH written AS ({sql} RETURNING 1) SELECT count(*) FROM written")
            return int(cursor.fetchone()[0])

        def split(sql: str) -> tuple[int, int]:
            # a row version created by this INSERT has no deleting transaction (xmax 0); an updated one has
            cursor.execute(f"WITH written AS ({sql} RETURNING (xmax = 0) AS new) "
                           "SELECT count(*) FILTER (WHERE new), count(*) FILTER (WHERE NOT new) FROM written")
            inserted, updated = cursor.fetchone()
            return int(inserted), int(updated)

        cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        cursor.adbc_ingest(stage, table, mode="create", temporary=True)  # COPY, in C
        if range_count is not None and _inserted_plainly(cursor, schema, names, source, range_count):
            counts = (table.num_rows, 0, 0)
        else:
            counts = _apply(cursor, run, schema, table.num_rows, insert, upsert, on_conflict, split)
        cursor.execute(f"DROP TABLE {stage}")
        return counts


def _inserted_plainly(cursor: Any, schema: type[Schema], names: list[str], source: str,
                      range_count: tuple[str, list[Any]]) -> bool:
    """PostgreSQL, a batch into an empty key range (an import, a backfill): a plain ``INSERT … SELECT``, ≈ 2.5×
    faster than ``ON CONFLICT`` (no speculative insertion per row). ``False``, with nothing changed, when the range
    holds rows — or gains one from another writer meanwhile (the unique violation is rolled back to a savepoint)
    — and the upsert must run."""
    sql, params = range_count
    for number in range(len(params)):
        sql = sql.replace("?", f"${number + 1}", 1)
    cursor.execute(sql, params)
    if int(cursor.fetchone()[0]):
        return False
    column_list = ", ".join(f'"{name}"' for name in names)
    cursor.execute("SAVEPOINT zvt_plain_insert")
    try:
        cursor.execute(f"INSERT INTO {schema.__tablename__} ({column_list}) {source}")
    except Exception as exc:
        if getattr(exc, "sqlstate", None) != "23505":  # unique_violation: a concurrent writer filled the range
            raise
        cursor.execute("ROLLBACK TO SAVEPOINT zvt_plain_insert")
        return False
    cursor.execute("RELEASE SAVEPOINT zvt_plain_insert")
    return True
