"""Entity and row ids, and UTC time conversions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import (
    check_symbol,
    entity_id,
    entity_type_of_symbol,
    parse_entity_id,
    row_id,
    safe_symbol,
    symbol_of,
    unsafe_symbol,
)
from zvt_crypto.contract.timeutil import check_range, iso, ms_to_index, series_to_ms, to_datetime, to_ms

JAN1 = 1_704_067_200_000  # 2024-01-01T00:00:00Z


# -- ids ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("exchange", "symbol", "kind", "expected"),
    [
        ("binance", "BTC/USDT", None, "pair_binance_BTC-USDT"),
        ("binanceusdm", "BTC/USDT:USDT", None, "perp_binanceusdm_BTC-USDT.USDT"),
        ("binance", "BTC", "asset", "asset_binance_BTC"),
        ("okx", "1000PEPE/USDT", None, "pair_okx_1000PEPE-USDT"),
        ("kraken", "BTC/USD:BTC", "perp", "perp_kraken_BTC-USD.BTC"),
        ("binanceusdm", "1000PEPE/USDT:USDT", None, "perp_binanceusdm_1000PEPE-USDT.USDT"),
        ("binanceusdm", "BTC/USDT:USDT-240628", None, "perp_binanceusdm_BTC-USDT.USDT-240628"),  # dated future
        ("okx", "BTC/USD:BTC-240628-60000-C", "perp", "perp_okx_BTC-USD.BTC-240628-60000-C"),  # option
        ("binance", "USDT", "asset", "asset_binance_USDT"),
    ],
)
def test_entity_id(exchange: str, symbol: str, kind: str | None, expected: str) -> None:
    assert entity_id(exchange, symbol, kind) == expected  # type: ignore[arg-type]
    assert symbol_of(expected) == symbol  # common ids are unchanged and give back the exact symbol


def test_safe_symbol_escapes_other_characters() -> None:
    assert safe_symbol("BTC/USDT:USDT") == "BTC-USDT.USDT"
    assert safe_symbol("A_B/C") == "A~5FB-C"  # "_" would break parse_entity_id
    assert safe_symbol("X Y/Z") == "X~20Y-Z"
    assert safe_symbol("€/USD") == "~E2~82~AC-USD"  # UTF-8 bytes: "~20AC" would also be " AC"
    converted = entity_id("binance", "A_B/C D")
    assert set(converted) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-~")
    assert parse_entity_id(converted) == ("pair", "binance", "A~5FB-C~20D")


@settings(max_examples=300, deadline=None)
@given(base=st.text(min_size=1, max_size=12).filter(lambda s: s.strip() == s and "/" not in s),
       quote=st.text(min_size=1, max_size=8).filter(lambda s: s.strip() == s and "/" not in s))
def test_any_symbol_gives_a_safe_parsable_id(base: str, quote: str) -> None:
    assume(len(safe_symbol(f"{base}/{quote}")) <= 100)  # longer ones are refused as too long
    value = entity_id("binance", f"{base}/{quote}", "pair")
    kind, exchange, symbol = parse_entity_id(value)
    assert (kind, exchange) == ("pair", "binance")
    assert symbol == safe_symbol(f"{base}/{quote}")
    assert all(char.isascii() and (char.isalnum() or char in ".-~") for char in symbol)


@pytest.mark.parametrize(
    ("first", "second"),
    [("^01/USDT", "币/USDT"),  # "~5E" + "01" was also the code point U+5E01
     ("X-Y/Z", "X/Y-Z"),  # "-" was both "/" and a literal "-"
     ("A.B/C", "A:B/C"),  # "." was both ":" and a literal "."
     ("A/B:C-D", "A/B:C/D"),
     ("é/USDT", "~E9/USDT")],
)
def test_different_symbols_get_different_ids(first: str, second: str) -> None:
    assert entity_id("binance", first, "pair") != entity_id("binance", second, "pair")
    assert symbol_of(entity_id("binance", first, "pair")) == first
    assert symbol_of(entity_id("binance", second, "pair")) == second


#: the characters that carry meaning in an id or in a ccxt symbol, digits, and some non-ASCII ones
_TRICKY = st.sampled_from([*"-.~_/:^0123456789ABZabz %", "币", "é", "€", "𝔘", "\x00"])
_SYMBOL_TEXT = st.text(st.one_of(_TRICKY, st.characters(exclude_categories=["Cs"])), min_size=1, max_size=16)


@settings(max_examples=1000, deadline=None)
@given(text=_SYMBOL_TEXT)
def test_safe_symbol_round_trips(text: str) -> None:
    safe = safe_symbol(text)
    assert unsafe_symbol(safe) == text
    assert set(safe) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-~")


@settings(max_examples=500, deadline=None)
@given(first=_SYMBOL_TEXT, second=_SYMBOL_TEXT)
def test_entity_ids_are_injective(first: str, second: str) -> None:
    symbols = [f"{first}/USDT", f"{second}/USDT", f"{first}/{second}", f"{second}/{first}",
               f"{first}/USDT:{second}", f"{first}:{second}/USDT"]
    symbols = [s for s in symbols if s == s.strip() and len(safe_symbol(s)) <= 100]  # longer ones: too long
    ids = {}
    for symbol in symbols:
        value = entity_id("okx", symbol, "pair")
        assert symbol_of(value) == symbol
        assert ids.setdefault(value, symbol) == symbol, f"{symbol!r} and {ids[value]!r} share {value}"


@pytest.mark.parametrize(
    "value",
    ["pair_binance_~41-B",  # "A" needs no escape: one symbol, one id
     "pair_binance_~2f-B",  # lower-case hex
     "pair_binance_A~2",  # cut escape
     "pair_binance_~E9-USDT",  # not UTF-8
     "pair_binance_A.B~2DC",  # after ":" a "-" is written as itself
     "pair_binance_A_B-C"],
)
def test_symbol_of_rejects_ids_no_symbol_has(value: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid entity id"):
        symbol_of(value)


def test_entity_id_fits_its_column() -> None:
    assert len(entity_id("binance", "币" * 12 + "/USDT")) <= 128
    with pytest.raises(InvalidInputError, match="too long"):
        entity_id("binance", "币" * 13 + "/USDT")  # 9 characters each


def test_entity_type_of_symbol() -> None:
    assert entity_type_of_symbol("BTC/USDT") == "pair"
    assert entity_type_of_symbol("BTC/USDT:USDT") == "perp"


@pytest.mark.parametrize("exchange", ["Binance", "", "bin ance", "bin_ance", "okx-v5"])
def test_entity_id_rejects_bad_exchange(exchange: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid exchange id"):
        entity_id(exchange, "BTC/USDT")


@pytest.mark.parametrize("symbol", ["BTCUSDT", "", " BTC/USDT", "BTC/USDT "])
def test_entity_id_rejects_bad_symbol(symbol: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid symbol"):
        entity_id("binance", symbol)


def test_check_symbol_assets_need_no_slash() -> None:
    assert check_symbol("BTC", "asset") == "BTC"
    with pytest.raises(InvalidInputError):
        check_symbol("BTC")


def test_entity_id_rejects_unknown_type() -> None:
    with pytest.raises(InvalidInputError, match="unknown entity type"):
        entity_id("binance", "BTC/USDT", "option")  # type: ignore[arg-type]


def test_parse_entity_id_round_trip() -> None:
    assert parse_entity_id("perp_binanceusdm_BTC-USDT.USDT") == ("perp", "binanceusdm", "BTC-USDT.USDT")
    assert parse_entity_id("asset_binance_BTC") == ("asset", "binance", "BTC")


@pytest.mark.parametrize(
    "value", ["", "pair", "pair_binance", "pair_binance_", "future_binance_BTC-USDT", "pair_Binance_BTC-USDT",
              "BTC/USDT"],
)
def test_parse_entity_id_errors(value: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid entity id"):
        parse_entity_id(value)


def test_row_id() -> None:
    assert row_id("pair_binance_BTC-USDT", JAN1, "1h") == "pair_binance_BTC-USDT_1h_2024-01-01T00:00:00Z"
    assert row_id("perp_binanceusdm_BTC-USDT.USDT", JAN1 + 8 * 3_600_000) == (
        "perp_binanceusdm_BTC-USDT.USDT_2024-01-01T08:00:00Z"
    )


# -- time --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        JAN1,
        np.int64(JAN1),
        float(JAN1),
        "2024-01-01",
        "2024-01-01T00:00:00Z",
        "2024-01-01T01:00:00+01:00",
        "2023-12-31T19:00:00-05:00",
        datetime(2024, 1, 1),  # naive: UTC, never local time
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))),
        date(2024, 1, 1),
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-01-01 09:00", tz="Asia/Tokyo"),
        np.datetime64("2024-01-01T00:00:00"),
    ],
)
def test_to_ms(value: object) -> None:
    assert to_ms(value) == JAN1  # type: ignore[arg-type]


def test_naive_is_utc_even_with_local_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert to_ms(datetime(2024, 1, 1)) == JAN1
        assert to_ms("2024-01-01 00:00") == JAN1
    finally:
        monkeypatch.undo()
        time.tzset()


def test_fractional_float_is_epoch_ms() -> None:
    assert to_ms(JAN1 + 0.5) == JAN1  # not nanoseconds (which would be 1970)
    assert to_ms(np.float64(JAN1 + 999.9)) == JAN1 + 999


@pytest.mark.parametrize(
    "value", ["yesterday-ish", "2024-13-45", "", True, None, float("nan"), float("inf"), [1, 2]],
)
def test_to_ms_rejects(value: object) -> None:
    with pytest.raises(InvalidInputError):
        to_ms(value)  # type: ignore[arg-type]


def test_to_datetime_and_iso() -> None:
    value = to_datetime(JAN1 + 1500)
    assert value == datetime(2024, 1, 1, 0, 0, 1, 500_000, tzinfo=UTC)
    assert value.utcoffset() == timedelta(0)
    assert iso(JAN1) == "2024-01-01T00:00:00Z"
    assert iso(None) is None


def test_vectorised_conversions() -> None:
    index = ms_to_index(np.array([JAN1, JAN1 + 60_000]))
    assert str(index.tz) == "UTC"
    assert list(index) == [pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-01 00:01", tz="UTC")]
    naive = pd.Series(pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:01"]))
    aware = pd.Series(pd.to_datetime(["2024-01-01 08:00", "2024-01-01 08:01"]).tz_localize("Asia/Shanghai"))
    expected = [JAN1, JAN1 + 60_000]
    assert series_to_ms(naive).tolist() == expected
    assert series_to_ms(aware).tolist() == expected
    assert series_to_ms(index).tolist() == expected
    assert series_to_ms(naive).dtype == np.int64


def test_check_range() -> None:
    check_range(JAN1, JAN1)
    check_range(None, JAN1)
    with pytest.raises(InvalidInputError, match="is after end"):
        check_range(JAN1 + 1, JAN1)


def test_an_invalid_symbol_is_shown_escaped_and_cut() -> None:
    """User input in an error cannot flood the terminal or forge a log line."""
    with pytest.raises(InvalidInputError) as info:
        check_symbol("X" * 5000 + "\nINFO forged line")
    message = str(info.value)
    assert "\n" not in message and "5,017 characters" in message and len(message) < 300
