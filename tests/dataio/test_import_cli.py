"""``zvt-crypto import`` as a user runs it: conflicts with stored bars, and adversarial files (hypothesis) — every
rejection is an ``error: …`` message with exit status 1, never a traceback, and leaves the store exactly as it was."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from zvt_crypto.cli.app import cli
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar

JAN1 = pd.Timestamp("2024-01-01", tz="UTC")


def import_cli(store: Store, path: Path, *options: str) -> Result:
    return CliRunner().invoke(cli, ["--db-url", str(store.url), "import", str(path), "--exchange", "binance",
                                    "--symbol", "BTC/USDT", "--level", "1h", *options])


def dump(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    with store.engine.connect() as connection:
        tables = [row[0] for row in connection.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"))]
        return {table: sorted((tuple(row) for row in connection.execute(text(f'SELECT * FROM "{table}"'))), key=repr)
                for table in tables}


def candles(n: int = 12, start: pd.Timestamp = JAN1, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    open_ = np.round(100 + rng.random(n) * 10, 2)
    close = np.round(100 + rng.random(n) * 10, 2)
    return pd.DataFrame({
        "timestamp": pd.date_range(start, periods=n, freq="1h", tz="UTC"), "open": open_,
        "high": np.maximum(open_, close) + 1, "low": np.minimum(open_, close) - 1, "close": close,
        "volume": np.round(rng.random(n) * 50, 3),
    })


def assert_refused(result: Result, before: dict[str, list[tuple[Any, ...]]], store: Store) -> None:
    """Exit 1 with ``error: …`` first, no traceback, and not one stored row changed."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # handled, not a crash
    assert result.output.startswith("error: "), result.output[:300]
    assert "Traceback" not in result.output
    assert dump(store) == before


# -- conflicts with stored bars ---------------------------------------------------------------------------------
def test_import_reports_changed_bars_and_obeys_on_conflict(sqlite_store: Store, tmp_path: Path) -> None:
    """Fix: importing other values for stored bars replaced them, reported as "1 new or changed"."""
    frame = candles(15)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    frame.head(10).to_csv(first, index=False)
    changed = frame.copy()
    changed.loc[[2, 3], "volume"] += 1.0
    changed.to_csv(second, index=False)
    result = import_cli(sqlite_store, first)
    assert "10 new, 0 stored bar(s) changed, 0 already stored" in result.output

    before = dump(sqlite_store)
    refused = import_cli(sqlite_store, second, "--on-conflict", "error")
    assert_refused(refused, before, sqlite_store)
    assert refused.output.startswith(
        "error: Bar: 2 of 15 rows differ from the stored rows with the same key; nothing was written")

    skipped = import_cli(sqlite_store, second, "--on-conflict", "skip")
    assert skipped.exit_code == 0, skipped.output
    assert "15 1h bars of BTC/USDT on binance from 1 file(s): 5 new, 2 stored bar(s) with other values kept, " \
           "8 already stored" in skipped.output
    stored = Bar.query_data(store=sqlite_store, level="1h")["volume"].tolist()
    kept = changed["volume"].copy()
    kept[[2, 3]] = frame["volume"][[2, 3]]  # the stored values of the two bars that differ
    assert stored == kept.tolist()

    updated = import_cli(sqlite_store, second)  # the default: update, and say so
    assert updated.exit_code == 0, updated.output
    assert "0 new, 2 stored bar(s) changed (--on-conflict skip keeps them, error refuses the file), " \
           "13 already stored" in updated.output


# -- adversarial files --------------------------------------------------------------------------------------------
HUGE = "9" * 100_000
CELLS = [np.nan, np.inf, -np.inf, 1e308, -1e308, -1.0, 0.0, "", "abc", "1e400", "€", HUGE, "2024-13-45"]
COLUMNS = ["timestamp", "open", "high", "low", "close", "volume"]


def _cell(frame: pd.DataFrame, draw: Callable[..., Any]) -> pd.DataFrame:
    row = draw(st.integers(0, len(frame) - 1))
    column = draw(st.sampled_from(list(frame.columns)))
    frame = frame.astype({column: object})
    frame.loc[row, column] = draw(st.sampled_from(CELLS))
    return frame


def _duplicate_time(frame: pd.DataFrame, draw: Callable[..., Any]) -> pd.DataFrame:
    source, target = draw(st.integers(0, len(frame) - 1)), draw(st.integers(0, len(frame) - 1))
    twin = frame.iloc[[source]].copy()
    twin["timestamp"] = frame["timestamp"].iloc[target]
    return pd.concat([frame, twin], ignore_index=True)


def _unsorted(frame: pd.DataFrame, draw: Callable[..., Any]) -> pd.DataFrame:
    order = draw(st.permutations(list(range(len(frame)))))
    return frame.iloc[order].reset_index(drop=True)


