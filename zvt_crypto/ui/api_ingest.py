"""Ingestion endpoints of the API (``POST /api/v1/bars|trades|funding`` and ``POST /api/v1/entities``), each
needing the ``write`` scope.

The body is a JSON array, CSV, Parquet or an Arrow IPC stream/file, as its ``Content-Type`` says; ``exchange``,
``symbol`` (and ``level`` for bars) are query parameters. Bars go through the importer ``zvt-crypto import`` uses
(:func:`zvt_crypto.dataio.importers.import_bar_frame`: the same column names, time parsing and checks); trades and
funding rates through the store's write path, which validates them. A request is written whole or not at all, and
the same body twice changes nothing. An instrument the store does not know is created only with ``create=true``.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from zvt_crypto.contract.errors import ZvtCryptoError
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.validation import RejectedRowsError
from zvt_crypto.ui.api_auth import require_scope
from zvt_crypto.ui.api_tables import as_text_times

Writer = Annotated[Any, Depends(require_scope("write"))]
MAX_SHOWN_ROWS = 10  # offending rows in a 422

#: Content-Type (without parameters) → body format
CONTENT_TYPES = {
    "application/json": "json",
    "text/csv": "csv", "application/csv": "csv", "text/plain": "csv",
    "application/vnd.apache.parquet": "parquet", "application/x-parquet": "parquet", "application/parquet": "parquet",
    "application/vnd.apache.arrow.stream": "arrow", "application/vnd.apache.arrow.file": "arrow",
    "application/x-arrow": "arrow", "application/arrow": "arrow",
}
_BODY_DOC = {"requestBody": {"required": True, "description": "rows as a JSON array, CSV, Parquet or Arrow IPC",
                             "content": {media: {"schema": {}} for media in
                                         ("application/json", "text/csv", "application/vnd.apache.parquet",
                                          "application/vnd.apache.arrow.stream")}}}

Exchange = Annotated[str, Query(description="ccxt exchange id, e.g. binance")]
Symbol = Annotated[str, Query(description="ccxt unified symbol, e.g. BTC/USDT or BTC/USDT:USDT")]
Create = Annotated[bool, Query(description="create the instrument when the store does not know it")]
OnConflictParam = Annotated[str, Query(pattern="^(update|skip|error)$",
                                       description="a stored row with other values: replace it (update), keep it "
                                                   "(skip) or refuse the whole request (error)")]


def body_format(request: Request) -> str:
    """The format the ``Content-Type`` names, or a 415 listing the accepted ones."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in CONTENT_TYPES:
        raise HTTPException(415, f"Content-Type {media or '(none)'!r} is not a table format: send application/json "
                                 "(an array), text/csv, application/vnd.apache.parquet or "
                                 "application/vnd.apache.arrow.stream")
    return CONTENT_TYPES[media]


def _arrow_frame(body: bytes) -> pd.DataFrame:
    import pyarrow as pa

    reader = pa.ipc.open_file(body) if body[:6] == b"ARROW1" else pa.ipc.open_stream(body)
    return reader.read_all().to_pandas()


def _json_frame(body: bytes) -> pd.DataFrame:
    """A JSON array of objects (or, for bars, of ``[timestamp, open, high, low, close, volume]`` arrays)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"the body is not JSON ({exc}); send an array of row objects") from None
    if not isinstance(data, list) or not all(isinstance(row, (dict, list)) for row in data):
        raise HTTPException(422, "the JSON body must be an array of row objects (or of [timestamp, open, high, low, "
                                 "close, volume] arrays for bars)")
    if data and all(isinstance(row, list) for row in data):
        return pd.DataFrame(data)
    if not all(isinstance(row, dict) for row in data):
        raise HTTPException(422, "the JSON array mixes objects and arrays: send one kind of row")
    return pd.DataFrame.from_records(data)


@contextmanager
def _body_file(body: bytes, suffix: str) -> Iterator[Path]:
    """The body as a file, for the importer's readers that take a path (its CSV sniffing and freqtrade JSON)."""
    with tempfile.TemporaryDirectory(prefix="zvt-ingest-") as folder:
        path = Path(folder) / f"body{suffix}"
        path.write_bytes(body)
        yield path


