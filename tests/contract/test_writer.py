"""The write path on both backends: round trips, idempotence, upserts, all-or-nothing rejection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from zvt_crypto.contract.errors import InvalidDataError, InvalidInputError, StoreError
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.writer import WriteResult
from zvt_crypto.domain import (
    Bar,
    CryptoPair,
    CryptoPerp,
    FundingRate,
    KnownGap,
    OpenInterest,
    OrderBookSnapshot,
    Trade,
)

BarsFactory = Callable[..., pd.DataFrame]
BTC = "pair_binance_BTC-USDT"
ETH = "pair_binance_ETH-USDT"


def read_bars(store: Store, level: str = "1h") -> pd.DataFrame:
    return Bar.query_data(store=store, level=level)


def raw_table(store: Store, table: str) -> list[tuple[object, ...]]:
    """Every row exactly as stored, in key order (for before/after comparisons)."""
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2, 3"))]


# -- round trips -------------------------------------------------------------------------------------------------
def test_bar_round_trip(store: Store, bars: BarsFactory) -> None:
    frame = pd.concat([bars(BTC, n=48, seed=1), bars(ETH, n=48, seed=2)], ignore_index=True)
    result = store.write(Bar, frame)
    assert result == WriteResult("Bar", rows=96, inserted=96, updated=0)
    assert result.changed == 96
    assert result.unchanged == 0

    out = read_bars(store)
    assert out.index.names == ["entity_id", "timestamp"]
    assert len(out) == 96
    assert out.index.is_monotonic_increasing
    stamps = out.index.get_level_values("timestamp")
    assert isinstance(stamps, pd.DatetimeIndex)
    assert str(stamps.tz) == "UTC"
    assert stamps[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert stamps[47] == pd.Timestamp("2024-01-02 23:00", tz="UTC")
    assert list(out.columns) == ["level", "open", "high", "low", "close", "volume", "quote_volume", "trade_count"]
    for name in ["open", "high", "low", "close", "volume", "quote_volume"]:
        assert out[name].dtype == np.float64, name
    assert out["trade_count"].dtype == "Int64"
    assert (out["level"] == "1h").all()

    expected = frame.set_index(["entity_id", "timestamp"]).sort_index()
    assert list(out.index.get_level_values("entity_id")) == list(expected.index.get_level_values("entity_id"))
    assert (stamps == expected.index.get_level_values("timestamp")).all()
    for name in ["open", "high", "low", "close", "volume", "quote_volume"]:
        np.testing.assert_array_equal(out[name].to_numpy(), expected[name].to_numpy())  # exact float64
    assert out["trade_count"].tolist() == expected["trade_count"].tolist()


def test_query_output_can_be_written_back(store: Store, bars: BarsFactory) -> None:
    store.write(Bar, bars(n=5))
    out = read_bars(store)
    assert store.write(Bar, out).changed == 0  # indexed (entity_id, timestamp) frames are accepted as they are
    changed = out.assign(close=out["close"] + 0.5, high=out["high"] + 0.5)
    assert store.write(Bar, changed).changed == 5
    assert read_bars(store)["close"].tolist() == changed["close"].tolist()


@pytest.mark.parametrize(
    "timestamps",
    [
        pytest.param([1704067200000, 1704070800000], id="epoch-ms-int"),
        pytest.param([1704067200000.0, 1704070800000.0], id="epoch-ms-float"),
        pytest.param([datetime(2024, 1, 1), datetime(2024, 1, 1, 1)], id="naive-datetime-is-utc"),
        pytest.param(["2024-01-01T08:00:00+08:00", "2024-01-01T09:00:00+08:00"], id="aware-strings"),
        pytest.param(pd.to_datetime(["2024-01-01 03:00", "2024-01-01 04:00"]).tz_localize("Etc/GMT-3"),
                     id="aware-index"),
    ],
)
def test_time_inputs(sqlite_store: Store, timestamps: list[object]) -> None:
    frame = pd.DataFrame({"entity_id": BTC, "timestamp": timestamps, "open": 1.0, "high": 2.0, "low": 0.5,
                          "close": 1.5, "volume": 3.0})
    assert sqlite_store.write(Bar, frame, level="1h").changed == 2
    stamps = read_bars(sqlite_store).index.get_level_values("timestamp")
    assert list(stamps) == [pd.Timestamp("2024-01-01 00:00", tz="UTC"), pd.Timestamp("2024-01-01 01:00", tz="UTC")]


def test_level_argument_and_aliases(store: Store, bars: BarsFactory) -> None:
    frame = bars(n=3, level="4h").drop(columns="level")
    assert store.write(Bar, frame, level="4H").changed == 3
    assert len(Bar.query_data(store=store, level="4h")) == 3
    assert Bar.query_data(store=store, level="1h").empty
    with pytest.raises(InvalidInputError, match="need a level"):
        store.write(Bar, frame)
    with pytest.raises(InvalidInputError, match="unknown level"):
        store.write(Bar, frame, level="1M")


def test_empty_frame_writes_nothing(store: Store, bars: BarsFactory) -> None:
    assert store.write(Bar, bars(n=0)) == WriteResult("Bar", 0, 0, 0)
    assert read_bars(store).empty


def test_unknown_column_rejected(store: Store, bars: BarsFactory) -> None:
    with pytest.raises(InvalidInputError, match="has no column"):
        store.write(Bar, bars(n=2).assign(vwap=1.0))
    assert read_bars(store).empty


# -- idempotence and upserts -------------------------------------------------------------------------------------
def test_rewrite_is_idempotent(store: Store, bars: BarsFactory) -> None:
    frame = bars(n=100)
    frame.loc[::3, "quote_volume"] = np.nan  # NULLs must compare equal too
    frame["trade_count"] = frame["trade_count"].astype("Int64")
    frame.loc[::4, "trade_count"] = pd.NA
    assert store.write(Bar, frame).changed == 100
    before = raw_table(store, "bar")
    again = store.write(Bar, frame)
    assert again == WriteResult("Bar", rows=100, inserted=0, updated=0)
    assert again.unchanged == 100
    assert raw_table(store, "bar") == before
    assert len(read_bars(store)) == 100


def test_upsert_of_open_bar(store: Store, bars: BarsFactory) -> None:
    frame = bars(n=10)
    store.write(Bar, frame)
    last = frame.tail(1).copy()  # the bar that was still open when first recorded …
    last["close"] = last["high"]  # … closed higher
    last["volume"] = last["volume"] + 42.0
    result = store.write(Bar, pd.concat([frame.iloc[:-1], last]))
    assert result == WriteResult("Bar", rows=10, inserted=0, updated=1)
    out = read_bars(store)
    assert len(out) == 10
    row = out.loc[(BTC, last["timestamp"].iloc[0])]
    assert row["close"] == last["close"].iloc[0]
    assert row["volume"] == last["volume"].iloc[0]
    np.testing.assert_array_equal(out["close"].to_numpy()[:-1], frame["close"].to_numpy()[:-1])


def _overlapping(bars: BarsFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Six stored bars, and a batch of ten: the six (bars 1 and 2 with other values) and four new ones."""
    frame = bars(n=10)
    batch = frame.copy()
    batch.loc[[1, 2], "volume"] = batch.loc[[1, 2], "volume"] + 1.0
    return frame.head(6), batch


