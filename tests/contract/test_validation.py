"""Validation and normalisation, without a database."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.errors import InvalidDataError, InvalidInputError
from zvt_crypto.contract.schema import schema_registry
from zvt_crypto.contract.validation import (
    CHECKS,
    CLOCKED_CHECKS,
    EARLIEST_MS,
    LATEST_MS,
    MAX_PRICE,
    MAX_SHOWN,
    SECONDS_BELOW,
    validate_frame,
)
from zvt_crypto.contract.writer import normalize_frame, to_arrow
from zvt_crypto.domain import Bar, CryptoPair, FundingRate, IndexPriceBar, KnownGap, OrderBookSnapshot, Trade

BarsFactory = Callable[..., pd.DataFrame]
JAN1 = 1_704_067_200_000


def normalized_bars(bars: BarsFactory, n: int = 10, **kwargs: object) -> pd.DataFrame:
    return normalize_frame(Bar, bars(n=n, **kwargs))


def rejection(frame: pd.DataFrame, schema: type = Bar) -> str:
    with pytest.raises(InvalidDataError) as info:
        validate_frame(schema, frame)
    return str(info.value)


def test_every_declared_validator_exists() -> None:
    for schema in schema_registry().values():
        assert set(schema.__validators__) <= {*CHECKS, *CLOCKED_CHECKS}, schema.__name__


def test_valid_bars_pass(bars: BarsFactory) -> None:
    for level in ["1m", "15m", "4h", "1d", "1w"]:
        validate_frame(Bar, normalized_bars(bars, level=level))


def test_bounds() -> None:
    assert pd.Timestamp(EARLIEST_MS, unit="ms") == pd.Timestamp("1700-01-01")
    assert pd.Timestamp(LATEST_MS, unit="ms") == pd.Timestamp("2100-01-01")
    # the importer reads numbers below the same magnitude as epoch seconds
    from zvt_crypto.dataio.importers import _S_MAX

    assert SECONDS_BELOW == _S_MAX


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("low", 1e9, "low above min(open, close)"),
        ("high", 1.0, "high below max(open, close)"),
        ("volume", -0.5, "negative volume"),
        ("quote_volume", -0.5, "negative quote_volume"),
        ("trade_count", -1, "negative trade_count"),
        ("timestamp", JAN1 + 1, "timestamp not aligned to its level's grid"),
        ("timestamp", 1_704_067_200, "timestamp looks like epoch seconds (|value| < 1e11), not ms"),
        ("timestamp", -1_704_067_200, "timestamp looks like epoch seconds (|value| < 1e11), not ms"),
        ("timestamp", EARLIEST_MS - 86_400_000, "timestamp before 1700 (not a market time: wrong unit?)"),
        ("timestamp", JAN1 * 1000, "timestamp after 2100 (microseconds instead of ms?)"),
        ("open", np.nan, "open is empty (NaN/None)"),
        ("entity_id", None, "entity_id is empty (NaN/None)"),
    ],
)
def test_single_bad_row(bars: BarsFactory, column: str, value: object, reason: str) -> None:
    frame = normalized_bars(bars)
    if column == "timestamp":
        frame = frame.astype({"timestamp": "int64"})
    else:
        frame = frame.astype({column: object}) if value is None else frame
    frame.loc[6, column] = value
    message = rejection(frame)
    assert f"Bar: 1 of 10 rows rejected ({reason}: 1)" in message
    assert "nothing was written" in message


@pytest.mark.parametrize("value", [np.inf, -np.inf])
@pytest.mark.parametrize("column", ["open", "high", "low", "close", "volume", "quote_volume"])
def test_infinite_numbers_rejected(bars: BarsFactory, column: str, value: float) -> None:
    frame = normalized_bars(bars)
    frame.loc[6, column] = value
    assert f"1 of 10 rows rejected ({column} is infinite: 1)" in rejection(frame)


@pytest.mark.parametrize(("column", "value", "reason"), [
    ("high", 1e308, "high above 1e+15, not a price (a unit or parsing error?)"),
    ("close", MAX_PRICE * 1.01, "close above 1e+15, not a price (a unit or parsing error?)"),
    ("volume", 1e308, "volume beyond ±1e+100, not a real quantity"),
    ("quote_volume", -1e200, "quote_volume beyond ±1e+100, not a real quantity"),
])
def test_absurd_magnitudes_rejected(bars: BarsFactory, column: str, value: float, reason: str) -> None:
    frame = normalized_bars(bars)
    if column in ("high", "close"):  # keep the OHLC relation true: only the magnitude is wrong
        frame.loc[6, ["open", "high", "close"]] = value
    else:
        frame.loc[6, column] = value
    message = rejection(frame)
    assert "1 of 10 rows rejected" in message and f"{reason}: 1" in message


def test_large_but_real_numbers_pass(bars: BarsFactory) -> None:
    """BTC quoted in Vietnamese dong (~2.6e9) and a meme coin's weekly volume (~1e17 units) are real."""
    frame = normalized_bars(bars)
    frame[["open", "high", "low", "close"]] = frame[["open", "high", "low", "close"]] * 2.6e7
    frame["volume"] = 1e17
    frame["quote_volume"] = frame["volume"] * frame["close"]
    validate_frame(Bar, frame)
    validate_frame(Bar, normalized_bars(bars).assign(quote_volume=np.nan))  # an empty optional number is fine


