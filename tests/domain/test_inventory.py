"""Rows per schema and the newest bar per exchange and level (``zvt-crypto info``, the dashboard, the API)."""

from __future__ import annotations

import pandas as pd

from zvt_crypto.contract.store import Store
from zvt_crypto.domain.inventory import newest_bars, row_counts


def _bars(store: Store, exchange: str, symbol: str, level: str, start: str, n: int) -> None:
    from zvt_crypto.contract.ids import entity_id
    from zvt_crypto.domain.series import Bar

    times = pd.date_range(start, periods=n, freq={"1h": "h", "1d": "D"}[level], tz="UTC")
    store.write(Bar, pd.DataFrame({"entity_id": entity_id(exchange, symbol), "level": level, "timestamp": times,
                                   "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 3.0}))


def test_row_counts_lists_every_schema_with_zeros(store: Store) -> None:
    counts = row_counts(store)
    assert counts["Bar"] == 0 and "JobRun" in counts and list(counts) == sorted(counts)
    _bars(store, "binance", "BTC/USDT", "1h", "2024-01-01", 5)
    assert row_counts(store)["Bar"] == 5


def test_newest_bar_per_exchange_and_level(store: Store) -> None:
    assert newest_bars(store) == []
    _bars(store, "binance", "BTC/USDT", "1h", "2024-01-01", 5)
    _bars(store, "binance", "ETH/USDT", "1h", "2024-01-02", 3)
    _bars(store, "binance", "BTC/USDT", "1d", "2024-01-01", 2)
    _bars(store, "bybit", "BTC/USDT", "1h", "2023-06-01", 1)
    found = [(bar.exchange, bar.level, bar.newest, bar.symbols, bar.rows) for bar in newest_bars(store)]
    assert found == [
        ("binance", "1h", pd.Timestamp("2024-01-02 02:00", tz="UTC").to_pydatetime(), 2, 8),
        ("binance", "1d", pd.Timestamp("2024-01-02", tz="UTC").to_pydatetime(), 1, 2),
        ("bybit", "1h", pd.Timestamp("2023-06-01", tz="UTC").to_pydatetime(), 1, 1),
    ]
