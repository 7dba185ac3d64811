"""``export trades|funding|open-interest|orderbook|factor``: what was stored comes back from the file, exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli.test_cli import run
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import entity_id
from zvt_crypto.contract.schema import Schema
from zvt_crypto.contract.store import Store
from zvt_crypto.dataio.exporters import SERIES_EXPORTS, export_series
from zvt_crypto.dataio.sample import sample_bars
from zvt_crypto.domain import Bar, FundingRate, OpenInterest, OrderBookSnapshot, Trade
from zvt_crypto.factors.base import make_factor
from zvt_crypto.factors.engine import compute_factor, export_factor, load_factor

PERP = {"exchange": "binanceusdm", "symbol": "BTC/USDT:USDT"}
EID = entity_id("binanceusdm", "BTC/USDT:USDT")
T0 = pd.Timestamp("2024-01-01", tz="UTC")


def _stored_series(store: Store) -> dict[str, tuple[type[Schema], str | None]]:
    """Write a little of every exportable series for the perp; return schema and level by export kind."""
    rng = np.random.default_rng(5)
    n = 40
    seconds = pd.to_timedelta(np.arange(n) * 1500, unit="ms")
    store.write(Trade, pd.DataFrame({
        "entity_id": EID, "timestamp": T0 + seconds // 3 * 3,  # trades sharing a millisecond: trade_id keys them
        "trade_id": [f"{100 + i}" for i in range(n)], "price": np.round(42_000 + rng.random(n) * 50, 1),
        "amount": np.round(rng.random(n), 6), "side": rng.choice(["buy", "sell"], n)}))
    store.write(FundingRate, pd.DataFrame({
        "entity_id": EID, "timestamp": T0 + pd.to_timedelta(np.arange(n) * 8, unit="h"),
        "funding_rate": rng.normal(1e-4, 5e-5, n), "mark_price": [None, *np.round(42_000 + rng.random(n - 1), 2)]}))
    store.write(OpenInterest, pd.DataFrame({
        "entity_id": EID, "timestamp": T0 + pd.to_timedelta(np.arange(n), unit="h"),
        "open_interest": np.round(80_000 + rng.random(n) * 1000, 3),
        "open_interest_value": np.round(3e9 + rng.random(n) * 1e7, 2)}), level="1h")
    books = [(sorted(np.round(42_000 - rng.random(3) * 10, 1).tolist(), reverse=True),
              sorted(np.round(42_001 + rng.random(3) * 10, 1).tolist())) for _ in range(n)]
    store.write(OrderBookSnapshot, pd.DataFrame({
        "entity_id": EID, "timestamp": T0 + pd.to_timedelta(np.arange(n) * 10, unit="s"), "depth": 3,
        "best_bid": [bids[0] for bids, _ in books], "best_ask": [asks[0] for _, asks in books],
        "bids": [[[price, 0.5 + i] for i, price in enumerate(bids)] for bids, _ in books],
        "asks": [[[price, 1.25 * (i + 1)] for i, price in enumerate(asks)] for _, asks in books]}))
    return {"trades": (Trade, None), "funding": (FundingRate, None), "open-interest": (OpenInterest, "1h"),
            "orderbook": (OrderBookSnapshot, None)}


def _read_back(path: Path, json_columns: tuple[str, ...]) -> pd.DataFrame:
    """The file as the stored frame would be, reset to columns: UTC times, JSON text parsed, Parquet lists as lists."""
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        for name in json_columns:
            frame[name] = [[list(level) for level in value] for value in frame[name]]
    else:
        frame = pd.read_csv(path, dtype={"trade_id": str})
        assert frame["timestamp"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z").all()
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        for name in json_columns:
            frame[name] = [json.loads(text) for text in frame[name]]
    frame["timestamp"] = frame["timestamp"].dt.as_unit("ms")
    return frame


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("kind", list(SERIES_EXPORTS))
def test_series_round_trip(sqlite_store: Store, tmp_path: Path, kind: str, suffix: str) -> None:
    schema, level = _stored_series(sqlite_store)[kind]
    spec = SERIES_EXPORTS[kind]
    out = tmp_path / "export" / f"{kind}{suffix}"
    rows = export_series(sqlite_store, kind, **PERP, level=level, out=out)
    stored = schema.query_data(entity_ids=[EID], level=level, store=sqlite_store).reset_index()
    assert rows == len(stored) == 40
    assert not list(out.parent.glob(".*partial"))
    back = _read_back(out, spec.json_columns)
    assert list(back.columns) == ["timestamp", *spec.columns]
    expected = stored[["timestamp", *spec.columns]].assign(timestamp=stored["timestamp"].dt.as_unit("ms"))
    for name in ("timestamp", *spec.columns):  # exact: no value rounded on the way, a missing one stays missing
        if name in spec.json_columns:
            assert back[name].tolist() == expected[name].tolist(), name
        else:
            pd.testing.assert_series_equal(back[name], expected[name], check_exact=True, check_dtype=False)


def test_range_and_level_rules(sqlite_store: Store, tmp_path: Path) -> None:
    _stored_series(sqlite_store)
    out = tmp_path / "f.csv"
    assert export_series(sqlite_store, "funding", **PERP, start="2024-01-02", end="2024-01-03", out=out) == 4
    assert pd.read_csv(out)["timestamp"].tolist() == ["2024-01-02T00:00:00Z", "2024-01-02T08:00:00Z",
                                                      "2024-01-02T16:00:00Z", "2024-01-03T00:00:00Z"]
    with pytest.raises(InvalidInputError, match="open-interest needs --level"):
        export_series(sqlite_store, "open-interest", **PERP, out=out)
    with pytest.raises(InvalidInputError, match="trades have no level; drop --level"):
        export_series(sqlite_store, "trades", **PERP, level="1h", out=out)
    with pytest.raises(InvalidInputError, match=r"no 4h open-interest found for perp_binanceusdm_BTC-USDT\.USDT"):
        export_series(sqlite_store, "open-interest", **PERP, level="4h", out=out)
    with pytest.raises(InvalidInputError, match=r"no funding found .* from 2025-01-01T00:00:00Z"):
        export_series(sqlite_store, "funding", **PERP, start="2025-01-01", out=tmp_path / "none.csv")
    assert not (tmp_path / "none.csv").exists()
    with pytest.raises(InvalidInputError, match=r"unknown extension '\.xlsx'"):
        export_series(sqlite_store, "trades", **PERP, out=tmp_path / "t.xlsx")
    with pytest.raises(InvalidInputError, match="cannot export 'candles'; use one of: bars, trades, funding"):
        export_series(sqlite_store, "candles", **PERP, out=out)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_factor_values_round_trip(sqlite_store: Store, tmp_path: Path, suffix: str) -> None:
    for symbol in ("BTC/USDT", "ETH/USDT"):
        bars = sample_bars(symbol, "2024-01-01", 24 * 5, "1h", volatility=0.01)
        sqlite_store.write(Bar, bars.assign(entity_id=entity_id("binance", symbol)), level="1h")
    compute_factor(make_factor("macd", {}), exchange="binance", level="1h", store=sqlite_store)
    stored = load_factor("macd", exchange="binance", symbols=["BTC/USDT", "ETH/USDT"], level="1h",
                         store=sqlite_store).reset_index()
    out = tmp_path / f"macd{suffix}"
    rows = export_factor("macd", exchange="binance", symbols=["BTC/USDT", "ETH/USDT"], level="1h", out=out,
                         store=sqlite_store)
    assert rows == len(stored) == 2 * 24 * 5
    back = _read_back(out, ())
    assert list(back.columns) == ["entity_id", "timestamp", "macd", "signal", "hist"]
    assert back["entity_id"].tolist() == stored["entity_id"].tolist()
    assert back["timestamp"].tolist() == stored["timestamp"].dt.as_unit("ms").tolist()
    for name in ("macd", "signal", "hist"):  # NaN warm-up included, every value exact
        np.testing.assert_array_equal(back[name].to_numpy(float), stored[name].to_numpy(float))
    one = export_factor("macd", exchange="binance", symbols=["ETH/USDT"], level="1h", start="2024-01-03",
                        out=tmp_path / f"eth{suffix}", store=sqlite_store)
    assert one == 24 * 3 and list(_read_back(tmp_path / f"eth{suffix}", ()).columns) == [
        "timestamp", "macd", "signal", "hist"]


def test_cli_exports_every_kind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'zvt.db'}"
    store = Store(url)
    try:
        _stored_series(store)
        bars = sample_bars("BTC/USDT", "2024-01-01", 48, "1h")
        store.write(Bar, bars.assign(entity_id=entity_id("binance", "BTC/USDT")), level="1h")
        compute_factor(make_factor("rsi", {}), exchange="binance", level="1h", store=store)
    finally:
        store.dispose()
    perp = ["--exchange", "binanceusdm", "--symbol", "BTC/USDT:USDT"]
    for kind, extra in (("trades", []), ("funding", []), ("open-interest", ["--level", "1h"]), ("orderbook", [])):
        out = tmp_path / f"{kind}.parquet"
        result = run(tmp_path, "--db-url", url, "export", kind, *perp, *extra, "--out", str(out))
        assert result.stdout.strip() == f"wrote 40 rows of {kind} to {out}"
        assert len(pd.read_parquet(out)) == 40
    out = tmp_path / "rsi.csv.gz"
    result = run(tmp_path, "--db-url", url, "export", "factor", "rsi", "--exchange", "binance", "--symbol",
                 "BTC/USDT", "--level", "1h", "--out", str(out))
    assert result.stdout.strip() == f"wrote 48 rows of factor rsi to {out}"
    assert list(pd.read_csv(out).columns) == ["timestamp", "rsi"]
    missing = run(tmp_path, "--db-url", url, "export", "open-interest", *perp, "--out", str(out), check=False)
    assert missing.returncode == 2 and "Missing option '--level'" in missing.stderr
    empty = run(tmp_path, "--db-url", url, "export", "trades", "--exchange", "binance", "--symbol", "ETH/USDT",
                "--out", str(tmp_path / "eth.csv"), check=False)
    assert empty.returncode == 1 and empty.stderr.startswith("error: no trades found for pair_binance_ETH-USDT")
    assert "Traceback" not in empty.stderr
