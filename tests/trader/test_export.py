"""A run's files: the vectorised JSON equals the stdlib encoding of ``to_dict()``; Parquet keeps the curve and the
run; ``iso_bytes`` formats as ``iso`` does."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from zvt_crypto.contract.timeutil import iso
from zvt_crypto.trader import MarketData, run_backtest
from zvt_crypto.trader.export import document_json, equity_records_json, iso_bytes


def test_iso_bytes_is_iso_for_any_time() -> None:
    rng = np.random.default_rng(7)
    ms = np.sort(rng.integers(-2_000_000_000_000, 4_000_000_000_000, 2_000))
    ms = np.r_[ms, 0, 86_399_999, 1_709_164_800_000]  # the epoch, the last ms of its day, 2024-02-29
    texts = [bytes(row).decode() for row in iso_bytes(ms)]
    assert texts == [iso(int(v)) for v in ms]
    assert iso_bytes(np.array([], dtype=np.int64)).shape == (0, 20)


def test_equity_records_are_the_stdlib_encoding() -> None:
    ms = 1_704_067_200_000 + np.arange(6, dtype=np.int64) * 60_000
    values = np.array([10_000.0, 1e-300, np.nan, 123456789.125, np.inf, 0.1 + 0.2])
    decoded = json.loads(equity_records_json(ms, values))
    expected = [{"timestamp": iso(int(t)), "equity": float(v) if np.isfinite(v) else None}
                for t, v in zip(ms, values, strict=True)]
    assert decoded == expected
    assert equity_records_json(ms[:0], values[:0]) == b"[]"
    assert json.loads(document_json({}, {"equity": [b"[]"]})) == {"equity": []}
    assert json.loads(document_json({"a": 1}, {"b": [b"[", b"2]"]})) == {"a": 1, "b": [2]}


def test_result_json_and_parquet_hold_the_run(bars: Callable[..., pd.DataFrame], tmp_path: Path) -> None:
    frame = bars("pair_binance_BTC-USDT", n=500, seed=5).set_index("timestamp")
    data = MarketData.from_frame(frame[["open", "high", "low", "close", "volume"]], symbol="BTC/USDT", level="1h")
    result = run_backtest("sma_cross", data, params={"fast": 3, "slow": 10}, fee=0.001)
    document = json.loads(result.to_json(tmp_path / "run.json"))
    reference = json.loads(json.dumps(result.to_dict()))  # the stdlib's encoding of the same dict
    assert document == reference and len(document["trades"]) > 3 and len(document["equity"]) == 500
    assert json.loads((tmp_path / "run.json").read_text()) == reference
    path = result.to_parquet(tmp_path / "run.parquet")
    table = pq.read_table(path)
    assert table.column_names == ["timestamp", "equity", "cash", "drawdown", "exposure"]
    assert table.column("equity").to_pylist() == result.equity["equity"].tolist()
    meta = json.loads(table.schema.metadata[b"zvt_crypto"])
    assert meta["trades"] == reference["trades"] and meta["metrics"] == reference["metrics"]
    assert not list(tmp_path.glob("*.partial"))
