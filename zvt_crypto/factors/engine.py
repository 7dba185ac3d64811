"""Run a factor over stored data, persist its results and read them back.

``compute_factor`` is incremental: per entity it finds the last stored result, reads only the bars after it
plus exactly the warm-up the factor declares (one query for all entities), computes, and upserts the new rows
in one transaction. The result equals a full recompute: bit for bit for windowed factors, to round-off for
recursive ones (their warm-up outlasts the seed's weight) and for running sums (continued from the stored
value). A factor whose ``version`` or outputs changed is recomputed from scratch, never mixed.

>>> run = compute_factor(make_factor("rsi"), exchange="binance", symbols=["BTC/USDT"], level="1h")  # doctest: +SKIP
>>> load_factor("rsi", exchange="binance", symbols=["BTC/USDT"], level="1h").tail()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select

from zvt_crypto.contract.errors import InvalidInputError, NoUsableDataError
from zvt_crypto.contract.export import export_format, nothing_stored, write_export
from zvt_crypto.contract.ids import parse_entity_id, symbol_of
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.progress import OnProgress
from zvt_crypto.contract.query import resolve_entity_ids
from zvt_crypto.contract.reader import in_values, read_frame
from zvt_crypto.contract.store import Store, StoreLike, get_store
from zvt_crypto.contract.timeutil import TimeLike, check_range, iso, series_to_ms, to_ms
from zvt_crypto.domain.factors import VALUE_COLUMNS, FactorMeta, FactorValue
from zvt_crypto.factors.base import Factor, make_factor
from zvt_crypto.factors.data import OHLCV, FactorInput

log = logging.getLogger(__name__)
SIGNAL_COLUMNS = ("filter_result", "score_result")
_DAY_MS = 86_400_000


@dataclass
class FactorRun:
    """What one computation did; ``values`` holds the rows it computed (named outputs), ``counts`` per entity the
    rows computed and the ``usable`` ones (any output not NaN), ``warnings`` each entity that got no usable value
    with the reason and the command that records the missing input."""

    factor_id: str
    entities: int
    rows: int
    changed: int
    seconds: float
    values: pd.DataFrame
    counts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["rows", "usable"]))
    warnings: list[str] = field(default_factory=list)

    @property
    def usable(self) -> int:
        """Rows with at least one output that is not NaN."""
        return int(self.counts["usable"].sum()) if len(self.counts) else 0

    @property
    def failed(self) -> bool:
        """Nothing usable computed although something was missing (not merely: nothing new to compute)."""
        return self.usable == 0 and bool(self.warnings)

    def check(self) -> FactorRun:
        """``self``, or :class:`NoUsableDataError` when :attr:`failed`."""
        if self.failed:
            raise NoUsableDataError(f"nothing usable computed for {self.factor_id}: {self.warnings[0]}"
                                    + (f" (and {len(self.warnings) - 1} more)" if len(self.warnings) > 1 else ""))
        return self

    def __str__(self) -> str:
        return (f"{self.factor_id}: {self.entities} entit{'y' if self.entities == 1 else 'ies'}, {self.rows} rows "
                f"computed, {self.changed} written, {self.seconds:.2f} s")


def compute_factor(
    factor: Factor,
    *,
    level: Level | str,
    exchange: str | None = None,
    symbols: str | Sequence[str] | None = None,
    entity_ids: str | Sequence[str] | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    incremental: bool = True,
    persist: bool = True,
    store: StoreLike = None,
    on_progress: OnProgress | None = None,
) -> FactorRun:
    """Compute ``factor`` at ``level`` for the named entities and store the results.

    Args:
        factor: a factor instance (``make_factor("macd", {"fast": 8})``).
        level: the bars' level.
        exchange, symbols, entity_ids: the entities (as in ``query_data``); an exchange alone means all of
            its entities that have bars at ``level``.
        start, end: inclusive range of bars to produce values for; default: everything after the stored results.
        incremental: False recomputes the whole range (same values; useful after editing a custom factor).
        persist: False computes without writing.
        on_progress: hears ``(stage, done, total)``: the symbols computed (one at a time for a factor of one
            entity's bars, all at once for a cross-sectional one), then the values written.

    >>> run = compute_factor(make_factor("rsi", {"window": 14}), exchange="binance", symbols=["BTC/USDT"],
    ...                      level="1h")
    >>> run.check() is run, run.factor_id
    (True, 'rsi:1h:window=14')
    """
    started = time.monotonic()
    store = get_store(store)
    level = Level.parse(level)
    start_ms = None if start is None else to_ms(start)
    end_ms = None if end is None else to_ms(end)
    check_range(start_ms, end_ms)
    ids = _entity_ids(store, level, exchange, symbols, entity_ids)
    factor_id = factor.factor_id(level)
    if persist:
        _check_meta(store, factor, factor_id, level)
    last = _last_rows(store, factor_id, ids) if incremental else pd.DataFrame()

    # Per entity: the first bar to produce (out_from) and whether a running sum continues from the stored value.
    out_from: dict[str, int | None] = {}
    continuing: set[str] = set()
    for entity in ids:
        stored = int(last.at[entity, "timestamp"]) if entity in last.index else None
        if stored is not None and (start_ms is None or start_ms > stored):
            out_from[entity] = stored + 1
            continuing.add(entity)
        else:
            out_from[entity] = start_ms
    warmup = factor.warmup(level)
    if factor.cumulative and warmup is not None:
        warmup = max(warmup, 1)  # the stored bar itself is needed to continue the sum
        for entity in ids:
            if entity not in continuing and out_from[entity] is not None:
                warmup = None  # a running sum that does not continue starts at the first bar
    bars = _read_main_bars(store, ids, level, out_from, warmup, end_ms)
    firsts = [value for value in out_from.values() if value is not None]
    output_from = min(firsts) if len(firsts) == len(out_from) else None  # None: some entity reads from its start
    data = FactorInput(store, ids, level, _earliest(bars), end_ms, output_from)
    data.set_main_bars(bars)
    report = on_progress or _unheard
    computing = f"{factor_id} over {len(ids)} symbol(s)"
    report(computing, 0, len(ids))
    data.on_entity = lambda done: report(computing, done, len(ids))
    full = factor.compute(data) if not bars.empty else _empty(factor.outputs)
    report(computing, len(ids), len(ids))  # a cross-sectional factor computes every symbol at once
    full = full.reindex(columns=list(factor.outputs))
    values = _rows_from(full, out_from)
    if factor.cumulative and not values.empty:
        values = _continue_sums(factor, values, full, last, continuing)
    signals = factor.signals(values) if not values.empty else None
    if signals is not None:
        values = values.join(signals[[c for c in SIGNAL_COLUMNS if c in signals]])
    changed = 0
    if persist and not values.empty:
        writing = f"writing {len(values):,} values"
        changed = _write(store, factor, factor_id, level, values,
                         on_rows=lambda done, total: report(writing, done, total))
    counts = _entity_counts(ids, values, factor.outputs)
    stored_ids = set(last.index) if len(last) else set()
    warnings = _warnings(ids, level, bars, counts, stored_ids, data.missing, warmup, start_ms, end_ms)
    run = FactorRun(factor_id, len(ids), len(values), changed, time.monotonic() - started, values, counts,
                    warnings)
    log.info("%s", run)
    return run


def load_factor(
    factor: Factor | str,
    *,
    level: Level | str,
    params: Mapping[str, Any] | None = None,
    exchange: str | None = None,
    symbols: str | Sequence[str] | None = None,
    entity_ids: str | Sequence[str] | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    store: StoreLike = None,
) -> pd.DataFrame:
    """Stored results of a factor, indexed ``(entity_id, timestamp)``, one column per output (plus
    ``filter_result`` / ``score_result`` when the factor produces them).

    >>> load_factor("macd", level="1h", exchange="binance", symbols=["BTC/USDT"])  # doctest: +SKIP
    """
    store = get_store(store)
    instance = make_factor(factor, params) if isinstance(factor, str) else factor
    factor_id = instance.factor_id(level)
    meta = FactorMeta.query_data(filters=[FactorMeta.factor_id == factor_id], index=None, store=store)
    if len(meta) == 0:
        raise InvalidInputError(
            f"no stored results for {factor_id}; compute them first: zvt-crypto factor compute {instance.name} "
            f"--level {Level.parse(level)} ... (or compute_factor in Python)"
        )
    outputs = list(meta["outputs"].iloc[0])
    ids = resolve_entity_ids(FactorValue, exchange, _as_list(symbols), _as_list(entity_ids))
    columns = [*VALUE_COLUMNS[: len(outputs)], *SIGNAL_COLUMNS]
    frame = FactorValue.query_data(entity_ids=ids, exchange=exchange if ids is None else None, columns=columns,
                                   start_timestamp=start, end_timestamp=end,
                                   filters=[FactorValue.factor_id == factor_id], store=store)
    frame = frame.rename(columns=dict(zip(VALUE_COLUMNS, outputs, strict=False)))
    present = [name for name in SIGNAL_COLUMNS if frame[name].notna().any()]
    frame = frame[[*outputs, *present]]
    if "filter_result" in frame:
        frame["filter_result"] = frame["filter_result"].astype("Int8")
    return frame


def export_factor(
    factor: Factor | str,
    *,
    level: Level | str,
    out: str | Path,
    params: Mapping[str, Any] | None = None,
    exchange: str | None = None,
    symbols: str | Sequence[str] | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    store: StoreLike = None,
) -> int:
    """Write the stored values of a factor to ``out`` (CSV or Parquet by extension, through the writer of every
    export, :func:`zvt_crypto.contract.export.write_export`): ``timestamp`` (after ``entity_id`` when there are
    several symbols), then one column per output. Returns the rows written.

    >>> export_factor("macd", level="1h", exchange="binance", symbols="BTC/USDT", out="m.csv")  # doctest: +SKIP
    """
    out = Path(out).expanduser()
    export_format(out)  # an unknown extension fails before the query
    names = _as_list(symbols)
    if not names:
        raise InvalidInputError("exporting factor values needs --symbol (one or more)")
    instance = make_factor(factor, params) if isinstance(factor, str) else factor
    frame = load_factor(instance, level=level, exchange=exchange, symbols=names, start=start, end=end, store=store)
    if len(frame) == 0:
        raise InvalidInputError(nothing_stored(f"values of {instance.factor_id(level)}", ", ".join(names), start, end,
                                               "zvt-crypto factor compute"))
    table = frame.reset_index()
    table["timestamp"] = pd.to_datetime(table["timestamp"], utc=True).dt.as_unit("ms")
    if len(names) == 1:
        table = table.drop(columns="entity_id")
    return write_export(table, out)


# -- steps ---------------------------------------------------------------------------------------------------------
def _as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _entity_ids(store: Store, level: Level, exchange: str | None, symbols: Any, entity_ids: Any) -> list[str]:
    from zvt_crypto.domain import Bar

    ids = resolve_entity_ids(Bar, exchange, _as_list(symbols), _as_list(entity_ids))
    if ids is None:
        if not exchange:
            raise InvalidInputError("name the entities: pass exchange= with symbols=, or entity_ids=")
        found = Bar.query_data(exchange=exchange, level=level, columns=["entity_id"], index=None,
                               order=["entity_id"], store=store)
        ids = list(dict.fromkeys(found["entity_id"].astype(str)))
        if not ids:
            raise InvalidInputError(f"no {level} bars of {exchange} are stored; record or import bars first")
    return ids


def _check_meta(store: Store, factor: Factor, factor_id: str, level: Level) -> None:
    """Results of another version (or other outputs) of the factor are deleted, not mixed with new ones."""
    meta = FactorMeta.query_data(filters=[FactorMeta.factor_id == factor_id], index=None, store=store)
    if len(meta) == 0:
        return
    row = meta.iloc[0]
    if row["version"] != factor.version or list(row["outputs"]) != list(factor.outputs):
        log.warning("%s changed (version %s → %s): recomputing from scratch", factor_id, row["version"],
                    factor.version)
        with store.begin() as connection:
            connection.execute(delete(FactorValue.__table__).where(FactorValue.__table__.c.factor_id == factor_id))
            connection.execute(delete(FactorMeta.__table__).where(FactorMeta.__table__.c.factor_id == factor_id))


def _last_rows(store: Store, factor_id: str, ids: list[str]) -> pd.DataFrame:
    """The newest stored row per entity (timestamp in epoch ms and values), in one query."""
    table = FactorValue.__table__
    newest = (
        select(table.c.entity_id, func.max(table.c.timestamp).label("last"))
        .where(table.c.factor_id == factor_id, in_values(table.c.entity_id, ids, store.dialect))
        .group_by(table.c.entity_id)
        .subquery()
    )
    statement = select(table.c.entity_id, table.c.timestamp, *(table.c[c] for c in VALUE_COLUMNS)).join(
        newest, (table.c.entity_id == newest.c.entity_id) & (table.c.timestamp == newest.c.last)
    ).where(table.c.factor_id == factor_id)
    frame = read_frame(store, statement)
    return frame.set_index("entity_id") if len(frame) else pd.DataFrame()


def _read_main_bars(store: Store, ids: list[str], level: Level, out_from: dict[str, int | None],
                    warmup: int | None, end_ms: int | None) -> pd.DataFrame:
    """Each entity's bars from ``warmup`` bars before its ``out_from`` (all of them when either is None)."""
    from zvt_crypto.domain import Bar

    starts = [value for value in out_from.values() if value is not None]
    if warmup is None or len(starts) < len(out_from):
        read_from = None
    else:
        # a time margin for the warm-up (bars may be missing inside it), then trimmed to exact rows below
        read_from = min(starts) - 2 * warmup * level.ms - _DAY_MS
    bars = Bar.query_data(entity_ids=ids, level=level, columns=list(OHLCV), start_timestamp=read_from,
                          end_timestamp=end_ms, store=store)
    if warmup is None or bars.empty:
        return bars
    kept, short = _trim_warmup(bars, out_from, warmup)
    if short and read_from is not None:  # not enough history inside the margin: read those from the beginning
        again = Bar.query_data(entity_ids=short, level=level, columns=list(OHLCV), end_timestamp=end_ms, store=store)
        again, _ = _trim_warmup(again, out_from, warmup)
        kept = pd.concat([kept[~kept.index.get_level_values(0).isin(short)], again]).sort_index()
    return kept


def _trim_warmup(bars: pd.DataFrame, out_from: dict[str, int | None], warmup: int) -> tuple[pd.DataFrame, list[str]]:
    entity = bars.index.get_level_values("entity_id")
    times = series_to_ms(bars.index.get_level_values("timestamp"))
    first = pd.Series(out_from, dtype="float64").reindex(pd.Index(entity)).fillna(-np.inf).to_numpy()
    before = times < first
    from_end = pd.Series(before.astype(np.int64)[::-1], index=entity[::-1]).groupby(level=0, sort=False).cumsum()
    rank = from_end.to_numpy()[::-1]  # 1 for the last bar before out_from, 2 for the one before it …
    keep = ~before | (rank <= warmup)
    counts = pd.Series(before, index=entity).groupby(level=0, sort=False, observed=True).sum()
    short = [str(e) for e, n in counts.items() if out_from.get(str(e)) is not None and n < warmup]
    return bars[keep], short


def _earliest(bars: pd.DataFrame) -> int | None:
    if bars.empty:
        return None
    return int(series_to_ms(bars.index.get_level_values("timestamp")).min())


def _rows_from(values: pd.DataFrame, out_from: dict[str, int | None]) -> pd.DataFrame:
    """Only the rows to produce: at or after each entity's ``out_from`` (warm-up rows are dropped)."""
    if values.empty:
        return values
    entity = values.index.get_level_values("entity_id")
    first = pd.Series(out_from, dtype="float64").reindex(pd.Index(entity)).fillna(-np.inf).to_numpy()
    return values[series_to_ms(values.index.get_level_values("timestamp")) >= first]


def _continue_sums(factor: Factor, values: pd.DataFrame, full: pd.DataFrame, last: pd.DataFrame,
                   continuing: set[str]) -> pd.DataFrame:
    """Running sums restart at the warm-up window: shift them so they continue from the stored value."""
    values = values.copy()
    positions = {name: VALUE_COLUMNS[factor.outputs.index(name)] for name in factor.cumulative}
    for entity in continuing:
        stored_ms = int(last.at[entity, "timestamp"])
        key = (entity, pd.Timestamp(stored_ms, unit="ms", tz="UTC"))
        if key not in full.index:
            continue
        rows = values.index.get_level_values("entity_id") == entity
        for name, column in positions.items():
            offset = last.at[entity, column] - full.at[key, name]
            if pd.notna(offset):
                values.loc[rows, name] = values.loc[rows, name] + offset
    return values


def _unheard(stage: str, done: int, total: int) -> None:
    """No one is watching the progress."""


def _write(store: Store, factor: Factor, factor_id: str, level: Level, values: pd.DataFrame,
           on_rows: Callable[[int, int], None] | None = None) -> int:
    frame = values.rename(columns=dict(zip(factor.outputs, VALUE_COLUMNS, strict=False)))
    frame = frame.replace([np.inf, -np.inf], np.nan)
    frame.insert(0, "factor_id", factor_id)
    result = store.write(FactorValue, frame, on_rows=on_rows)
    meta = pd.DataFrame([{
        "factor_id": factor_id, "name": factor.name, "level": str(level), "params": factor.p,
        "outputs": list(factor.outputs), "version": factor.version,
        "updated_timestamp": int(time.time() * 1000),
    }])
    store.write(FactorMeta, meta)
    return result.changed


def _entity_counts(ids: list[str], values: pd.DataFrame, outputs: Sequence[str]) -> pd.DataFrame:
    """Per entity: rows computed and rows with any output that is not NaN."""
    entity = values.index.get_level_values("entity_id") if len(values) else pd.Index([], dtype=object)
    usable = values[list(outputs)].notna().any(axis=1).to_numpy() if len(values) else np.zeros(0, dtype=bool)
    frame = pd.DataFrame({"rows": 1, "usable": usable.astype(np.int64)}, index=pd.Index(entity, name="entity_id"))
    return frame.groupby(level=0, observed=True).sum().reindex(ids, fill_value=0)


def _warnings(ids: list[str], level: Level, bars: pd.DataFrame, counts: pd.DataFrame, stored: set[str],
              missing: list[tuple[str, str | None, str]], warmup: int | None, start_ms: int | None,
              end_ms: int | None) -> list[str]:
    """One line per entity that got no usable value: no bars (and no earlier results), or only NaN — with the
    input that was missing, or the warm-up it lacked."""
    read = bars.index.get_level_values("entity_id").value_counts() if len(bars) else pd.Series(dtype=np.int64)
    span = ""
    if start_ms is not None or end_ms is not None:
        span = f" between {iso(start_ms) or 'the beginning'} and {iso(end_ms) or 'the end'}"
    out = []
    for entity in ids:
        exchange, symbol = _exchange_symbol(entity)
        label = f"{symbol} on {exchange}"
        rows, usable = (int(x) for x in counts.loc[entity, ["rows", "usable"]])
        if entity not in read.index and entity not in stored:
            out.append(f"{label}: no {level} bars stored{span}; record them: "
                       f"{_record_command('Bar', str(level), entity)}")
        elif rows and not usable:
            causes = [item for item in missing if _exchange_symbol(item[2])[1] == symbol] or missing[:3]
            if causes:
                listed = "; ".join(f"{_describe_input(*item)}" for item in causes)
                reason = f"; {'an input is' if len(causes) == 1 else 'inputs are'} missing: {listed}"
            elif warmup is not None and int(read.get(entity, 0)) <= warmup:
                reason = f"; {int(read.get(entity, 0))} bars stored, the factor needs {warmup} of warm-up"
            else:
                reason = ""
            out.append(f"{label}: all {rows} values are NaN{reason}")
    return out


def _exchange_symbol(entity: str) -> tuple[str, str]:
    """``(exchange, ccxt symbol)`` of an entity id, for messages."""
    return parse_entity_id(entity)[1], symbol_of(entity)


def _record_command(schema: str, level: str | None, entity: str) -> str | None:
    """The ``zvt-crypto record`` command that stores ``schema`` rows of ``entity`` (None for other inputs)."""
    from zvt_crypto.domain.kinds import KINDS

    kind = next((name for name, spec in KINDS.items() if spec.schema == schema), None)
    if kind is None:
        return None
    exchange, symbol = _exchange_symbol(entity)
    leveled = f" --level {level}" if KINDS[kind].leveled and level else ""
    return f"zvt-crypto record {kind} --exchange {exchange} --symbol {symbol}{leveled}"


def _describe_input(schema: str, level: str | None, entity: str) -> str:
    from zvt_crypto.domain.kinds import KINDS

    exchange, symbol = _exchange_symbol(entity)
    kind = next((name for name, spec in KINDS.items() if spec.schema == schema), schema)
    command = _record_command(schema, level, entity)
    what = f"{level + ' ' if level else ''}{kind.replace('-', ' ')} of {symbol} on {exchange}"
    return f"{what} ({command})" if command else what


def _empty(outputs: Sequence[str]) -> pd.DataFrame:
    index = pd.MultiIndex.from_arrays([pd.Index([], dtype=object), pd.DatetimeIndex([], tz="UTC")],
                                      names=["entity_id", "timestamp"])
    return pd.DataFrame({name: pd.Series(dtype="float64") for name in outputs}, index=index)

