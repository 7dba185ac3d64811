"""Tables as API answers: JSON by default, ``format=csv|parquet|arrow`` on request, each streamed in chunks (the
frame is in memory once; its encoding never is whole: a 1M-row answer goes out chunk by chunk).

Times go out as ISO-8601 UTC text in JSON and CSV (the same text as ``zvt-crypto export bars``) and as UTC
timestamps in Parquet and Arrow."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any

import pandas as pd
from fastapi.responses import StreamingResponse

from zvt_crypto.contract.timeutil import iso_texts

CHUNK_ROWS = 50_000
MEDIA_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8",
               "parquet": "application/vnd.apache.parquet", "arrow": "application/vnd.apache.arrow.stream"}


class TableFormat(StrEnum):
    json = "json"
    csv = "csv"
    parquet = "parquet"
    arrow = "arrow"


def _time_columns(frame: pd.DataFrame) -> list[str]:
    return [name for name, dtype in frame.dtypes.items() if isinstance(dtype, pd.DatetimeTZDtype)
            or pd.api.types.is_datetime64_any_dtype(dtype)]


def as_text_times(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its datetime columns as ISO-8601 UTC text (``2024-01-01T00:00:00Z``)."""
    columns = _time_columns(frame)
    if not columns:
        return frame
    return frame.assign(**{name: iso_texts(pd.to_datetime(frame[name], utc=True)) for name in columns})


def _json_chunks(frame: pd.DataFrame) -> Iterator[bytes]:
    yield b"["
    for offset in range(0, len(frame), CHUNK_ROWS):
        text = as_text_times(frame.iloc[offset:offset + CHUNK_ROWS]).to_json(orient="records", double_precision=15)
        yield (b"," if offset else b"") + text[1:-1].encode()
    yield b"]"


def _csv_chunks(frame: pd.DataFrame) -> Iterator[bytes]:
    if frame.empty:
        yield frame.to_csv(index=False).encode()
        return
    for offset in range(0, len(frame), CHUNK_ROWS):
        chunk = as_text_times(frame.iloc[offset:offset + CHUNK_ROWS])
        yield chunk.to_csv(index=False, header=offset == 0).encode()


def _arrow_table(frame: pd.DataFrame) -> Any:
    import pyarrow as pa

    utc = frame.assign(**{name: pd.to_datetime(frame[name], utc=True).dt.as_unit("ms")
                          for name in _time_columns(frame)})
    return pa.Table.from_pandas(utc, preserve_index=False)


class _Sink(io.RawIOBase):
    """A write-only file whose written bytes are taken out after each step (streaming a writer's output)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def _arrow_chunks(frame: pd.DataFrame) -> Iterator[bytes]:
    import pyarrow as pa

    table = _arrow_table(frame)
    sink = _Sink()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=CHUNK_ROWS):
            writer.write_batch(batch)
            yield sink.take()
    yield sink.take()


def _parquet_chunks(frame: pd.DataFrame) -> Iterator[bytes]:
    import pyarrow.parquet as pq

    table = _arrow_table(frame)
    sink = _Sink()
    with pq.ParquetWriter(sink, table.schema) as writer:
        for offset in range(0, max(len(frame), 1), CHUNK_ROWS * 4):
            writer.write_table(table.slice(offset, CHUNK_ROWS * 4))
            yield sink.take()
    yield sink.take()


_ENCODERS = {"json": _json_chunks, "csv": _csv_chunks, "arrow": _arrow_chunks, "parquet": _parquet_chunks}


def table_response(frame: pd.DataFrame, fmt: TableFormat | str, *, name: str,
                   headers: Mapping[str, str] | None = None) -> StreamingResponse:
    """``frame`` (no index: reset it first) streamed as ``fmt``; ``name`` is the download's file name stem."""
    key = TableFormat(fmt).value
    sent = dict(headers or {})
    if key != "json":
        sent["Content-Disposition"] = f'attachment; filename="{name}.{key}"'
    return StreamingResponse(_ENCODERS[key](frame), media_type=MEDIA_TYPES[key], headers=sent)


