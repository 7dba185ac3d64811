"""Read endpoints of the API (``GET /api/v1/…``): each a thin call of the library function the dashboard and the
CLI use (one code path: the three cannot drift apart).

Times go in as ISO-8601 (UTC unless an offset is given) or epoch milliseconds and come out as ISO-8601 UTC. Tables
are JSON arrays by default, ``format=csv|parquet|arrow`` on request, streamed (:mod:`zvt_crypto.ui.api_tables`).
Series are paged by a time cursor: an answer cut at ``limit`` carries ``X-Next-Cursor`` (and a ``Link`` to the
next page); pass it back as ``cursor``."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from zvt_crypto.contract.errors import InvalidInputError, ZvtCryptoError
from zvt_crypto.contract.timeutil import iso, iso_ms, to_ms
from zvt_crypto.ui.api_auth import require_scope
from zvt_crypto.ui.api_tables import TableFormat, table_response
from zvt_crypto.ui.context import UiContext

JSON_LIMIT = 1000  # rows of a JSON page when no limit is given (other formats: the whole range)
MAX_JSON_LIMIT = 100_000  # a JSON page is built as text per chunk, but a client should not ask for 1M rows of it
MAX_LIMIT = 10_000_000

Reader = Annotated[Any, Depends(require_scope("read"))]
Format = Annotated[TableFormat, Query(alias="format",
                                      description="json (default), csv, parquet or arrow (an Arrow IPC stream)")]
TimeText = Annotated[str | None, Query(description="ISO-8601 (UTC unless an offset is given) or epoch ms")]


class Order(StrEnum):
    asc = "asc"
    desc = "desc"


def _context(request: Request) -> UiContext:
    return request.app.state.ui


def parse_time(value: str | None, name: str) -> int | None:
    """Epoch ms of a query parameter (ISO-8601 or epoch ms), or a 422 saying how to write it."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        return int(text) if text.lstrip("-").isdigit() else to_ms(text)
    except (InvalidInputError, OverflowError, ValueError):
        raise HTTPException(422, f"{name}={value!r} is not a time: use ISO-8601 UTC such as 2024-01-31T00:00:00Z "
                                 "or epoch milliseconds") from None


