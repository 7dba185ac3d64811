"""Fixtures of the import / export tests: the real CSVs shipped with ``backtesting``, Binance kline files and a
second SQLite store for round trips (``store`` / ``sqlite_store`` come from ``tests/conftest.py``)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.store import Store
from zvt_crypto.dataio.importers import BINANCE_KLINE_COLUMNS


@pytest.fixture(scope="session")
def backtesting_dir() -> Path:
    """Folder of ``GOOG.csv`` (daily, 2004–2013), ``EURUSD.csv`` (hourly, 2017–2018), ``BTCUSD.csv`` (monthly)."""
    spec = importlib.util.find_spec("backtesting")  # locates the package without importing it (and bokeh)
    if spec is None or spec.origin is None:
        pytest.skip("the backtesting package is not installed")
    folder = Path(spec.origin).parent / "test"
    assert (folder / "GOOG.csv").is_file()
    return folder


@pytest.fixture
def other_store(tmp_path: Path) -> Iterator[Store]:
    """A second, empty SQLite store (round-trip target)."""
    store = Store(f"sqlite:///{tmp_path / 'other' / 'zvt.db'}")
    yield store
    store.dispose()


def binance_klines(start: str, n: int, step_ms: int = 60_000, *, unit: str = "ms", seed: int = 0) -> pd.DataFrame:
    """``n`` consecutive valid klines in the 12-column layout of data.binance.vision, times in ``unit``
    (``"ms"``, or ``"us"`` as Binance spot files since 2025)."""
    rng = np.random.default_rng(seed)
    open_ms = pd.Timestamp(start, tz="UTC").value // 1_000_000 + np.arange(n, dtype="int64") * step_ms
    scale = {"ms": 1, "us": 1000}[unit]
    open_ = np.round(40_000 + rng.random(n) * 100, 2)
    close = np.round(40_000 + rng.random(n) * 100, 2)
    volume = np.round(rng.random(n) * 10, 5)
    frame = pd.DataFrame(
        {
            "open_time": open_ms * scale,
            "open": open_,
            "high": np.maximum(open_, close) + 5.5,
            "low": np.minimum(open_, close) - 4.25,
            "close": close,
            "volume": volume,
            "close_time": (open_ms + step_ms - 1) * scale + (scale - 1),
            "quote_asset_volume": np.round(volume * close, 4),
            "number_of_trades": rng.integers(1, 500, n),
            "taker_buy_base": np.round(volume / 2, 5),
            "taker_buy_quote": np.round(volume * close / 2, 4),
            "ignore": 0,
        }
    )
    assert list(frame.columns) == list(BINANCE_KLINE_COLUMNS)
    return frame


@pytest.fixture
def klines() -> Callable[..., pd.DataFrame]:
    """The :func:`binance_klines` factory."""
    return binance_klines
