"""What the store holds of factors, read by ``factor_id`` alone: the stored factors with their coverage, their
values for chosen entities and a research tear sheet on a chosen universe and period.

Reading by id (the meta row names the outputs) rather than through :func:`~zvt_crypto.factors.engine.load_factor`
means a factor whose plugin is not installed here can still be looked at. The dashboard and the REST API call
these functions; they hold no SQL of their own.

>>> stored_factors(store)                                                                 # doctest: +SKIP
>>> factor_values("rsi:1h:window=14", entity_ids=["pair_binance_BTC-USDT"], store=store)  # doctest: +SKIP
>>> factor_tear_sheet("rsi:1h:window=14", exchange="binance", store=store).ic_summary      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from zvt_crypto.contract.errors import InvalidInputError, NoUsableDataError
from zvt_crypto.contract.ids import symbol_of
from zvt_crypto.contract.reader import read_frame
from zvt_crypto.contract.store import StoreLike, get_store
from zvt_crypto.contract.timeutil import TimeLike
from zvt_crypto.domain.factors import VALUE_COLUMNS, FactorMeta, FactorValue

__all__ = ["compute_command", "factor_entities", "factor_meta", "factor_tear_sheet", "factor_values",
           "parse_factor_id", "stored_factors"]

CATALOG_COLUMNS = ["factor_id", "name", "level", "params", "outputs", "version", "updated", "entities", "rows",
                   "first", "last"]


def stored_factors(store: StoreLike = None) -> pd.DataFrame:
    """One row per stored ``factor_id``: name, level, params, outputs, version, last update and the coverage of its
    values (entities, rows, first and last bar, UTC), sorted by id. Empty (with those columns) when none is stored."""
    store = get_store(store)
    meta = FactorMeta.query_data(index=None, store=store)
    if len(meta) == 0:
        return pd.DataFrame(columns=CATALOG_COLUMNS)
    table = FactorValue.__table__
    counts = read_frame(store, select(
        table.c.factor_id, func.count(func.distinct(table.c.entity_id)).label("entities"),
        func.count().label("rows"), func.min(table.c.timestamp).label("first"),
        func.max(table.c.timestamp).label("last"),
    ).group_by(table.c.factor_id), time_columns=("first", "last"))
    frame = meta.rename(columns={"updated_timestamp": "updated"}).merge(counts, on="factor_id", how="left")
    frame[["entities", "rows"]] = frame[["entities", "rows"]].fillna(0).astype(int)
    return frame[CATALOG_COLUMNS].sort_values("factor_id", ignore_index=True)


def factor_meta(factor_id: str, store: StoreLike = None) -> dict[str, Any] | None:
    """The meta row of ``factor_id`` (name, level, params, outputs, version), or None when it was never computed."""
    rows = FactorMeta.query_data(filters=[FactorMeta.factor_id == factor_id], index=None, store=get_store(store),
                                 return_type="dicts")
    return dict(rows[0]) if rows else None


def factor_entities(factor_id: str, store: StoreLike = None) -> list[str]:
    """The entity ids that have stored values of ``factor_id``, sorted."""
    table = FactorValue.__table__
    frame = read_frame(get_store(store), select(table.c.entity_id).where(table.c.factor_id == factor_id)
                       .group_by(table.c.entity_id).order_by(table.c.entity_id))
    return [str(entity) for entity in frame["entity_id"]]


def _require_meta(factor_id: str, store: StoreLike) -> dict[str, Any]:
    meta = factor_meta(factor_id, store)
    if meta is None:
        raise InvalidInputError(f"no stored results for {factor_id}; compute them first: "
                                f"{compute_command(factor_id)}")
    return meta


def compute_command(factor_id: str, exchange: str = "EXCHANGE", symbols: Sequence[str] = ()) -> str:
    """The ``zvt-crypto factor compute`` command that stores ``factor_id`` (``name:level[:k=v,...]``)."""
    name, level, params = parse_factor_id(factor_id)
    parts = ["zvt-crypto factor compute", name, f"--exchange {exchange}", *(f"--symbol {s}" for s in symbols),
             f"--level {level}", *(f"--param {key}={value}" for key, value in params.items())]
    return " ".join(parts)


def parse_factor_id(factor_id: str) -> tuple[str, str, dict[str, str]]:
    """``("macd", "1h", {"fast": "12", ...})`` from ``macd:1h:fast=12,...`` (the inverse of ``Factor.factor_id``)."""
    name, _, rest = factor_id.partition(":")
    level, _, text = rest.partition(":")
    if not name or not level:
        raise InvalidInputError(f"not a factor id: {factor_id!r} (expected NAME:LEVEL[:PARAM=VALUE,...], "
                                f"e.g. rsi:1h:window=14)")
    params = dict(item.split("=", 1) for item in text.split(",") if "=" in item) if text else {}
    return name, level, params


def factor_values(factor_id: str, *, entity_ids: Sequence[str] | None = None, exchange: str | None = None,
                  start: TimeLike | None = None, end: TimeLike | None = None, store: StoreLike = None
                  ) -> pd.DataFrame:
    """The stored values of ``factor_id`` indexed ``(entity_id, timestamp)``, one column per output (named as the
    factor names them). An error that says how to compute it when it was never computed."""
    store = get_store(store)
    outputs = list(_require_meta(factor_id, store)["outputs"])
    frame = FactorValue.query_data(entity_ids=list(entity_ids) if entity_ids is not None else None,
                                   exchange=exchange if entity_ids is None else None,
                                   columns=list(VALUE_COLUMNS[: len(outputs)]), start_timestamp=start,
                                   end_timestamp=end, filters=[FactorValue.factor_id == factor_id], store=store)
    return frame.rename(columns=dict(zip(VALUE_COLUMNS, outputs, strict=False)))[outputs]


def factor_tear_sheet(factor_id: str, *, output: str | None = None, entity_ids: Sequence[str] | None = None,
                      exchange: str | None = None, start: TimeLike | None = None, end: TimeLike | None = None,
                      periods: Iterable[int] = (1, 5, 10), q: int = 5, store: StoreLike = None) -> Any:
    """:func:`~zvt_crypto.factors.research.tear_sheet` of one output (default: the first) of ``factor_id`` against
    the closes of its bars, on ``entity_ids`` (or every entity of ``exchange``, or all) over ``[start, end]``.

    A tear sheet is cross-sectional: fewer than two entities with values at a common bar is a
    :class:`NoUsableDataError` that says so (a single series has no rank correlation)."""
    from zvt_crypto.domain import Bar
    from zvt_crypto.factors.research import tear_sheet

    store = get_store(store)
    meta = _require_meta(factor_id, store)
    outputs = list(meta["outputs"])
    output = output or outputs[0]
    if output not in outputs:
        raise InvalidInputError(f"{factor_id} has no output {output!r}; its outputs: {', '.join(outputs)}")
    values = factor_values(factor_id, entity_ids=entity_ids, exchange=exchange, start=start, end=end, store=store)
    factor = values[output].dropna()
    ids = sorted(factor.index.get_level_values("entity_id").unique())
    if len(ids) < 2 or factor.groupby(level="timestamp").size().max() < 2:
        found = ", ".join(_symbol(entity) for entity in ids) or "none"
        raise NoUsableDataError(f"a tear sheet ranks symbols against each other at every bar: it needs two or more "
                                f"symbols with values of {factor_id} at the same bars (found: {found})")
    close = Bar.query_data(entity_ids=ids, level=meta["level"], columns=["close"], start_timestamp=start,
                           store=store)["close"]
    q = min(q, len(ids))  # never more buckets than symbols
    return tear_sheet(factor, close, periods=periods, q=q, max_lag=max(periods))


def _symbol(entity: str) -> str:
    try:
        return symbol_of(entity)
    except InvalidInputError:
        return entity