def test_counts_new_and_changed_rows_separately(store: Store, bars: BarsFactory) -> None:
    stored, batch = _overlapping(bars)
    assert store.write(Bar, stored) == WriteResult("Bar", rows=6, inserted=6, updated=0)
    result = store.write(Bar, batch)
    assert result == WriteResult("Bar", rows=10, inserted=4, updated=2)
    assert (result.changed, result.unchanged) == (6, 4)
    assert read_bars(store)["volume"].tolist() == batch["volume"].tolist()


def test_counts_of_batches_with_holes_and_several_entities(store: Store, bars: BarsFactory) -> None:
    """Stored rows the batch does not hold are not counted; a two-entity batch is counted too."""
    btc, eth = bars(BTC, n=10, seed=1), bars(ETH, n=10, seed=2)
    store.write(Bar, pd.concat([btc, eth.head(4)]))
    sparse = btc.iloc[[0, 3, 9]].assign(volume=[1.0, btc["volume"][3], 2.0])  # 7 stored rows in between
    assert store.write(Bar, sparse) == WriteResult("Bar", rows=3, inserted=0, updated=2)
    both = pd.concat([btc.iloc[[5]].assign(volume=3.0), eth], ignore_index=True)
    assert store.write(Bar, both) == WriteResult("Bar", rows=11, inserted=6, updated=1)
    assert len(read_bars(store)) == 20