@pytest.mark.parametrize(("schema", "row", "reason"), [
    (Trade, {"trade_id": "1", "price": np.inf, "amount": 1.0}, "price is infinite: 1"),
    (Trade, {"trade_id": "1", "price": 1.0, "amount": np.inf}, "amount is infinite: 1"),
    (FundingRate, {"funding_rate": -np.inf}, "funding_rate is infinite: 1"),
    (FundingRate, {"funding_rate": 0.0001, "mark_price": 1e308}, "mark_price above 1e+15"),
    (OrderBookSnapshot, {"depth": 1, "best_bid": np.inf, "bids": "[]", "asks": "[]"}, "best_bid is infinite: 1"),
])
def test_every_schema_rejects_non_finite_numbers(schema: type, row: dict[str, object], reason: str) -> None:
    frame = normalize_frame(schema, pd.DataFrame([{"entity_id": "pair_binance_BTC-USDT", "timestamp": JAN1, **row}]))
    assert reason in rejection(frame, schema)


def test_pre_2009_times_in_ms_pass(bars: BarsFactory) -> None:
    """Stock and FX history is older than Bitcoin: a 2004 time in ms is valid, only its magnitude matters."""
    for start in ["2004-08-19", "1980-01-01", "1950-01-02"]:
        frame = normalized_bars(bars, level="1d", start=pd.Timestamp(start, tz="UTC"))
        validate_frame(Bar, frame)


# -- the clock: bars that have not opened yet ---------------------------------------------------------------------
@pytest.mark.parametrize("schema", [Bar, IndexPriceBar])
def test_future_bars_rejected_by_the_clock(bars: BarsFactory, schema: type) -> None:
    frame = normalized_bars(bars, n=10)  # 2024-01-01 00:00 … 09:00, 1h
    if schema is not Bar:
        frame = frame.drop(columns=["volume", "quote_volume", "trade_count"])
    now = JAN1 + 5 * 3_600_000 + 59 * 60_000  # 05:59: the 05:00 bar is open, 06:00 … 09:00 have not begun
    with pytest.raises(InvalidDataError) as info:
        validate_frame(schema, frame, now_ms=now)
    message = str(info.value)
    assert "4 of 10 rows rejected (opens after the current bar by the clock (2024-01-01 05:59 UTC)" in message
    assert "2024-01-01 06:00:00+00:00" in message  # the first offending row is shown
    assert "drop the future rows or fix the file's times" in message
    validate_frame(schema, frame.head(6), now_ms=now)  # up to the open bar: accepted
    validate_frame(schema, frame, now_ms=JAN1 + 9 * 3_600_000)  # the clock is at the last bar's open


