"""Reading bar files of every supported format and importing them into real stores."""

from __future__ import annotations

import gzip
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.errors import ImportFormatError, InvalidDataError, InvalidInputError
from zvt_crypto.contract.store import Store
from zvt_crypto.dataio.importers import ImportResult, import_bars, parse_times, read_bars_file
from zvt_crypto.domain import Bar, CryptoPair, CryptoPerp

OHLCV = ["open", "high", "low", "close", "volume"]


def _pandas_csv(path: Path) -> pd.DataFrame:
    """The file as pandas reads it, times taken as UTC: the reference the importer must match."""
    frame = pd.read_csv(path, index_col=0, parse_dates=True)
    frame.index = frame.index.tz_localize("UTC")
    frame.columns = [name.lower() for name in frame.columns]
    return frame


def _stored(store: Store, exchange: str, symbol: str, level: str) -> pd.DataFrame:
    return Bar.query_data(exchange=exchange, symbols=[symbol], level=level, store=store)


# -- the real CSVs shipped with backtesting -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["GOOG", "EURUSD", "BTCUSD"])
def test_read_backtesting_csv_matches_pandas(backtesting_dir: Path, name: str) -> None:
    path = backtesting_dir / f"{name}.csv"
    expected = _pandas_csv(path)
    frame = read_bars_file(path)
    assert list(frame.columns) == ["timestamp", *OHLCV]
    assert str(frame["timestamp"].dtype) == "datetime64[ms, UTC]"
    assert len(frame) == len(expected)
    assert (frame["timestamp"].to_numpy() == expected.index.to_numpy()).all()
    np.testing.assert_array_equal(frame[OHLCV].to_numpy(), expected[OHLCV].to_numpy(dtype=float))


def test_import_eurusd_hourly(store: Store, backtesting_dir: Path) -> None:
    path = backtesting_dir / "EURUSD.csv"
    expected = _pandas_csv(path)
    result = import_bars(store, path, exchange="oanda", symbol="EUR/USD", level="1h")
    assert isinstance(result, ImportResult)
    assert (result.files, result.rows, result.changed) == (1, 5000, 5000)
    assert result.entity_id == "pair_oanda_EUR-USD"
    assert result.first == expected.index[0].to_pydatetime()
    assert result.last == expected.index[-1].to_pydatetime()

    stored = _stored(store, "oanda", "EUR/USD", "1h")
    assert len(stored) == len(expected) == 5000
    times = stored.index.get_level_values("timestamp")
    assert (times.to_numpy() == expected.index.to_numpy()).all()
    np.testing.assert_array_equal(stored[OHLCV].to_numpy(), expected[OHLCV].to_numpy(dtype=float))
    assert stored["quote_volume"].isna().all() and stored["trade_count"].isna().all()

    pair = CryptoPair.query_data(entity_ids=["pair_oanda_EUR-USD"], store=store).iloc[0]
    assert (pair["exchange"], pair["symbol"], pair["base"], pair["quote"]) == ("oanda", "EUR/USD", "EUR", "USD")
    assert bool(pair["active"]) is True
    assert pair["list_timestamp"] == expected.index[0]

    again = import_bars(store, path, exchange="oanda", symbol="EUR/USD", level="1h")
    assert (again.rows, again.changed) == (5000, 0)
    assert len(_stored(store, "oanda", "EUR/USD", "1h")) == 5000


