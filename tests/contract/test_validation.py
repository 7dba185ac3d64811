"""Validation and normalisation, without a database."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.errors import InvalidDataError, InvalidInputError
from zvt_crypto.contract.schema import schema_registry
from zvt_crypto.contract.validation import CHECKS, EARLIEST_MS, LATEST_MS, MAX_SHOWN, validate_frame
from zvt_crypto.contract.writer import normalize_frame, to_arrow
from zvt_crypto.domain import Bar, CryptoPair, KnownGap, OrderBookSnapshot, Trade

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
        assert set(schema.__validators__) <= set(CHECKS), schema.__name__


def test_valid_bars_pass(bars: BarsFactory) -> None:
    for level in ["1m", "15m", "4h", "1d", "1w"]:
        validate_frame(Bar, normalized_bars(bars, level=level))


def test_bounds() -> None:
    assert pd.Timestamp(EARLIEST_MS, unit="ms") == pd.Timestamp("2009-01-03")
    assert pd.Timestamp(LATEST_MS, unit="ms") == pd.Timestamp("2100-01-01")


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("low", 1e9, "low above min(open, close)"),
        ("high", 1.0, "high below max(open, close)"),
        ("volume", -0.5, "negative volume"),
        ("quote_volume", -0.5, "negative quote_volume"),
        ("trade_count", -1, "negative trade_count"),
        ("timestamp", JAN1 + 1, "timestamp not aligned to its level's grid"),
        ("timestamp", 1_704_067_200,
         "timestamp before 2009-01-03, the first crypto data (epoch seconds instead of ms?)"),
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
