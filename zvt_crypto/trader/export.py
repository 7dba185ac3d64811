"""A run's files: JSON (orjson, the equity curve formatted vectorised) and Parquet.

A 1,000,000-bar run's equity curve through ``strftime`` and the stdlib encoder took ≈ 10 s; here the times are
formatted from a per-day and a per-second-of-day table (numpy), the numbers by orjson (the shortest text that reads
back to the same float, as ``repr``), and the records are joined as bytes: no Python object per value but the two
byte strings ``b"".join`` takes.

>>> import numpy as np
>>> equity_records_json(np.array([1704067200000, 1704067260000]), np.array([10_000.0, np.nan]))
b'[{"timestamp":"2024-01-01T00:00:00Z","equity":10000.0},{"timestamp":"2024-01-01T00:01:00Z","equity":null}]'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson

_DAY_S = 86_400
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def dumps(data: Any) -> bytes:
    """Compact JSON of ``data`` (numpy scalars and arrays included; NaN and ±inf as ``null``)."""
    return orjson.dumps(data, option=_OPTIONS)


def iso_bytes(ms: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC, to the second, as :func:`~zvt_crypto.contract.timeutil.iso`) of epoch
    milliseconds, as an ``(n, 20)`` array of ASCII bytes."""
    ms = np.asarray(ms, dtype=np.int64)
    out = np.empty((len(ms), 20), np.uint8)
    if not len(ms):
        return out
    days, second = np.divmod(ms // 1000, _DAY_S)
    first = int(days.min())
    span = int(days.max()) - first + 1
    dates = np.datetime_as_string(np.arange(first, first + span).astype("datetime64[D]"), unit="D")
    out[:, :10] = dates.astype("S10").view(np.uint8).reshape(span, 10)[days - first]
    out[:, 10] = ord("T")
    out[:, 11:19] = _times_of_day()[second]
    out[:, 19] = ord("Z")
    return out


def _times_of_day() -> np.ndarray:
    """``HH:MM:SS`` of every second of a day, ``(86400, 8)`` ASCII bytes."""
    second = np.arange(_DAY_S)
    table = np.empty((_DAY_S, 8), np.uint8)
    for k, part in enumerate((second // 3600, second // 60 % 60, second % 60)):
        table[:, 3 * k] = ord("0") + part // 10
        table[:, 3 * k + 1] = ord("0") + part % 10
    table[:, 2] = table[:, 5] = ord(":")
    return table


def equity_records_json(ms: np.ndarray, values: np.ndarray) -> bytes:
    """``[{"timestamp": "<iso>", "equity": <value>}, …]`` of epoch-ms times and floats (NaN / ±inf → null)."""
    return b"".join(equity_records_parts(ms, values))


def equity_records_parts(ms: np.ndarray, values: np.ndarray) -> list[bytes]:
    """:func:`equity_records_json` in pieces, for one ``b"".join`` of the whole document (each copy of a 60 MB
    text costs)."""
    n = len(values)
    if n == 0:
        return [b"[]"]
    numbers = dumps(np.ascontiguousarray(values, dtype=np.float64))[1:-1].split(b",")
    lead, middle = b'},{"timestamp":"', b'","equity":'
    heads = np.empty((n, len(lead) + 20 + len(middle)), np.uint8)
    heads[:, :len(lead)] = np.frombuffer(lead, np.uint8)
    heads[:, len(lead):len(lead) + 20] = iso_bytes(ms)
    heads[:, len(lead) + 20:] = np.frombuffer(middle, np.uint8)
    parts: list[bytes] = [b""] * (2 * n + 2)
    parts[1:-1:2] = heads.view(f"S{heads.shape[1]}").ravel().tolist()  # no NUL in a head: none is stripped
    parts[2:-1:2] = numbers
    parts[0], parts[1], parts[-1] = b"[", parts[1][2:], b"}]"  # the first head's "}," closes nothing
    return parts


def document_json(head: Mapping[str, Any], tail: Mapping[str, list[bytes]]) -> bytes:
    """``head`` as a JSON object with ``tail``'s keys appended, their values JSON already, in pieces (large arrays
    made elsewhere, spliced in without parsing)."""
    text = dumps(head)
    parts = [text[:-1]]
    for key, pieces in tail.items():
        parts += [b"," if len(text) > 2 or len(parts) > 1 else b"", dumps(key), b":", *pieces]
    parts.append(b"}")
    return b"".join(parts)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (its folder created) through a temporary file renamed into place: a reader never
    sees half a file, and a failed write leaves the old file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)
    return path