def table_of(body: bytes, fmt: str) -> pd.DataFrame:
    """The rows of a body in ``fmt`` as a frame with the body's own columns."""
    import pyarrow as pa

    if not body:
        raise HTTPException(422, "the body is empty: send the rows to store")
    try:
        if fmt == "json":
            return _json_frame(body)
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(body))
        if fmt == "arrow":
            return _arrow_frame(body)
        import pyarrow.csv as pa_csv

        return pa_csv.read_csv(io.BytesIO(body)).to_pandas()
    except HTTPException:
        raise
    except (pa.ArrowException, ValueError, TypeError, OSError, KeyError) as exc:  # not what Content-Type says
        raise HTTPException(400, f"the body cannot be read as {fmt}: {type(exc).__name__}: "
                                 f"{str(exc).strip().splitlines()[0] if str(exc).strip() else 'no details'}") from None


def bars_table(body: bytes, fmt: str) -> pd.DataFrame:
    """A bars body as a frame: CSV through the importer's own file reader (headerless CSV, Binance klines, any
    delimiter), JSON arrays of ``[timestamp, open, high, low, close, volume]`` as freqtrade writes them."""
    from zvt_crypto.dataio.importers import CCXT_OHLCV_COLUMNS, read_bars_file

    if fmt != "csv" or not body:
        frame = table_of(body, fmt)
        if fmt == "json" and isinstance(frame.columns, pd.RangeIndex):  # arrays, not objects
            if frame.shape[1] < len(CCXT_OHLCV_COLUMNS):
                raise HTTPException(422, f"bar arrays have {frame.shape[1]} values; send "
                                         "[timestamp_ms, open, high, low, close, volume]")
            frame = frame.iloc[:, :len(CCXT_OHLCV_COLUMNS)].set_axis(list(CCXT_OHLCV_COLUMNS), axis=1)
        return frame
    with _body_file(body, ".csv") as path:
        try:
            return read_bars_file(path, "csv")
        except ZvtCryptoError as exc:  # the message names the temporary file: name the body instead
            raise type(exc)(str(exc).replace(str(path), "the body")) from None


def _answer_error(exc: ZvtCryptoError) -> HTTPException | JSONResponse:
    lines = str(exc).splitlines()
    if isinstance(exc, RejectedRowsError):
        first = as_text_times(exc.first.head(MAX_SHOWN_ROWS).reset_index(drop=True))
        rows = json.loads(first.to_json(orient="records", double_precision=15))
        return JSONResponse({"detail": lines[0], "rejected": exc.rejected, "first": rows}, status_code=422)
    return HTTPException(422, lines[0] if len(lines) == 1 else " ".join(line.strip() for line in lines))


async def _run(call: Callable[[], dict[str, Any]]) -> Any:
    """``call`` in a worker thread (a write blocks); a library error becomes a 422 saying what to fix."""
    try:
        return await run_in_threadpool(call)
    except ZvtCryptoError as exc:
        answer = _answer_error(exc)
        if isinstance(answer, HTTPException):
            raise answer from None
        return answer


def _known_or_created(store: Store, eid: str, create: bool, exchange: str, symbol: str) -> bool:
    """Whether the instrument is stored; a 404 saying to pass create=true when it is not and may not be made."""
    from zvt_crypto.domain import ENTITY_SCHEMAS

    kind = eid.split("_", 1)[0]
    known = not ENTITY_SCHEMAS[kind].query_data(entity_ids=[eid], index=None, store=store).empty
    if not known and not create:
        raise HTTPException(404, f"unknown instrument {symbol} on {exchange} ({eid}): pass create=true to create "
                                 "it with these rows, or POST /api/v1/entities first")
    return known