def test_future_bars_rejected_by_wall_clock_by_default(bars: BarsFactory) -> None:
    frame = normalized_bars(bars, n=3, start=pd.Timestamp("2029-01-01", tz="UTC"))
    assert "3 of 3 rows rejected (opens after the current bar by the clock" in rejection(frame)
    validate_frame(Bar, frame, now_ms=int(pd.Timestamp("2029-02-01", tz="UTC").value // 1_000_000))


def test_future_check_is_per_level(bars: BarsFactory) -> None:
    """At 2024-01-01 12:00 the 1d bar of 2024-01-01 is open (valid), the 1h bar of 13:00 has not begun."""
    frame = pd.concat([normalized_bars(bars, n=1, level="1d"),
                       normalized_bars(bars, n=1, level="1h", start=pd.Timestamp("2024-01-01 13:00", tz="UTC"))],
                      ignore_index=True)
    assert "1 of 2 rows rejected (opens after" in rejection_at(frame, JAN1 + 12 * 3_600_000)


def rejection_at(frame: pd.DataFrame, now: int) -> str:
    with pytest.raises(InvalidDataError) as info:
        validate_frame(Bar, frame, now_ms=now)
    return str(info.value)


def test_price_not_positive(bars: BarsFactory) -> None:
    frame = normalized_bars(bars)
    frame.loc[2, ["open", "high", "low", "close"]] = [0.0, 0.0, 0.0, 0.0]
    assert "price not positive: 1" in rejection(frame)


def test_counts_reasons_and_first_rows(bars: BarsFactory) -> None:
    frame = normalized_bars(bars, n=20)
    frame.loc[[1, 2, 3, 4, 5, 6, 7], "volume"] = -1.0
    frame.loc[[9, 12], "high"] = 0.5
    message = rejection(frame)
    assert "9 of 20 rows rejected" in message
    assert "negative volume: 7" in message
    assert "high below max(open, close): 2" in message
    shown = message.split("First offending rows:\n", 1)[1].splitlines()
    assert len(shown) == 1 + MAX_SHOWN  # a header and the first five offending rows
    assert "2024-01-01 01:00:00+00:00" in shown[1]  # times are shown as UTC times, not epoch ms
    assert "2024-01-01 05:00:00+00:00" in shown[-1]
    assert "negative volume" in shown[1]


def test_value_checks_skip_rows_with_empty_required_columns(bars: BarsFactory) -> None:
    """A NaN price must be reported as empty, not crash or be reported as a bad OHLC."""
    frame = normalized_bars(bars)
    frame.loc[3, "high"] = np.nan
    frame.loc[4, "low"] = 1e9  # would also fail the OHLC check
    message = rejection(frame)
    assert "high is empty (NaN/None): 1" in message
    assert "1 of 10 rows rejected" in message


def test_missing_required_column(bars: BarsFactory) -> None:
    with pytest.raises(InvalidDataError, match=r"missing required column.*volume"):
        validate_frame(Bar, normalized_bars(bars).drop(columns=["volume"]))


def test_missing_timestamp_is_reported_not_raised_as_a_crash(bars: BarsFactory) -> None:
    raw = bars(n=4)
    raw.loc[1, "timestamp"] = pd.NaT
    frame = normalize_frame(Bar, raw)
    message = rejection(frame)
    assert "timestamp is empty (NaN/None): 1" in message


def test_entity_check() -> None:
    frame = normalize_frame(CryptoPair, pd.DataFrame({
        "entity_id": ["pair_binance_BTC-USDT", "pair_binance_ETH-USDT"], "entity_type": "pair",
        "exchange": "binance", "symbol": ["BTC/USDT", "ETH/BTC"], "base": ["BTC", "ETH"], "quote": "USDT",
    }))
    assert "entity_id does not match exchange, symbol and type: 1" in rejection(frame, CryptoPair)


def test_trade_checks() -> None:
    frame = normalize_frame(Trade, pd.DataFrame({"entity_id": "pair_binance_BTC-USDT", "timestamp": [JAN1] * 2,
                                                 "trade_id": ["1", "2"], "price": [1.0, 2.0],
                                                 "amount": [-1.0, 1.0]}))
    assert "negative amount: 1" in rejection(frame, Trade)


# -- normalisation -----------------------------------------------------------------------------------------------
def test_normalize_columns_and_types(bars: BarsFactory) -> None:
    raw = bars(n=3)
    indexed = raw.drop(columns="level").set_index(["entity_id", "timestamp"])
    frame = normalize_frame(Bar, indexed, level="1H")
    assert list(frame.columns) == Bar.column_names()
    assert frame["level"].tolist() == ["1h"] * 3
    assert frame["timestamp"].tolist() == [JAN1, JAN1 + 3_600_000, JAN1 + 7_200_000]
    assert frame["timestamp"].dtype == np.int64
    table = to_arrow(Bar, frame)
    assert table.column_names == Bar.column_names()
    assert str(table.schema.field("timestamp").type) == "int64"


def test_normalize_level_aliases_in_column(bars: BarsFactory) -> None:
    frame = normalize_frame(Bar, bars(n=2).assign(level="60min"))
    assert frame["level"].tolist() == ["1h", "1h"]
    with pytest.raises(InvalidInputError, match="unknown level"):
        normalize_frame(Bar, bars(n=2).assign(level="1M"))


def test_normalize_rejects_unknown_columns(bars: BarsFactory) -> None:
    with pytest.raises(InvalidInputError, match=r"Bar has no column.*vwap"):
        normalize_frame(Bar, bars(n=2).assign(vwap=1.0))


def test_normalize_unnamed_index_is_dropped(bars: BarsFactory) -> None:
    raw = bars(n=3)
    raw.index = [10, 20, 30]
    assert normalize_frame(Bar, raw).index.tolist() == [0, 1, 2]


def test_normalize_nullable_times() -> None:
    frame = normalize_frame(KnownGap, pd.DataFrame({
        "schema_name": "Bar", "entity_id": ["a", "b"], "level": "1h",
        "start_timestamp": ["2024-01-01", "2024-01-02"], "end_timestamp": ["2024-01-01", "2024-01-02"],
        "confirmed_timestamp": [None, pd.Timestamp("2024-01-03", tz="UTC")],
    }))
    assert frame["confirmed_timestamp"].dtype == "Int64"
    assert pd.isna(frame["confirmed_timestamp"].iloc[0])
    assert frame["confirmed_timestamp"].iloc[1] == JAN1 + 2 * 86_400_000


def test_normalize_float_epoch_ms_with_gaps() -> None:
    """Integers with a NaN become floats in pandas; they are still epoch milliseconds."""
    frame = normalize_frame(CryptoPair, pd.DataFrame({"entity_id": ["a", "b"], "list_timestamp": [None, JAN1]}))
    assert pd.isna(frame["list_timestamp"].iloc[0])
    assert frame["list_timestamp"].iloc[1] == JAN1


def test_normalize_fills_column_defaults() -> None:
    from zvt_crypto.domain import CryptoPerp

    frame = normalize_frame(CryptoPerp, pd.DataFrame({"entity_id": ["a", "b"], "active": [False, None],
                                                      "contract_size": [np.nan, 0.01]}))
    assert frame["active"].tolist() == [False, True]
    assert frame["contract_size"].tolist() == [1.0, 0.01]
    assert frame["linear"].tolist() == [True, True]
    assert list(frame.columns) == [name for name in CryptoPerp.column_names() if name in frame.columns]


def test_normalize_json_and_duplicates() -> None:
    book = pd.DataFrame({"entity_id": "x", "timestamp": [JAN1, JAN1], "depth": 1, "bids": [[[1.0, 2.0]]] * 2,
                         "asks": [[[3.0, 4.0]]] * 2})
    frame = normalize_frame(OrderBookSnapshot, book)
    assert len(frame) == 1  # exact duplicates dropped (JSON compared as text)
    assert frame["bids"].iloc[0] == "[[1.0, 2.0]]"
    book["asks"] = [[[3.0, 4.0]], [[3.0, 5.0]]]
    with pytest.raises(InvalidDataError, match="2 rows share a key"):
        normalize_frame(OrderBookSnapshot, book)