def test_on_conflict_skip_keeps_stored_rows(store: Store, bars: BarsFactory) -> None:
    stored, batch = _overlapping(bars)
    store.write(Bar, stored)
    before = raw_table(store, "bar")
    result = store.write(Bar, batch, on_conflict="skip")
    assert result == WriteResult("Bar", rows=10, inserted=4, updated=0, kept=2)
    after = raw_table(store, "bar")
    assert after[:6] == before  # the stored rows, the two that differ included, are unchanged
    assert len(after) == 10
    assert read_bars(store)["volume"].tolist()[6:] == batch["volume"].tolist()[6:]


def test_on_conflict_error_writes_nothing(store: Store, bars: BarsFactory) -> None:
    stored, batch = _overlapping(bars)
    store.write(Bar, stored)
    before = raw_table(store, "bar")
    with pytest.raises(InvalidDataError) as info:
        store.write(Bar, batch, on_conflict="error")
    assert str(info.value) == (
        "Bar: 2 of 10 rows differ from the stored rows with the same key; nothing was written (on conflict: error). "
        "Use on conflict 'update' to replace the stored rows or 'skip' to keep them")
    assert raw_table(store, "bar") == before  # not even the four new rows
    same = store.write(Bar, bars(n=10), on_conflict="error")  # equal stored rows are no conflict
    assert same == WriteResult("Bar", rows=10, inserted=4, updated=0)


def test_unknown_on_conflict_rejected(store: Store, bars: BarsFactory) -> None:
    with pytest.raises(InvalidInputError, match="on_conflict must be one of update, skip, error"):
        store.write(Bar, bars(n=2), on_conflict="replace")
    assert read_bars(store).empty