def ingest_router() -> APIRouter:
    router = APIRouter(tags=["ingest"])

    @router.post("/bars", openapi_extra=_BODY_DOC)
    async def post_bars(request: Request, _: Writer, exchange: Exchange, symbol: Symbol,
                        level: Annotated[str, Query(description="bar level of the rows: 1m … 1w")],
                        kind: Annotated[str | None, Query(pattern="^(pair|perp)$")] = None,
                        create: Create = False, on_conflict: OnConflictParam = "update") -> Any:
        """Store OHLCV bars of one instrument and level (the columns ``zvt-crypto import`` reads); answers
        ``{rows, changed}``."""
        from zvt_crypto.dataio.importers import bar_target, import_bar_frame

        fmt = body_format(request)
        body = await request.body()
        store: Store = request.app.state.ui.store

        def write() -> dict[str, Any]:
            eid, _kind = bar_target(exchange, symbol, kind)
            _known_or_created(store, eid, create, exchange, symbol)
            raw = bars_table(body, fmt)
            result = import_bar_frame(store, raw, exchange=exchange, symbol=symbol, level=level, kind=kind,
                                      on_conflict=on_conflict, source="the body")  # type: ignore[arg-type]
            return {"entity_id": eid, "level": result.level, **_counts(result)}

        return await _run(write)

    for path, schema_name, what in (("/trades", "Trade", "public trades (timestamp, trade_id, price, amount, side)"),
                                    ("/funding", "FundingRate", "funding rates (timestamp, funding_rate, "
                                                                "mark_price)")):
        router.add_api_route(path, _series_route(schema_name, what), methods=["POST"], openapi_extra=_BODY_DOC,
                             name=f"post_{path.strip('/')}")

    @router.post("/entities")
    async def post_entities(request: Request, _: Writer) -> Any:
        """Create or update instruments: a JSON object (or array of them) with ``exchange``, ``symbol``, optional
        ``kind`` (pair / perp) and any metadata column (precision_price, min_amount, taker_fee, active, …);
        columns not sent keep their stored values. Answers ``{created, updated, entity_ids}``."""
        from zvt_crypto.dataio.instruments import upsert_instruments

        body = await request.body()
        rows = _json_rows(body)
        store: Store = request.app.state.ui.store
        return await _run(lambda: upsert_instruments(store, rows))

    return router


def _counts(result: Any) -> dict[str, int]:
    """What a write answers: rows sent, changed, and how (a store WriteResult or an import's result)."""
    return {"rows": result.rows, "changed": result.changed, "inserted": result.inserted,
            "updated": result.updated, "kept": result.kept}


def _json_rows(body: bytes) -> list[dict[str, Any]]:
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"the body is not JSON ({exc}); send an object or an array of objects") from None
    rows = [data] if isinstance(data, dict) else data
    if not isinstance(rows, list) or not rows or not all(isinstance(row, dict) for row in rows):
        raise HTTPException(422, "send a JSON object (or an array of objects) with exchange, symbol and the "
                                 "metadata to set")
    return rows


def _series_route(schema_name: str, what: str) -> Callable[..., Any]:
    async def post_series(request: Request, _: Writer, exchange: Exchange, symbol: Symbol,
                          kind: Annotated[str | None, Query(pattern="^(pair|perp)$")] = None,
                          create: Create = False, on_conflict: OnConflictParam = "update") -> Any:
        from zvt_crypto.dataio.importers import bar_target
        from zvt_crypto.dataio.series_import import import_series_frame

        fmt = body_format(request)
        body = await request.body()
        store: Store = request.app.state.ui.store

        def write() -> dict[str, Any]:
            eid, _kind = bar_target(exchange, symbol, kind)
            _known_or_created(store, eid, create, exchange, symbol)
            result = import_series_frame(store, schema_name, table_of(body, fmt), exchange=exchange, symbol=symbol,
                                         kind=kind, on_conflict=on_conflict)  # type: ignore[arg-type]
            return {"entity_id": eid, **_counts(result)}

        return await _run(write)

    post_series.__doc__ = f"Store {what} of one instrument; answers ``{{rows, changed}}``."
    return post_series