def _dump(store: Store) -> list[tuple[object, ...]]:
    """Every bar and pair row exactly as stored, in key order."""
    from sqlalchemy import text

    with store.engine.connect() as connection:
        return [tuple(row) for table in ("bar", "crypto_pair")
                for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2, 3"))]


@pytest.mark.parametrize("unit", ["ms", "s", "us"])
def test_goog_imports_in_every_time_unit(backtesting_dir: Path, tmp_path: Path, unit: str) -> None:
    """GOOG.csv (daily, 2004–2013) as shipped (ISO dates) and with epoch s / ms / µs times: the same stored rows.
    Fix: times before 2009 in ms were rejected as "epoch seconds instead of ms?" — the unit is told by magnitude."""
    path = backtesting_dir / "GOOG.csv"
    expected = _pandas_csv(path)
    stores = {name: Store(f"sqlite:///{tmp_path / name / 'zvt.db'}") for name in ("iso", unit)}
    try:
        result = import_bars(stores["iso"], path, exchange="nasdaq", symbol="GOOG/USD", level="1d")
        assert (result.rows, result.inserted, result.first) == (2148, 2148, pd.Timestamp("2004-08-19", tz="UTC"))
        stored = _stored(stores["iso"], "nasdaq", "GOOG/USD", "1d")
        assert (stored.index.get_level_values("timestamp") == expected.index).all()
        np.testing.assert_array_equal(stored[OHLCV].to_numpy(), expected[OHLCV].to_numpy(dtype=float))

        epoch = tmp_path / f"GOOG-{unit}.csv"
        scale = {"s": 1, "ms": 1_000, "us": 1_000_000}[unit]
        seconds = expected.index.as_unit("s").asi8
        expected.rename(columns=str.title).set_axis(seconds * scale).to_csv(epoch)  # the layout ",Open,…,Volume"
        assert open(epoch).read().splitlines()[1].startswith(str(1_092_873_600 * scale))
        import_bars(stores[unit], epoch, exchange="nasdaq", symbol="GOOG/USD", level="1d")
        assert _dump(stores[unit]) == _dump(stores["iso"])
    finally:
        for store in stores.values():
            store.dispose()


def test_epoch_seconds_in_a_ms_column_are_still_refused(sqlite_store: Store) -> None:
    """The check that times are not seconds stays, by magnitude: 1.09e9 read as ms would be 1970-01-13."""
    frame = pd.DataFrame({"entity_id": "pair_nasdaq_GOOG-USD", "timestamp": [1_092_873_600, 1_092_960_000],
                          "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0})
    with pytest.raises(InvalidDataError, match=r"looks like epoch seconds \(\|value\| < 1e11\), not ms: 2"):
        sqlite_store.write(Bar, frame, level="1d")


def test_files_off_the_level_grid_are_rejected(sqlite_store: Store, backtesting_dir: Path) -> None:
    # BTCUSD.csv holds month-end bars: on the 1d grid, but no level has that spacing.
    with pytest.raises(InvalidInputError, match=r"no two bars are one 1d apart .*no supported level"):
        import_bars(sqlite_store, backtesting_dir / "BTCUSD.csv", exchange="bitstamp", symbol="BTC/USD", level="1d")
    # A daily file declared as hourly would land on the hourly grid: the spacing check names the right level.
    with pytest.raises(InvalidInputError, match=r"not 1h bars; import with level='1d'"):
        import_bars(sqlite_store, backtesting_dir / "GOOG.csv", exchange="nasdaq", symbol="GOOG/USD", level="1h")
    # Hourly bars declared as daily are off the daily grid: the store's validation says so.
    with pytest.raises(InvalidDataError, match="timestamp not aligned to its level's grid"):
        import_bars(sqlite_store, backtesting_dir / "EURUSD.csv", exchange="oanda", symbol="EUR/USD", level="1d")
    assert Bar.query_data(level="1d", store=sqlite_store).empty
    assert Bar.query_data(level="1h", store=sqlite_store).empty


# -- Binance public-data klines ----------------------------------------------------------------------------------
@pytest.mark.parametrize("unit", ["ms", "us"])
def test_read_binance_klines(tmp_path: Path, klines: Callable[..., pd.DataFrame], unit: str) -> None:
    raw = klines("2024-12-31 22:00", 120, unit=unit)
    path = tmp_path / f"BTCUSDT-1m-{unit}.csv"
    raw.to_csv(path, header=False, index=False)
    frame = read_bars_file(path)
    assert list(frame.columns) == ["timestamp", *OHLCV, "quote_volume", "trade_count"]
    expected_times = pd.date_range("2024-12-31 22:00", periods=120, freq="1min", tz="UTC")
    assert (frame["timestamp"].to_numpy() == expected_times.to_numpy()).all()
    np.testing.assert_array_equal(frame[OHLCV].to_numpy(), raw[OHLCV].to_numpy())
    np.testing.assert_array_equal(frame["quote_volume"].to_numpy(), raw["quote_asset_volume"].to_numpy())
    assert str(frame["trade_count"].dtype) == "Int64"
    np.testing.assert_array_equal(frame["trade_count"].to_numpy(dtype="int64"), raw["number_of_trades"].to_numpy())


def test_import_binance_ms_and_us_files_with_header_and_zip(
    sqlite_store: Store, tmp_path: Path, klines: Callable[..., pd.DataFrame]
) -> None:
    """December 2024 in ms (with Binance's optional header line), January 2025 in µs inside a zip."""
    december = klines("2024-12-31 22:00", 120, unit="ms", seed=1)
    january = klines("2025-01-01 00:00", 120, unit="us", seed=2)
    first = tmp_path / "BTCUSDT-1m-2024-12-31.csv"
    december.to_csv(first, index=False)
    second = tmp_path / "BTCUSDT-1m-2025-01-01.zip"
    with zipfile.ZipFile(second, "w") as archive:
        archive.writestr("BTCUSDT-1m-2025-01-01.csv", january.to_csv(header=False, index=False))

    result = import_bars(sqlite_store, [second, first], exchange="binance", symbol="BTC/USDT", level="1m")
    assert (result.files, result.rows, result.changed) == (2, 240, 240)
    assert result.first == pd.Timestamp("2024-12-31 22:00", tz="UTC")
    assert result.last == pd.Timestamp("2025-01-01 01:59", tz="UTC")

    stored = _stored(sqlite_store, "binance", "BTC/USDT", "1m").reset_index()
    both = pd.concat([december, january], ignore_index=True)
    expected_times = pd.date_range("2024-12-31 22:00", periods=240, freq="1min", tz="UTC")
    assert (stored["timestamp"].to_numpy() == expected_times.to_numpy()).all()
    np.testing.assert_array_equal(stored[OHLCV].to_numpy(), both[OHLCV].to_numpy())
    np.testing.assert_array_equal(stored["quote_volume"].to_numpy(), both["quote_asset_volume"].to_numpy())
    np.testing.assert_array_equal(stored["trade_count"].to_numpy(dtype="int64"), both["number_of_trades"].to_numpy())

    again = import_bars(sqlite_store, [first, second], exchange="binance", symbol="BTC/USDT", level="1m")
    assert (again.rows, again.changed) == (240, 0)


def test_forced_binance_format(tmp_path: Path, klines: Callable[..., pd.DataFrame]) -> None:
    path = tmp_path / "klines.data"
    klines("2024-01-01", 10).to_csv(path, header=False, index=False)
    assert len(read_bars_file(path, fmt="binance")) == 10
    short = tmp_path / "short.csv"
    pd.DataFrame({"a": [1], "b": [2]}).to_csv(short, index=False)
    with pytest.raises(ImportFormatError, match=r"has 2 columns, Binance klines have 12"):
        read_bars_file(short, fmt="binance")
    with pytest.raises(InvalidInputError, match="unknown file format 'xls'"):
        read_bars_file(path, fmt="xls")


# -- freqtrade -----------------------------------------------------------------------------------------------------
def _candles(n: int = 48) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    open_ = np.round(2000 + rng.random(n) * 50, 2)
    close = np.round(2000 + rng.random(n) * 50, 2)
    return pd.DataFrame(
        {
            "date": pd.date_range("2024-03-01", periods=n, freq="1h", tz="UTC"),
            "open": open_,
            "high": np.maximum(open_, close) + 1.25,
            "low": np.minimum(open_, close) - 0.75,
            "close": close,
            "volume": np.round(rng.random(n) * 100, 4),
        }
    )


@pytest.mark.parametrize("name", ["ETH_USDT-1h.json", "ETH_USDT-1h.json.gz"])
def test_freqtrade_json_round_trip(sqlite_store: Store, tmp_path: Path, name: str) -> None:
    candles = _candles()
    rows = [[int(ts.value // 1_000_000), *values] for ts, *values in candles.itertuples(index=False)]
    path = tmp_path / name
    text = json.dumps(rows)
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)

    frame = read_bars_file(path)
    pd.testing.assert_frame_equal(frame, candles.rename(columns={"date": "timestamp"}).astype(
        {"timestamp": "datetime64[ms, UTC]"}))
    result = import_bars(sqlite_store, path, exchange="binance", symbol="ETH/USDT", level="1h")
    assert (result.rows, result.changed) == (48, 48)
    stored = _stored(sqlite_store, "binance", "ETH/USDT", "1h").reset_index()
    pd.testing.assert_frame_equal(stored[["timestamp", *OHLCV]], frame)


def test_freqtrade_feather_perp(sqlite_store: Store, tmp_path: Path) -> None:
    candles = _candles()
    path = tmp_path / "ETH_USDT_USDT-1h-futures.feather"
    candles.to_feather(path)
    frame = read_bars_file(path)
    pd.testing.assert_frame_equal(frame, candles.rename(columns={"date": "timestamp"}).astype(
        {"timestamp": "datetime64[ms, UTC]"}))

    result = import_bars(sqlite_store, path, exchange="binanceusdm", symbol="ETH/USDT:USDT", level="1h")
    assert result.entity_id == "perp_binanceusdm_ETH-USDT.USDT"
    assert (result.rows, result.changed) == (48, 48)
    perp = CryptoPerp.query_data(entity_ids=[result.entity_id], store=sqlite_store).iloc[0]
    assert (perp["base"], perp["quote"], perp["settle"]) == ("ETH", "USDT", "USDT")
    assert perp["contract_size"] == 1.0 and bool(perp["linear"]) is True
    assert perp["list_timestamp"] == candles["date"].iloc[0]


# -- generic files ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("unit", "scale"), [("s", 1), ("ms", 1_000), ("us", 1_000_000), ("ns", 1_000_000_000)])
def test_epoch_units_detected_by_magnitude(tmp_path: Path, unit: str, scale: int) -> None:
    candles = _candles(5)
    seconds = candles["date"].dt.as_unit("s").astype("int64")
    path = tmp_path / f"epoch-{unit}.csv"
    candles.assign(date=seconds * scale).rename(columns={"date": "Time"}).to_csv(path, index=False)
    frame = read_bars_file(path)
    assert (frame["timestamp"].to_numpy() == candles["date"].to_numpy()).all()


def test_parse_times_text_and_mixed_units() -> None:
    text = pd.Series(["2024-01-01T00:00:00Z", "2024-01-01 01:00:00+01:00", "2024-01-01"])
    assert parse_times(text).tolist() == [pd.Timestamp("2024-01-01", tz="UTC")] * 3
    epochs = pd.Series([1_704_067_200, 1_704_067_200_000, 1_704_067_200_000_000, 1_704_067_200_000_000_000])
    assert parse_times(epochs).tolist() == [pd.Timestamp("2024-01-01", tz="UTC")] * 4
    assert str(parse_times(pd.Series([1_704_067_200.5])).dtype) == "datetime64[ms, UTC]"
    assert parse_times(pd.Series([1_704_067_200.5])).iloc[0] == pd.Timestamp("2024-01-01 00:00:00.5", tz="UTC")


def test_infinite_and_overflowing_epoch_numbers_are_unreadable_times() -> None:
    """Fix: inf and 1e308 were cast to int64 (undefined behaviour: NaT by luck, or a garbage time)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns when it casts inf to int64
        with pytest.raises(ImportFormatError,
                           match=r"has 3 empty or unreadable value\(s\), first '1e\+308' in data row 2"):
            parse_times(pd.Series([1.7e12, 1e308, np.inf, -np.inf]))


@pytest.mark.parametrize("sep", [";", "\t"])
def test_other_delimiters(tmp_path: Path, sep: str) -> None:
    candles = _candles(5)
    path = tmp_path / "bars.txt"
    candles.to_csv(path, sep=sep, index=False)
    pd.testing.assert_frame_equal(read_bars_file(path), candles.rename(columns={"date": "timestamp"}).astype(
        {"timestamp": "datetime64[ms, UTC]"}))


def test_parquet_with_datetime_index_and_other_case(tmp_path: Path) -> None:
    candles = _candles(10).set_index("date")
    candles.columns = ["OPEN", "High", "low", "Close", "Vol"]
    path = tmp_path / "bars.parquet"
    candles.to_parquet(path)
    frame = read_bars_file(path)
    assert list(frame.columns) == ["timestamp", *OHLCV]
    assert len(frame) == 10 and frame["timestamp"].iloc[0] == pd.Timestamp("2024-03-01", tz="UTC")


def test_unknown_extension_is_sniffed(tmp_path: Path) -> None:
    candles = _candles(5)
    text_file = tmp_path / "bars.dat"
    candles.to_csv(text_file, index=False)
    assert len(read_bars_file(text_file)) == 5
    parquet_file = tmp_path / "bars.bin"
    candles.to_parquet(parquet_file)
    assert len(read_bars_file(parquet_file)) == 5


# -- entities ------------------------------------------------------------------------------------------------------
def test_list_timestamp_moves_back_only(store: Store, tmp_path: Path) -> None:
    candles = _candles(48)
    late, early = tmp_path / "late.feather", tmp_path / "early.feather"
    candles.iloc[24:].reset_index(drop=True).to_feather(late)
    candles.iloc[:30].reset_index(drop=True).to_feather(early)

    def listed() -> pd.Timestamp:
        return CryptoPair.query_data(store=store)["list_timestamp"].iloc[0]

    import_bars(store, late, exchange="binance", symbol="ETH/USDT", level="1h")
    assert listed() == candles["date"].iloc[24]
    result = import_bars(store, early, exchange="binance", symbol="ETH/USDT", level="1h")
    assert (result.rows, result.changed) == (30, 24)  # six bars overlap and are unchanged
    assert listed() == candles["date"].iloc[0]
    import_bars(store, late, exchange="binance", symbol="ETH/USDT", level="1h")
    assert listed() == candles["date"].iloc[0]
    assert len(CryptoPair.query_data(store=store)) == 1


def test_known_entity_keeps_its_fields(store: Store, tmp_path: Path) -> None:
    """Only ``list_timestamp`` of a perp loaded from the exchange changes, and only when bars start earlier."""
    candles = _candles(24)
    path = tmp_path / "BTC_USD_BTC-1h.feather"
    candles.to_feather(path)
    eid = "perp_binancecoinm_BTC-USD.BTC"
    listed_later = pd.Timestamp("2024-06-01", tz="UTC")
    known = {
        "entity_id": eid, "entity_type": "perp", "exchange": "binancecoinm", "symbol": "BTC/USD:BTC",
        "exchange_symbol": "BTCUSD_PERP", "active": False, "list_timestamp": listed_later, "base": "BTC",
        "quote": "USD", "settle": "BTC", "contract_size": 100.0, "linear": False, "maker_fee": 0.0002,
    }
    store.write(CryptoPerp, pd.DataFrame([known]))
    import_bars(store, path, exchange="binancecoinm", symbol="BTC/USD:BTC", level="1h")
    row = CryptoPerp.query_data(entity_ids=[eid], store=store).iloc[0]
    assert row["list_timestamp"] == candles["date"].iloc[0]
    assert (row["exchange_symbol"], bool(row["active"]), row["contract_size"], bool(row["linear"])) == (
        "BTCUSD_PERP", False, 100.0, False)
    assert row["maker_fee"] == 0.0002 and pd.isna(row["taker_fee"])


def test_kind_override_and_validation(sqlite_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "bars.feather"
    _candles(5).to_feather(path)
    inverse = import_bars(sqlite_store, path, exchange="binancecoinm", symbol="ETH/USD:ETH", level="1h")
    row = CryptoPerp.query_data(entity_ids=[inverse.entity_id], store=sqlite_store).iloc[0]
    assert (row["settle"], bool(row["linear"])) == ("ETH", False)

    forced = import_bars(sqlite_store, path, exchange="okx", symbol="ETH/USDT", level="1h", kind="perp")
    assert forced.entity_id == "perp_okx_ETH-USDT"
    row = CryptoPerp.query_data(entity_ids=[forced.entity_id], store=sqlite_store).iloc[0]
    assert (row["settle"], bool(row["linear"])) == ("USDT", True)

    with pytest.raises(InvalidInputError, match="unknown kind 'swap'"):
        import_bars(sqlite_store, path, exchange="okx", symbol="ETH/USDT", level="1h", kind="swap")
    with pytest.raises(InvalidInputError, match="names a derivative"):
        import_bars(sqlite_store, path, exchange="okx", symbol="ETH/USDT:USDT", level="1h", kind="pair")
    with pytest.raises(InvalidInputError, match="dated future"):
        import_bars(sqlite_store, path, exchange="okx", symbol="ETH/USDT:USDT-240329", level="1h")
    with pytest.raises(InvalidInputError, match="invalid symbol"):
        import_bars(sqlite_store, path, exchange="okx", symbol="ETHUSDT", level="1h")
    with pytest.raises(InvalidInputError, match="unknown level"):
        import_bars(sqlite_store, path, exchange="okx", symbol="ETH/USDT", level="3h")


# -- errors --------------------------------------------------------------------------------------------------------
def test_missing_volume_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    _candles(5).drop(columns="volume").to_csv(path, index=False)
    with pytest.raises(ImportFormatError, match=r"prices\.csv has no volume column .*add or rename"):
        read_bars_file(path)


def test_missing_time_column(tmp_path: Path) -> None:
    path = tmp_path / "no-time.csv"
    _candles(5).drop(columns="date").to_csv(path, index=False)
    with pytest.raises(ImportFormatError, match=r"no-time\.csv has no time column"):
        read_bars_file(path)


def test_garbage_files(tmp_path: Path) -> None:
    binary = tmp_path / "garbage.csv"
    binary.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ImportFormatError, match=r"garbage\.csv"):
        read_bars_file(binary)
    prose = tmp_path / "notes.csv"
    prose.write_text("these are my notes\nnot bars at all\n")
    with pytest.raises(ImportFormatError, match=r"notes\.csv"):
        read_bars_file(prose)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(ImportFormatError, match=r"cannot read .*broken\.parquet as parquet"):
        read_bars_file(broken)
    not_json = tmp_path / "broken.json"
    not_json.write_text('[[1704067200000, 1, 2')
    with pytest.raises(ImportFormatError, match=r"broken\.json"):
        read_bars_file(not_json)
    wrong_json = tmp_path / "object.json"
    wrong_json.write_text('{"pair": "BTC/USDT"}')
    with pytest.raises(ImportFormatError, match="not a candle list"):
        read_bars_file(wrong_json)


def test_bad_values_are_located(tmp_path: Path) -> None:
    path = tmp_path / "bad-value.csv"
    frame = _candles(5).astype({"close": object})
    frame.loc[3, "close"] = "n/a?"
    frame.to_csv(path, index=False)
    with pytest.raises(ImportFormatError, match=r"'close' holds 1 non-numeric value\(s\), first 'n/a\?' in data row 4"):
        read_bars_file(path)
    dates = tmp_path / "bad-date.csv"
    frame = _candles(5).astype({"date": object})
    frame.loc[2, "date"] = "yesterday"
    frame.to_csv(dates, index=False)
    with pytest.raises(ImportFormatError, match=r"bad-date\.csv.*time column 'date'"):
        read_bars_file(dates)
    gap = tmp_path / "missing-time.csv"
    frame = _candles(5).assign(date=lambda f: f["date"].dt.as_unit("s").astype("int64").astype("float64"))
    frame.loc[1, "date"] = np.nan
    frame.to_csv(gap, index=False)
    with pytest.raises(ImportFormatError, match=r"time column 'date' has 1 empty .*first an empty cell in data row 2"):
        read_bars_file(gap)


def test_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ImportFormatError, match=r"empty\.csv is empty"):
        read_bars_file(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("timestamp,open,high,low,close,volume\n")
    with pytest.raises(ImportFormatError, match=r"header\.csv contains no bars"):
        read_bars_file(header_only)
    empty_json = tmp_path / "empty.json"
    empty_json.write_text("[]")
    with pytest.raises(ImportFormatError, match=r"empty\.json"):
        read_bars_file(empty_json)


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    odd = tmp_path / "bars.xlsx"
    odd.write_bytes(b"PK\x03\x04\x00\x00binary spreadsheet")
    with pytest.raises(ImportFormatError, match=r"cannot tell the format of .*bars\.xlsx: unknown extension '\.xlsx'"):
        read_bars_file(odd)
    with pytest.raises(ImportFormatError, match="does not exist"):
        read_bars_file(tmp_path / "missing.csv")


def test_import_a_folder(sqlite_store: Store, tmp_path: Path, klines: Callable[..., pd.DataFrame]) -> None:
    folder = tmp_path / "BTCUSDT-1h"
    folder.mkdir()
    for month, start in (("01", "2024-01-01"), ("02", "2024-02-01")):
        klines(start, 24, step_ms=3_600_000, seed=int(month)).to_csv(
            folder / f"BTCUSDT-1h-2024-{month}.csv", header=False, index=False)
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    result = import_bars(sqlite_store, folder, exchange="binance", symbol="BTC/USDT", level="1h")
    assert (result.files, result.rows, result.changed) == (2, 48, 48)
    assert result.last == pd.Timestamp("2024-02-01 23:00", tz="UTC")


# -- conflicts with stored bars ---------------------------------------------------------------------------------
def _conflicting(tmp_path: Path, klines: Callable[..., pd.DataFrame]) -> tuple[Path, Path]:
    """An hourly file of 10 bars stored first, and a second file: the same 10 with bars 2 and 3 changed, + 5 new."""
    frame = klines("2024-01-01", 15, step_ms=3_600_000)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    frame.head(10).to_csv(first, header=False, index=False)
    changed = frame.copy()
    changed.loc[[2, 3], "volume"] = changed.loc[[2, 3], "volume"] + 1.0
    changed.to_csv(second, header=False, index=False)
    return first, second


def test_import_reports_new_and_changed_bars(sqlite_store: Store, tmp_path: Path,
                                             klines: Callable[..., pd.DataFrame]) -> None:
    """Fix: re-importing different values silently replaced stored bars ("1 new or changed")."""
    first, second = _conflicting(tmp_path, klines)
    import_bars(sqlite_store, first, exchange="binance", symbol="BTC/USDT", level="1h")
    result = import_bars(sqlite_store, second, exchange="binance", symbol="BTC/USDT", level="1h")
    assert (result.rows, result.inserted, result.updated, result.kept) == (15, 5, 2, 0)
    stored = _stored(sqlite_store, "binance", "BTC/USDT", "1h")
    assert stored["volume"].tolist() == pd.read_csv(second, header=None)[5].tolist()


def test_import_on_conflict_skip_and_error(sqlite_store: Store, tmp_path: Path,
                                           klines: Callable[..., pd.DataFrame]) -> None:
    first, second = _conflicting(tmp_path, klines)
    import_bars(sqlite_store, first, exchange="binance", symbol="BTC/USDT", level="1h")
    before = _dump(sqlite_store)
    with pytest.raises(InvalidDataError, match=r"Bar: 2 of 15 rows differ from the stored rows") as info:
        import_bars(sqlite_store, second, exchange="binance", symbol="BTC/USDT", level="1h", on_conflict="error")
    volumes = pd.read_csv(first, header=None)[5]
    assert str(info.value).endswith(  # the bars that differ, and how
        f"First: 2024-01-01 02:00:00+00:00 volume {volumes[2]} stored, {volumes[2] + 1.0} in the file; "
        f"2024-01-01 03:00:00+00:00 volume {volumes[3]} stored, {volumes[3] + 1.0} in the file")
    assert _dump(sqlite_store) == before  # not even the five new bars
    kept = import_bars(sqlite_store, second, exchange="binance", symbol="BTC/USDT", level="1h", on_conflict="skip")
    assert (kept.inserted, kept.updated, kept.kept) == (5, 0, 2)
    stored = _stored(sqlite_store, "binance", "BTC/USDT", "1h")
    assert stored["volume"].tolist()[:10] == pd.read_csv(first, header=None)[5].tolist()


def test_conflict_with_an_empty_stored_value_is_named(sqlite_store: Store, tmp_path: Path,
                                                     klines: Callable[..., pd.DataFrame]) -> None:
    """Bars stored without trade counts, then a Binance file with them: the missing stored value is shown
    (found by the adversarial test: comparing with a missing value raised a bare TypeError)."""
    frame = klines("2024-01-01", 3, step_ms=3_600_000)
    generic = tmp_path / "generic.csv"
    frame[["open_time", "open", "high", "low", "close", "volume"]].to_csv(generic, index=False)
    binance = tmp_path / "binance.csv"
    frame.to_csv(binance, header=False, index=False)
    import_bars(sqlite_store, generic, exchange="binance", symbol="BTC/USDT", level="1h")
    with pytest.raises(InvalidDataError, match=r"3 of 3 rows differ") as info:
        import_bars(sqlite_store, binance, exchange="binance", symbol="BTC/USDT", level="1h", on_conflict="error")
    first_count = frame["number_of_trades"][0]
    assert f"First: 2024-01-01 00:00:00+00:00 quote_volume nan stored, {frame['quote_asset_volume'][0]} in the " \
           f"file, trade_count <NA> stored, {first_count} in the file;" in str(info.value)


def test_future_bars_are_refused(sqlite_store: Store, tmp_path: Path, klines: Callable[..., pd.DataFrame]) -> None:
    """Fix: one bar dated 2029 was imported, and recording then resumed after it (issue 11, item 5)."""
    frame = klines("2024-01-01", 10)
    frame.loc[9, "open_time"] = pd.Timestamp("2029-01-01", tz="UTC").value // 1_000_000
    path = tmp_path / "stray.csv"
    frame.to_csv(path, header=False, index=False)
    future = r"1 of 10 rows rejected \(opens after the current bar by the clock"
    with pytest.raises(InvalidDataError, match=future) as info:
        import_bars(sqlite_store, path, exchange="binance", symbol="BTC/USDT", level="1m")
    assert "2029-01-01 00:00:00+00:00" in str(info.value)
    assert _stored(sqlite_store, "binance", "BTC/USDT", "1m").empty
    # by a clock in the past, the last of ten ordinary bars has not opened either
    with pytest.raises(InvalidDataError, match=r"1 of 10 rows rejected \(opens after .*2024-01-01 00:08 UTC"):
        import_bars(sqlite_store, klines("2024-01-01", 10).pipe(_write_headerless, tmp_path / "ok.csv"),
                    exchange="binance", symbol="BTC/USDT", level="1m", now_ms=1_704_067_200_000 + 8 * 60_000 + 59_999)


def _write_headerless(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, header=False, index=False)
    return path


@pytest.mark.parametrize("value", ["inf", "-inf", "1e308", "Infinity"])
def test_infinite_and_absurd_prices_are_refused(sqlite_store: Store, tmp_path: Path, value: str) -> None:
    path = tmp_path / "inf.csv"
    frame = _candles(5).astype({"high": object})
    frame.loc[2, "high"] = value
    frame.to_csv(path, index=False)
    with pytest.raises(InvalidDataError, match=r"1 of 5 rows rejected \(high (is infinite|above 1e\+15)"):
        import_bars(sqlite_store, path, exchange="binance", symbol="ETH/USDT", level="1h")
    assert _stored(sqlite_store, "binance", "ETH/USDT", "1h").empty


def test_one_bad_file_writes_nothing(sqlite_store: Store, tmp_path: Path) -> None:
    candles = _candles(10)
    good, bad = tmp_path / "good.feather", tmp_path / "bad.feather"
    candles.iloc[:5].reset_index(drop=True).to_feather(good)
    broken = candles.iloc[5:].reset_index(drop=True)
    broken.loc[2, "low"] = broken.loc[2, "high"] + 1
    broken.to_feather(bad)
    with pytest.raises(InvalidDataError, match=r"1 of 10 rows rejected \(low above min\(open, close\)"):
        import_bars(sqlite_store, [good, bad], exchange="binance", symbol="ETH/USDT", level="1h")
    assert _stored(sqlite_store, "binance", "ETH/USDT", "1h").empty
    with pytest.raises(InvalidInputError, match="no files to import"):
        import_bars(sqlite_store, [], exchange="binance", symbol="ETH/USDT", level="1h")


# -- the fast CSV reader (pyarrow) agrees with pandas' -------------------------------------------------------------
_CSV_VARIANTS = {
    "iso-z": "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
             "2024-01-01T00:01:00Z,1.5,2,1,1,3\n",
    "offset": "Date,Open,High,Low,Close,Volume\n2024-01-01 01:00:00+01:00,1,2,0.5,1.5,10\n"
              "2024-01-01 01:01:00+01:00,1.5,2,1,1,3\n",
    "naive-unnamed": ",Open,High,Low,Close,Volume\n2024-01-01 00:00:00,1,2,0.5,1.5,10\n"
                     "2024-01-01 00:01:00,1.5,2,1,1,3\n",
    "dates": "date;open;high;low;close;volume\n2024-01-01;1;2;0.5;1.5;10\n2024-01-02;1.5;2;1;1;3\n",
    "epoch-ms-headerless": "1704067200000,1,2,0.5,1.5,10\n1704067260000,1.5,2,1,1,3\n",
    "missing-optional": "timestamp,open,high,low,close,volume,quote_volume,trade_count\n"
                        "1704067200,1,2,0.5,1.5,10,,NA\n1704067260,1.5,2,1,1,3,4.5,7\n",
    "bom-quoted": '\ufefftimestamp,open,high,low,close,volume\n"2024-01-01T00:00:00Z","1",2,0.5,1.5,10\n'
                  '"2024-01-01T00:01:00Z","1.5",2,1,1,3\n',
}


@pytest.mark.parametrize("name", sorted(_CSV_VARIANTS))
def test_fast_csv_reader_matches_pandas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_text(_CSV_VARIANTS[name], encoding="utf-8")
    fast = read_bars_file(path)
    from zvt_crypto.dataio import importers

    monkeypatch.setattr(importers, "_read_csv_fast", lambda *args: None)  # pandas' reader, as before
    reference = read_bars_file(path)
    pd.testing.assert_frame_equal(fast, reference)
    assert str(fast["timestamp"].dtype) == "datetime64[ms, UTC]" and fast["timestamp"].iloc[0].minute == 0


def test_plain_csv_is_not_parsed_by_pandas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole file goes through pyarrow's reader (pandas only peeks at the first line for a header)."""
    path = tmp_path / "bars.csv"
    _candles(50).to_csv(path, index=False)
    whole_reads: list[dict[str, object]] = []
    real = pd.read_csv

    def counting(*args: object, **kwargs: object) -> pd.DataFrame:
        if kwargs.get("nrows") != 1:
            whole_reads.append(kwargs)
        return real(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(pd, "read_csv", counting)
    assert len(read_bars_file(path)) == 50
    assert whole_reads == []


def test_bad_row_deep_in_a_large_file_is_named_and_nothing_written(sqlite_store: Store, tmp_path: Path) -> None:
    """Rows the fast reader cannot type (text in a price, a ragged row) are still located and refused whole."""
    frame = _candles(30_000).astype({"close": object})
    frame.loc[25_000, "close"] = "12,5"
    text_price = tmp_path / "text-price.csv"
    frame.to_csv(text_price, index=False)
    located = r"'close' holds 1 non-numeric value\(s\), first '12,5' in data row 25001;"
    with pytest.raises(ImportFormatError, match=located):
        import_bars(sqlite_store, text_price, exchange="binance", symbol="ETH/USDT", level="1h")
    ragged = tmp_path / "ragged.csv"
    lines = _candles(30_000).to_csv(index=False).splitlines()
    lines[20_000] += ",1,2"
    ragged.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportFormatError, match=r"cannot read .*ragged\.csv as csv"):
        import_bars(sqlite_store, ragged, exchange="binance", symbol="ETH/USDT", level="1h")
    assert _stored(sqlite_store, "binance", "ETH/USDT", "1h").empty