@contextmanager
def answers(*, missing: bool = False) -> Iterator[None]:
    """A library error as a one-line HTTP answer: 404 when ``missing`` (an unknown id or name), else 422."""
    try:
        yield
    except ZvtCryptoError as exc:
        raise HTTPException(404 if missing else 422, str(exc).splitlines()[0]) from None


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: times as ISO-8601 UTC text, NaN and NaT as null, numpy scalars as Python."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return [plain(item) for item in value]
    if isinstance(value, (pd.Timestamp, datetime)):
        return None if pd.isna(value) else iso(value)
    if isinstance(value, pd.Timedelta):
        return value.total_seconds()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows (its index as columns) as JSON-ready dicts."""
    flat = frame.reset_index() if not isinstance(frame.index, pd.RangeIndex) else frame
    return plain(flat.to_dict(orient="records"))


def _page(request: Request, frame: pd.DataFrame, limit: int | None, order: Order, fmt: TableFormat, name: str
          ) -> Response:
    """The first ``limit`` rows of ``frame`` (read with one row more) and, when cut, the cursor of the next page."""
    headers: dict[str, str] = {}
    if limit is not None and len(frame) > limit:
        frame = frame.iloc[:limit]
        stamp = to_ms(frame["timestamp"].iloc[-1])
        cursor = iso_ms(stamp + 1 if order is Order.asc else stamp - 1)  # ms: the next page starts past it
        query = {**request.query_params, "cursor": cursor}
        headers = {"X-Next-Cursor": cursor, "Link": f'<{request.url.path}?{urlencode(query)}>; rel="next"'}
    return table_response(frame.reset_index(drop=True), fmt, name=name, headers=headers)


def _range(start: str | None, end: str | None, cursor: str | None, order: Order) -> tuple[int | None, int | None]:
    """``start``/``end`` (inclusive) narrowed by the cursor of a previous page."""
    start_ms, end_ms = parse_time(start, "start"), parse_time(end, "end")
    cursor_ms = parse_time(cursor, "cursor")
    if cursor_ms is not None:
        if order is Order.asc:
            start_ms = cursor_ms if start_ms is None else max(start_ms, cursor_ms)
        else:
            end_ms = cursor_ms if end_ms is None else min(end_ms, cursor_ms)
    if start_ms is not None and end_ms is not None and start_ms > end_ms and cursor_ms is None:
        raise HTTPException(422, f"start {iso(start_ms)} is after end {iso(end_ms)}: swap them")
    return start_ms, end_ms


def _limit(limit: int | None, fmt: TableFormat) -> int | None:
    if fmt is TableFormat.json:
        if limit is not None and limit > MAX_JSON_LIMIT:
            raise HTTPException(422, f"limit={limit} is above {MAX_JSON_LIMIT} for JSON: page with the cursor, or "
                                     "ask format=csv|parquet|arrow for more at once")
        return limit or JSON_LIMIT
    return limit


def _entity(exchange: str, symbol: str, kind: str | None) -> str:
    from zvt_crypto.contract.ids import entity_id

    if kind is not None and kind not in ("pair", "perp"):
        raise HTTPException(422, f"kind={kind!r}: use pair (spot) or perp (perpetual), or leave it out")
    with answers():
        return entity_id(exchange, symbol, kind)  # type: ignore[arg-type]


Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description=f"rows per page (JSON: default {JSON_LIMIT})")]
Kind = Annotated[str | None, Query(description="pair or perp (default: from the symbol)")]


def read_router() -> APIRouter:
    router = APIRouter(tags=["read"])
    _series_routes(router)
    _research_routes(router)
    _operations_routes(router)
    return router


def _series_routes(router: APIRouter) -> None:
    @router.get("/entities", summary="Assets, pairs or perps (a point-in-time universe with as_of)")
    def entities(request: Request, _caller: Reader, fmt: Format = TableFormat.json,
                 type: Annotated[str, Query(description="asset, pair or perp")] = "pair",
                 exchange: str | None = None, as_of: TimeText = None) -> Response:
        from zvt_crypto.domain.universe import get_entities

        when = parse_time(as_of, "as_of")
        with answers():
            frame = get_entities(type, exchange=exchange, as_of=when, store=_context(request).store)
        return table_response(frame.reset_index(), fmt, name=f"entities-{type}")

    @router.get("/bars", summary="OHLCV bars of one symbol and level (the columns of zvt-crypto export bars)")
    def bars(request: Request, _caller: Reader, exchange: str, symbol: str, level: str,
             start: TimeText = None, end: TimeText = None, limit: Limit = None, order: Order = Order.asc,
             cursor: TimeText = None, kind: Kind = None, fmt: Format = TableFormat.json) -> Response:
        from zvt_crypto.contract.levels import Level
        from zvt_crypto.dataio.exporters import bars_for_export
        from zvt_crypto.domain import Bar

        with answers():
            parsed = Level.parse(level)
        eid = _entity(exchange, symbol, kind)
        store = _context(request).store
        _require_series(store, eid, parsed)
        start_ms, end_ms = _range(start, end, cursor, order)
        rows = _limit(limit, fmt)
        with answers():
            frame = Bar.query_data(entity_ids=[eid], level=parsed, start_timestamp=start_ms, end_timestamp=end_ms,
                                   order="timestamp" if order is Order.asc else "-timestamp",
                                   limit=None if rows is None else rows + 1, store=store)
        table = bars_for_export(frame) if len(frame) else _no_bars()
        return _page(request, table, rows, order, fmt, f"{eid}-{parsed}")

    for path, schema_name, leveled, summary in (
            ("/trades", "Trade", False, "Public trades of one symbol"),
            ("/funding", "FundingRate", False, "Funding rates of one perp"),
            ("/open-interest", "OpenInterest", True, "Open interest of one perp at a level"),
            ("/orderbook", "OrderBookSnapshot", False, "Order-book snapshots of one symbol")):
        _series_route(router, path, schema_name, leveled, summary)


def _no_bars() -> pd.DataFrame:
    from zvt_crypto.dataio.exporters import EXPORT_COLUMNS

    return pd.DataFrame({name: pd.Series(dtype="datetime64[ms, UTC]" if name == "timestamp" else "float64")
                         for name in EXPORT_COLUMNS})


def _require_series(store: Any, eid: str, level: Any) -> None:
    """A 404 naming what is stored when ``eid`` has no bars at ``level`` (not: an empty range of a stored one)."""
    from zvt_crypto.domain.chart import bar_series, stored_extent

    if stored_extent(store, eid, level) is None:
        stored = [f"{entity} {stored_level}" for entity, stored_level in bar_series(store)]
        shown = ", ".join(stored[:10]) + (f" … ({len(stored)} in all)" if len(stored) > 10 else "") or "none yet"
        raise HTTPException(404, f"no {level} bars of {eid}; stored: {shown} (GET /api/v1/coverage)")


def _series_route(router: APIRouter, path: str, schema_name: str, leveled: bool, summary: str) -> None:
    def series(request: Request, _caller: Reader, exchange: str, symbol: str, start: TimeText = None,
               end: TimeText = None, limit: Limit = None, order: Order = Order.asc, cursor: TimeText = None,
               kind: Kind = None, level: str | None = None, fmt: Format = TableFormat.json) -> Response:
        from zvt_crypto.contract.schema import schema_registry

        schema = schema_registry()[schema_name]
        if leveled and level is None:
            raise HTTPException(422, f"level is required for {path} (e.g. level=1h)")
        eid = _entity(exchange, symbol, kind)
        start_ms, end_ms = _range(start, end, cursor, order)
        rows = _limit(limit, fmt)
        with answers():
            frame = schema.query_data(entity_ids=[eid], level=level if leveled else None, start_timestamp=start_ms,
                                      end_timestamp=end_ms, order="timestamp" if order is Order.asc else "-timestamp",
                                      limit=None if rows is None else rows + 1, index=None,
                                      store=_context(request).store)
        return _page(request, frame, rows, order, fmt, f"{path.strip('/')}-{eid}")

    router.add_api_route(path, series, methods=["GET"], summary=summary, response_class=Response)


def _research_routes(router: APIRouter) -> None:
    @router.get("/coverage", summary="Stored ranges per entity and level, with gaps (known ones marked)")
    def coverage_route(request: Request, _caller: Reader, exchange: str | None = None,
                       symbol: Annotated[list[str] | None, Query()] = None, level: str | None = None,
                       start: TimeText = None, end: TimeText = None) -> JSONResponse:
        from zvt_crypto.domain.coverage import coverage

        if symbol and not exchange:
            raise HTTPException(422, "symbol needs exchange: add exchange=…")
        start_ms, end_ms = parse_time(start, "start"), parse_time(end, "end")
        with answers():
            rows = coverage(_context(request).store, exchange=exchange, symbols=symbol, level=level, start=start_ms,
                            end=end_ms)
        return JSONResponse([row.as_dict() for row in rows])

    @router.get("/factors", summary="Stored factors: id, level, params, outputs, coverage")
    def factors(request: Request, _caller: Reader, fmt: Format = TableFormat.json) -> Response:
        from zvt_crypto.factors.catalog import stored_factors

        return table_response(stored_factors(_context(request).store), fmt, name="factors")

    @router.get("/factors/{factor_id}/values", summary="Stored values of one factor")
    def factor_values_route(request: Request, _caller: Reader, factor_id: str, exchange: str | None = None,
                            symbol: Annotated[list[str] | None, Query()] = None, start: TimeText = None,
                            end: TimeText = None, fmt: Format = TableFormat.json) -> Response:
        from zvt_crypto.factors.catalog import factor_meta, factor_values, stored_factors

        store = _context(request).store
        with answers():
            meta = factor_meta(factor_id, store)
        if meta is None:
            known = ", ".join(stored_factors(store)["factor_id"].head(10)) or "none yet"
            raise HTTPException(404, f"no stored factor {factor_id!r}; stored: {known} (GET /api/v1/factors)")
        if symbol and not exchange:
            raise HTTPException(422, "symbol needs exchange: add exchange=…")
        ids = [_entity(exchange, one, None) for one in symbol] if symbol and exchange else None
        start_ms, end_ms = parse_time(start, "start"), parse_time(end, "end")
        with answers():
            frame = factor_values(factor_id, entity_ids=ids, exchange=exchange, start=start_ms, end=end_ms,
                                  store=store)
        return table_response(frame.reset_index(), fmt, name=factor_id.replace(":", "_"))

    @router.get("/runs", summary="Stored backtest runs, newest first, with their summary metrics")
    def runs(request: Request, _caller: Reader, strategy: str | None = None,
             limit: Annotated[int, Query(ge=1, le=100_000)] = 50, fmt: Format = TableFormat.json) -> Response:
        from zvt_crypto.trader.storage import list_runs

        return table_response(list_runs(_context(request).store, strategy=strategy, limit=limit), fmt, name="runs")

    @router.get("/runs/{run_id}", summary="One stored run: settings, metrics, trades and equity")
    def run(request: Request, _caller: Reader, run_id: str) -> JSONResponse:
        from zvt_crypto.trader.storage import load_run

        with answers(missing=True):
            result = load_run(run_id, _context(request).store)
        return JSONResponse(plain({
            "run_id": run_id, "strategy": result.strategy, "params": result.params, "exchange": result.exchange,
            "symbols": result.symbols, "level": result.level, "engine": result.engine, "version": result.version,
            "settings": result.settings, "metrics": result.metrics, "trades": records(result.trades),
            "open_trades": records(result.open_trades), "equity": records(result.equity)}))


def _operations_routes(router: APIRouter) -> None:
    @router.get("/paper", summary="Paper accounts: strategy, last bar, lag, equity, return, positions")
    def paper(request: Request, _caller: Reader, fmt: Format = TableFormat.json) -> Response:
        from zvt_crypto.trader.paper import account_status

        return table_response(account_status(_context(request).store), fmt, name="paper")

    @router.get("/paper/{name}", summary="One paper account: status, positions, open orders, trades, equity")
    def paper_account(request: Request, _caller: Reader, name: str) -> JSONResponse:
        from zvt_crypto.trader.paper import account_equity, account_orders, account_status, account_trades
        from zvt_crypto.trader.paper_book import account_open_orders, account_positions

        store = _context(request).store
        with answers(missing=True):
            status = account_status(store, name)
        return JSONResponse(plain({
            "status": records(status)[0], "positions": records(account_positions(name, store)),
            "open_orders": records(account_open_orders(name, store)), "trades": records(account_trades(name, store)),
            "orders": records(account_orders(name, store)), "equity": records(account_equity(name, store))}))

    @router.get("/jobs", summary="The scheduler: daemon and health per job (as schedule status --format json)")
    def jobs(request: Request, _caller: Reader) -> JSONResponse:
        from zvt_crypto.schedule.status import jobs_report

        context = _context(request)
        report = jobs_report(context.store, context.config, history_limit=0)
        return JSONResponse(plain({"daemon": report.daemon, "jobs": [job.as_dict() for job in report.jobs],
                                   "config_problem": report.config_problem}))

    @router.get("/jobs/{name}/history", summary="The latest runs of one job, newest first")
    def job_history(request: Request, _caller: Reader, name: str,
                    limit: Annotated[int, Query(ge=1, le=10_000)] = 20) -> JSONResponse:
        from zvt_crypto.schedule.status import jobs_report

        context = _context(request)
        report = jobs_report(context.store, context.config, history_limit=limit, job=name)
        configured = [job.job for job in report.jobs]
        if name not in configured and not report.runs:
            shown = ", ".join(configured) or "none configured"
            raise HTTPException(404, f"no job {name!r}; jobs: {shown} (GET /api/v1/jobs)")
        return JSONResponse(plain(report.runs))