def test_future_bars_need_the_clock(store: Store, bars: BarsFactory) -> None:
    """The writer checks bars against the clock it is given (the venue's, in the recorders)."""
    frame = bars(n=5)  # 2024-01-01 00:00 … 04:00
    with pytest.raises(InvalidDataError, match="1 of 5 rows rejected"):
        store.write(Bar, frame, now_ms=int(frame["timestamp"].iloc[3].value // 1_000_000) + 1)
    assert read_bars(store).empty
    assert store.write(Bar, frame, now_ms=int(frame["timestamp"].iloc[4].value // 1_000_000)).inserted == 5


def test_upsert_single_value_column(store: Store) -> None:
    """Only one non-key column (PostgreSQL needs ROW(...) for a one-column comparison)."""
    frame = pd.DataFrame({"entity_id": "perp_binanceusdm_BTC-USDT.USDT",
                          "timestamp": pd.date_range("2024-01-01", periods=3, freq="8h", tz="UTC"),
                          "funding_rate": [0.0001, -0.0002, 0.0003]})
    assert store.write(FundingRate, frame).changed == 3
    assert store.write(FundingRate, frame).changed == 0
    assert store.write(FundingRate, frame.assign(funding_rate=[0.0001, -0.0002, 0.0004])).changed == 1
    out = FundingRate.query_data(store=store)
    assert out["funding_rate"].tolist() == [0.0001, -0.0002, 0.0004]
    assert out["mark_price"].isna().all()


def test_key_only_rows(store: Store) -> None:
    frame = pd.DataFrame({"entity_id": [BTC], "timestamp": [1704067200000], "trade_id": ["1"]})
    with pytest.raises(InvalidDataError, match="missing required column"):
        store.write(Trade, frame)


# -- rejection: all or nothing -----------------------------------------------------------------------------------
def _bad_ohlc(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[[3, 7], "low"] = frame.loc[[3, 7], "open"] + 5.0
    return frame


def _unaligned(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[[3, 7], "timestamp"] = frame.loc[[3, 7], "timestamp"] + pd.Timedelta(minutes=1)
    return frame


def _nan_required(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[[3, 7], "close"] = np.nan
    return frame


def _seconds(frame: pd.DataFrame) -> pd.DataFrame:
    stamps = frame["timestamp"].dt.as_unit("ms").astype("int64")
    return frame.assign(timestamp=np.where(frame.index.isin([3, 7]), stamps // 1000, stamps))


def _microseconds(frame: pd.DataFrame) -> pd.DataFrame:
    stamps = frame["timestamp"].dt.as_unit("ms").astype("int64")
    return frame.assign(timestamp=np.where(frame.index.isin([3, 7]), stamps * 1000, stamps))


def _negative_volume(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[[3, 7], "volume"] = -1.0
    return frame


def _non_positive_price(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[[3, 7], ["open", "high", "low", "close"]] = 0.0
    return frame


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (_bad_ohlc, "low above min(open, close): 2"),
        (_unaligned, "timestamp not aligned to its level's grid: 2"),
        (_nan_required, "close is empty (NaN/None): 2"),
        (_seconds, "timestamp looks like epoch seconds (|value| < 1e11), not ms: 2"),
        (_microseconds, "timestamp after 2100 (microseconds instead of ms?): 2"),
        (_negative_volume, "negative volume: 2"),
        (_non_positive_price, "price not positive: 2"),
    ],
)
def test_rejected_batch_changes_nothing(
    store: Store, bars: BarsFactory, spoil: Callable[[pd.DataFrame], pd.DataFrame], reason: str
) -> None:
    existing = bars(n=48, seed=5)
    store.write(Bar, existing)
    before_df = read_bars(store)
    before_raw = raw_table(store, "bar")

    batch = bars(n=20, start=pd.Timestamp("2024-01-02", tz="UTC"), seed=9)  # overlaps 4 … 23 of `existing`
    bad_times = batch.loc[[3, 7], "timestamp"]
    batch = spoil(batch.copy())
    with pytest.raises(InvalidDataError) as info:
        store.write(Bar, batch)
    message = str(info.value)
    assert "2 of 20 rows rejected" in message
    assert reason in message
    assert "nothing was written" in message
    assert "First offending rows" in message
    if spoil not in (_seconds, _microseconds, _unaligned):  # the offending rows are shown with their times
        for stamp in bad_times:
            assert str(stamp) in message

    pd.testing.assert_frame_equal(read_bars(store), before_df)
    assert raw_table(store, "bar") == before_raw


def test_error_shows_first_five_rows(store: Store, bars: BarsFactory) -> None:
    batch = bars(n=30)
    batch["volume"] = -1.0
    with pytest.raises(InvalidDataError) as info:
        store.write(Bar, batch)
    message = str(info.value)
    assert "30 of 30 rows rejected" in message
    assert str(batch["timestamp"][4]) in message
    assert str(batch["timestamp"][5]) not in message
    assert read_bars(store).empty


def test_missing_timestamp_rejected(store: Store, bars: BarsFactory) -> None:
    batch = bars(n=5)
    batch.loc[2, "timestamp"] = pd.NaT
    with pytest.raises(InvalidDataError, match="timestamp is empty"):
        store.write(Bar, batch)
    assert read_bars(store).empty


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("trade_count", [1.0, 2.5, 3.0], "column trade_count cannot be stored as int64"),
        ("close", ["1.5", "abc", "2.0"], "the 'ohlc' check cannot read the values"),
    ],
)
def test_unconvertible_values_rejected(store: Store, bars: BarsFactory, column: str, values: list[object],
                                       message: str) -> None:
    batch = bars(n=3)
    batch[column] = values
    with pytest.raises(InvalidDataError, match=message):
        store.write(Bar, batch)
    with pytest.raises(InvalidDataError, match=f"column {column} cannot be stored"):
        store.write(Bar, batch, validate=False)
    assert read_bars(store).empty


def test_database_error_writes_nothing(store: Store, bars: BarsFactory) -> None:
    """With validation off, the NOT NULL constraint fails inside the transaction: the good rows roll back."""
    store.write(Bar, bars(n=5))
    before = raw_table(store, "bar")
    batch = bars(n=20, seed=3)
    batch.loc[15, "open"] = np.nan
    with pytest.raises(StoreError, match="nothing was written"):
        store.write(Bar, batch, validate=False)
    assert raw_table(store, "bar") == before
    assert store.write(Bar, bars(n=20, seed=3)).changed == 20  # the store still works


def test_conflicting_duplicates_rejected(store: Store, bars: BarsFactory) -> None:
    frame = bars(n=10)
    twin = frame.iloc[[4]].assign(close=frame["close"][4] + 0.01)
    with pytest.raises(InvalidDataError, match="2 rows share a key") as info:
        store.write(Bar, pd.concat([frame, twin], ignore_index=True))
    assert "entity_id, level, timestamp" in str(info.value)
    assert read_bars(store).empty


def test_exact_duplicates_dropped(store: Store, bars: BarsFactory) -> None:
    frame = bars(n=10)
    doubled = pd.concat([frame, frame.iloc[[1, 2, 2]]], ignore_index=True)
    result = store.write(Bar, doubled)
    assert result == WriteResult("Bar", rows=10, inserted=10, updated=0)
    assert len(read_bars(store)) == 10


def test_same_time_different_levels_are_distinct(store: Store, bars: BarsFactory) -> None:
    frame = pd.concat([bars(n=4, level="1h"), bars(n=1, level="4h")], ignore_index=True)
    assert store.write(Bar, frame).changed == 5
    assert len(Bar.query_data(store=store, level="1h")) == 4
    assert len(Bar.query_data(store=store, level="4h")) == 1


# -- other schemas -----------------------------------------------------------------------------------------------
def test_order_book_json_round_trip(store: Store) -> None:
    frame = pd.DataFrame({
        "entity_id": BTC,
        "timestamp": [1704067200123, 1704067201456],
        "depth": [2, 1],
        "best_bid": [42000.5, None],
        "bids": [[[42000.5, 1.25], [42000.0, 3.0]], [[41999.0, 0.5]]],
        "asks": [[[42001.0, 0.75], [42002.5, 2.0]], []],
    })
    assert store.write(OrderBookSnapshot, frame).changed == 2
    assert store.write(OrderBookSnapshot, frame).changed == 0
    out = OrderBookSnapshot.query_data(store=store)
    assert out["bids"].tolist() == frame["bids"].tolist()
    assert out["asks"].tolist() == frame["asks"].tolist()
    assert out["depth"].tolist() == [2, 1]
    assert out["best_bid"].dtype == np.float64
    assert np.isnan(out["best_bid"].iloc[1])
    assert out.index.get_level_values("timestamp")[0] == pd.Timestamp("2024-01-01 00:00:00.123", tz="UTC")
    changed = frame.assign(asks=[[[42001.0, 0.75]], []])
    assert store.write(OrderBookSnapshot, changed).changed == 1
    assert OrderBookSnapshot.query_data(store=store)["asks"].tolist() == [[[42001.0, 0.75]], []]


def test_trades_share_a_millisecond(store: Store) -> None:
    frame = pd.DataFrame({"entity_id": BTC, "timestamp": [1704067200000] * 3, "trade_id": ["1", "2", "3"],
                          "price": [42000.0, 42000.5, 41999.0], "amount": [0.1, 0.2, 0.3],
                          "side": ["buy", "sell", None]})
    assert store.write(Trade, frame).changed == 3
    assert store.write(Trade, frame).changed == 0
    out = Trade.query_data(store=store, index=None)
    assert out["trade_id"].tolist() == ["1", "2", "3"]
    assert out["side"].tolist()[:2] == ["buy", "sell"]
    assert pd.isna(out["side"].iloc[2])
    with pytest.raises(InvalidDataError, match="price not positive: 1"):
        store.write(Trade, frame.assign(price=[1.0, -1.0, 2.0]))


def test_open_interest_and_known_gap(store: Store) -> None:
    perp = "perp_binanceusdm_BTC-USDT.USDT"
    oi = pd.DataFrame({"entity_id": perp, "timestamp": pd.date_range("2024-01-01", periods=3, freq="5min", tz="UTC"),
                       "open_interest": [1.0, 2.0, 3.0]})
    assert store.write(OpenInterest, oi, level="5m").changed == 3
    with pytest.raises(InvalidDataError, match="not aligned"):
        store.write(OpenInterest, oi, level="1h")
    gap = pd.DataFrame({"schema_name": ["Bar"], "entity_id": [BTC], "level": ["1h"],
                        "start_timestamp": ["2024-01-01 05:00"], "end_timestamp": ["2024-01-01 07:00"],
                        "reason": ["maintenance"]})
    assert store.write(KnownGap, gap).changed == 1
    assert store.write(KnownGap, gap).changed == 0
    rows = KnownGap.query_data(store=store, level="1h", return_type="dicts")
    assert rows[0]["start_timestamp"] == pd.Timestamp("2024-01-01 05:00", tz="UTC")
    assert rows[0]["end_timestamp"] == pd.Timestamp("2024-01-01 07:00", tz="UTC")
    assert rows[0]["reason"] == "maintenance"


def test_entities_defaults_and_nullable_times(store: Store) -> None:
    pairs = pd.DataFrame({
        "entity_id": [BTC, ETH],
        "entity_type": "pair",
        "exchange": "binance",
        "symbol": ["BTC/USDT", "ETH/USDT"],
        "base": ["BTC", "ETH"],
        "quote": "USDT",
        "list_timestamp": [None, 1502942400000],  # float64 with NaN once in a DataFrame
        "maker_fee": [0.001, None],
    })
    assert store.write(CryptoPair, pairs).changed == 2  # ``active`` is filled with its default (True)
    assert store.write(CryptoPair, pairs).changed == 0
    out = CryptoPair.query_data(store=store)
    assert out.index.name == "entity_id"
    assert out["active"].tolist() == [True, True]
    assert out["active"].dtype == bool
    assert pd.isna(out.loc[BTC, "list_timestamp"])
    assert out.loc[ETH, "list_timestamp"] == pd.Timestamp("2017-08-17 04:00", tz="UTC")
    assert out["delist_timestamp"].isna().all()

    perps = pd.DataFrame({"entity_id": ["perp_binanceusdm_BTC-USDT.USDT"], "entity_type": "perp",
                          "exchange": "binanceusdm", "symbol": ["BTC/USDT:USDT"], "base": "BTC", "quote": "USDT",
                          "settle": "USDT"})
    assert store.write(CryptoPerp, perps).changed == 1
    row = CryptoPerp.query_data(store=store, return_type="dicts")[0]
    assert (row["contract_size"], row["linear"], row["active"]) == (1.0, True, True)


def test_entity_id_must_match(store: Store) -> None:
    pairs = pd.DataFrame({"entity_id": ["pair_binance_BTC-USDC"], "entity_type": "pair", "exchange": "binance",
                          "symbol": ["BTC/USDT"], "base": "BTC", "quote": "USDT"})
    with pytest.raises(InvalidDataError, match="entity_id does not match exchange, symbol and type: 1"):
        store.write(CryptoPair, pairs)
    assert CryptoPair.query_data(store=store).empty


def test_partial_upsert_keeps_columns_it_does_not_send(store: Store) -> None:
    """Defaults fill columns a frame leaves out on insert only: an existing row keeps its values."""
    from zvt_crypto.domain import CryptoPerp

    full = pd.DataFrame([{
        "entity_id": "perp_binanceusdm_BTC-USD.BTC", "entity_type": "perp", "exchange": "binanceusdm",
        "symbol": "BTC/USD:BTC", "base": "BTC", "quote": "USD", "settle": "BTC", "active": False,
        "contract_size": 100.0, "linear": False, "list_timestamp": pd.Timestamp("2020-08-10", tz="UTC"),
    }])
    assert store.write(CryptoPerp, full).changed == 1
    partial = full[["entity_id", "entity_type", "exchange", "symbol", "base", "quote", "settle"]].assign(
        list_timestamp=pd.Timestamp("2020-08-01", tz="UTC"))
    assert store.write(CryptoPerp, partial).changed == 1
    row = CryptoPerp.query_data(store=store).iloc[0]
    assert (row["active"], row["contract_size"], row["linear"]) == (False, 100.0, False)
    assert row["list_timestamp"] == pd.Timestamp("2020-08-01", tz="UTC")
    # a new row written without those columns gets the defaults
    other = partial.assign(entity_id="perp_binanceusdm_ETH-USD.ETH", symbol="ETH/USD:ETH", base="ETH", settle="ETH")
    store.write(CryptoPerp, other)
    new = CryptoPerp.query_data(store=store, entity_ids=["perp_binanceusdm_ETH-USD.ETH"]).iloc[0]
    assert (new["active"], new["contract_size"], new["linear"]) == (True, 1.0, True)


@pytest.mark.postgres
def test_postgresql_batch_into_an_empty_range_is_a_plain_insert(pg_url: str, bars: BarsFactory,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """An import into an empty key range skips ON CONFLICT (≈ 2.5× faster); a range that holds rows — even ones the
    count did not see, as a concurrent writer's — goes through the upsert, counted as before."""
    from zvt_crypto.contract import writer

    store = Store(pg_url)
    plain: list[bool] = []
    real = writer._inserted_plainly
    monkeypatch.setattr(writer, "_inserted_plainly", lambda *args: plain.append(real(*args)) or plain[-1])
    try:
        stored, batch = _overlapping(bars)
        assert store.write(Bar, stored) == WriteResult("Bar", rows=6, inserted=6, updated=0)
        assert plain == [True]
        # the count sees nothing (as if another writer stored the rows after it ran): the plain insert collides
        blind = writer._range_count

        def unseen(schema: object, df: pd.DataFrame) -> tuple[str, list[object]] | None:
            found = blind(schema, df)  # type: ignore[arg-type]
            return None if found is None else (found[0].replace("WHERE", "WHERE false AND"), found[1])

        monkeypatch.setattr(writer, "_range_count", unseen)
        assert store.write(Bar, batch) == WriteResult("Bar", rows=10, inserted=4, updated=2)
        assert plain == [True, False]
        assert read_bars(store)["volume"].tolist() == batch["volume"].tolist()
    finally:
        store.dispose()
