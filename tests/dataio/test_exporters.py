"""Exporting bars to CSV / Parquet and importing the files back into another store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.store import Store
from zvt_crypto.dataio.exporters import export_bars
from zvt_crypto.dataio.importers import import_bars, read_bars_file
from zvt_crypto.domain import Bar

SYMBOL = {"exchange": "binance", "symbol": "BTC/USDT", "level": "1m"}


def _seed_binance(store: Store, tmp_path: Path, klines: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    """Import 180 one-minute klines (quote volume and trade counts included) and return them as stored."""
    path = tmp_path / "BTCUSDT-1m.csv"
    klines("2024-12-31 23:00", 180, unit="ms", seed=3).to_csv(path, header=False, index=False)
    import_bars(store, path, **SYMBOL)
    return Bar.query_data(exchange="binance", symbols=["BTC/USDT"], level="1m", store=store)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_round_trip(
    store: Store, other_store: Store, tmp_path: Path, klines: Callable[..., pd.DataFrame], suffix: str
) -> None:
    original = _seed_binance(store, tmp_path, klines)
    out = tmp_path / "export" / f"btc{suffix}"
    assert export_bars(store, **SYMBOL, out=out) == 180
    assert not list(out.parent.glob(".*partial"))

    frame = read_bars_file(out)
    assert list(frame.columns) == ["timestamp", "open", "high", "low", "close", "volume", "quote_volume", "trade_count"]
    result = import_bars(other_store, out, **SYMBOL)
    assert (result.rows, result.changed) == (180, 180)
    copied = Bar.query_data(exchange="binance", symbols=["BTC/USDT"], level="1m", store=other_store)
    pd.testing.assert_frame_equal(copied, original, check_exact=True)


def test_csv_layout(sqlite_store: Store, tmp_path: Path, klines: Callable[..., pd.DataFrame]) -> None:
    original = _seed_binance(sqlite_store, tmp_path, klines)
    out = tmp_path / "btc.csv"
    export_bars(sqlite_store, **SYMBOL, out=out)
    lines = out.read_text().splitlines()
    assert lines[0] == "timestamp,open,high,low,close,volume,quote_volume,trade_count"
    assert lines[1].startswith("2024-12-31T23:00:00Z,")
    assert lines[-1].startswith("2025-01-01T01:59:00Z,")
    text = pd.read_csv(out)
    assert text["trade_count"].dtype == "int64"
    assert (text["close"].to_numpy() == original["close"].to_numpy()).all()


def test_parquet_types(sqlite_store: Store, tmp_path: Path, klines: Callable[..., pd.DataFrame]) -> None:
    _seed_binance(sqlite_store, tmp_path, klines)
    out = tmp_path / "btc.pq"
    export_bars(sqlite_store, **SYMBOL, out=out)
    schema = pq.read_schema(out)
    assert schema.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("trade_count").type == pa.int64()
    assert schema.names == ["timestamp", "open", "high", "low", "close", "volume", "quote_volume", "trade_count"]


def test_optional_columns_only_when_present(
    sqlite_store: Store, other_store: Store, backtesting_dir: Path, tmp_path: Path
) -> None:
    import_bars(sqlite_store, backtesting_dir / "EURUSD.csv", exchange="oanda", symbol="EUR/USD", level="1h")
    for suffix in (".csv", ".parquet"):
        out = tmp_path / f"eurusd{suffix}"
        assert export_bars(sqlite_store, exchange="oanda", symbol="EUR/USD", level="1h", out=out) == 5000
        assert list(read_bars_file(out).columns) == ["timestamp", "open", "high", "low", "close", "volume"]
        import_bars(other_store, out, exchange="oanda", symbol="EUR/USD", level="1h")
        pd.testing.assert_frame_equal(
            Bar.query_data(exchange="oanda", symbols=["EUR/USD"], level="1h", store=other_store),
            Bar.query_data(exchange="oanda", symbols=["EUR/USD"], level="1h", store=sqlite_store),
            check_exact=True,
        )


def test_range_is_inclusive(sqlite_store: Store, tmp_path: Path, klines: Callable[..., pd.DataFrame]) -> None:
    _seed_binance(sqlite_store, tmp_path, klines)
    out = tmp_path / "slice.csv"
    rows = export_bars(sqlite_store, **SYMBOL, start="2025-01-01T00:00:00Z", end="2025-01-01T00:09:00Z", out=out)
    assert rows == 10
    frame = read_bars_file(out)
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2025-01-01", tz="UTC")
    assert frame["timestamp"].iloc[-1] == pd.Timestamp("2025-01-01 00:09", tz="UTC")


def test_perp_export(sqlite_store: Store, tmp_path: Path, klines: Callable[..., pd.DataFrame]) -> None:
    path = tmp_path / "perp.csv"
    klines("2024-06-01", 30, step_ms=3_600_000).to_csv(path, header=False, index=False)
    perp = {"exchange": "binanceusdm", "symbol": "BTC/USDT:USDT", "level": "1h"}
    import_bars(sqlite_store, path, **perp)
    assert export_bars(sqlite_store, **perp, out=tmp_path / "perp.parquet") == 30


def test_empty_range_is_an_error(sqlite_store: Store, tmp_path: Path, klines: Callable[..., pd.DataFrame]) -> None:
    _seed_binance(sqlite_store, tmp_path, klines)
    out = tmp_path / "none.csv"
    with pytest.raises(InvalidInputError, match=r"no 1m bars found for pair_binance_BTC-USDT from 2023-01-01T00:00:00Z "
                                                 r"to 2023-02-01T00:00:00Z.*zvt-crypto coverage"):
        export_bars(sqlite_store, **SYMBOL, start="2023-01-01", end="2023-02-01", out=out)
    with pytest.raises(InvalidInputError, match=r"no 1h bars found .*zvt-crypto coverage"):
        export_bars(sqlite_store, exchange="binance", symbol="BTC/USDT", level="1h", out=out)
    with pytest.raises(InvalidInputError, match=r"no 1m bars found for pair_kraken_BTC-USDT"):
        export_bars(sqlite_store, exchange="kraken", symbol="BTC/USDT", level="1m", out=out)
    assert not out.exists()


def test_unknown_extension_is_an_error(sqlite_store: Store, tmp_path: Path) -> None:
    for name in ("bars.xlsx", "bars"):
        with pytest.raises(InvalidInputError, match=r"unknown extension .*use \.csv, \.csv\.gz or \.parquet"):
            export_bars(sqlite_store, **SYMBOL, out=tmp_path / name)
    with pytest.raises(InvalidInputError, match="unknown kind"):
        export_bars(sqlite_store, **SYMBOL, out=tmp_path / "x.csv", kind="future")


def test_gzip_csv(sqlite_store: Store, tmp_path: Path, klines: Callable[..., pd.DataFrame]) -> None:
    original = _seed_binance(sqlite_store, tmp_path, klines)
    out = tmp_path / "btc.csv.gz"
    assert export_bars(sqlite_store, **SYMBOL, out=out) == 180
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    assert len(read_bars_file(out)) == len(original)