def _mixed_units(frame: pd.DataFrame, draw: Callable[..., Any]) -> pd.DataFrame:
    ms = pd.to_datetime(frame["timestamp"], utc=True, errors="coerce")
    if ms.isna().any():
        return frame
    seconds = ms.dt.as_unit("s").astype("int64")
    scales = draw(st.lists(st.sampled_from([1, 1_000, 1_000_000, 1_000_000_000]),
                           min_size=len(frame), max_size=len(frame)))
    return frame.assign(timestamp=seconds.to_numpy() * np.array(scales, dtype="int64"))


def _future(frame: pd.DataFrame, draw: Callable[..., Any]) -> pd.DataFrame:
    frame = frame.astype({"timestamp": object})
    frame.loc[draw(st.integers(0, len(frame) - 1)), "timestamp"] = pd.Timestamp("2029-01-01", tz="UTC")
    return frame


def _drop_column(frame: pd.DataFrame, draw: Callable[..., Any]) -> pd.DataFrame:
    return frame.drop(columns=draw(st.sampled_from(list(frame.columns))))


def _off_grid(frame: pd.DataFrame, draw: Callable[..., Any]) -> pd.DataFrame:
    frame = frame.astype({"timestamp": object})
    frame.loc[draw(st.integers(0, len(frame) - 1)), "timestamp"] = JAN1 + pd.Timedelta(minutes=7)
    return frame


MUTATIONS = [_cell, _cell, _duplicate_time, _unsorted, _mixed_units, _future, _drop_column, _off_grid]
LAYOUTS = ["csv", "csv.gz", "parquet", "json", "csv-utf16", "csv-latin1", "binance"]


def _encode(frame: pd.DataFrame, layout: str) -> tuple[str, bytes]:
    if layout == "parquet":
        buffer = io.BytesIO()
        frame.astype({c: str for c in frame.columns if frame[c].dtype == object}).to_parquet(buffer)
        return ".parquet", buffer.getvalue()
    if layout == "json":
        rows = [[_jsonable(value) for value in row] for row in frame.itertuples(index=False)]
        return ".json", json.dumps(rows).encode()
    if layout == "binance":  # headerless 12 columns: the 6 and six more
        extra = frame.assign(**{f"x{i}": 0 for i in range(12 - frame.shape[1])})
        return ".csv", extra.to_csv(index=False, header=False).encode()
    text_ = frame.to_csv(index=False)
    if layout == "csv.gz":
        return ".csv.gz", gzip.compress(text_.encode())
    if layout == "csv-utf16":
        return ".csv", text_.encode("utf-16")
    if layout == "csv-latin1":
        return ".csv", text_.replace("open", "öpen").replace("€", "").encode("latin-1", errors="replace")
    return ".csv", text_.encode()


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return int(value.value // 1_000_000)
    if isinstance(value, np.generic):
        return value.item()
    return value


@st.composite
def adversarial_files(draw: Callable[..., Any]) -> tuple[str, bytes]:
    """(suffix, content): random bytes under a bar file's name, or a valid file spoilt in one to three ways,
    written in one of the supported layouts, perhaps cut short."""
    if draw(st.integers(0, 5)) == 0:
        suffix = draw(st.sampled_from([".csv", ".parquet", ".json", ".csv.gz", ".feather", ".bin"]))
        return suffix, draw(st.binary(max_size=512))
    frame = candles(draw(st.integers(1, 12)), start=JAN1 + pd.Timedelta(hours=draw(st.integers(0, 12))))
    for mutate in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3)):
        if "timestamp" not in frame:  # dropped: nothing else to spoil
            break
        frame = mutate(frame, draw)
    suffix, content = _encode(frame, draw(st.sampled_from(LAYOUTS)))
    if len(content) > 2 and draw(st.booleans()):
        content = content[: draw(st.integers(1, len(content) - 1))]  # truncated: a download cut short
    return suffix, content


@pytest.fixture
def seeded(sqlite_store: Store, tmp_path: Path) -> Store:
    """A store holding 24 good hourly bars of BTC/USDT, so a careless rejection would have something to lose."""
    good = tmp_path / "good.csv"
    candles(24, seed=1).to_csv(good, index=False)
    assert import_cli(sqlite_store, good).exit_code == 0
    return sqlite_store


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(adversarial_files(), st.sampled_from(["update", "skip", "error"]))
def test_adversarial_files_never_crash_or_half_write(seeded: Store, tmp_path: Path, file: tuple[str, bytes],
                                                     on_conflict: str) -> None:
    suffix, content = file
    path = tmp_path / f"adversarial{suffix}"
    path.write_bytes(content)
    before = dump(seeded)
    result = import_cli(seeded, path, "--on-conflict", on_conflict)
    event(result.output.replace(str(path), "FILE").split("(")[0][:70] if result.exit_code else "imported")  # statistics
    if result.exit_code == 0:  # a spoilt file can still be valid (unsorted rows, mixed time units)
        assert result.output.startswith("imported "), result.output
        assert dump(seeded)["bar"] != [] and "Traceback" not in result.output
        return
    assert_refused(result, before, seeded)
