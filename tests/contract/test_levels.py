"""Levels: parsing, aliases and the UTC grid (weekly bars anchored on Mondays)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.levels import DAY_MS, HOUR_MS, MINUTE_MS, WEEK_MS, Level
from zvt_crypto.contract.timeutil import to_ms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1m", Level.m1), ("5m", Level.m5), ("15m", Level.m15), ("30m", Level.m30), ("1h", Level.h1),
        ("4h", Level.h4), ("1d", Level.d1), ("1w", Level.w1),
        ("1min", Level.m1), ("60m", Level.h1), ("1H", Level.h1), ("4H", Level.h4), ("240m", Level.h4),
        ("1D", Level.d1), ("daily", Level.d1), ("24h", Level.d1), ("1W", Level.w1), ("weekly", Level.w1),
        ("7d", Level.w1), (" 1h ", Level.h1), (Level.d1, Level.d1),
    ],
)
def test_parse_and_aliases(text: str | Level, expected: Level) -> None:
    assert Level.parse(text) is expected


@pytest.mark.parametrize("text", ["3h", "", "1y", "hourly", "1s", "m1"])
def test_parse_rejects_unknown(text: str) -> None:
    with pytest.raises(InvalidInputError, match="unknown level") as info:
        Level.parse(text)
    assert "1m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 12h, 1d, 3d, 1w" in str(info.value)


def test_month_hint() -> None:
    with pytest.raises(InvalidInputError, match="'1M' is a month in ccxt; minute bars are '1m'"):
        Level.parse("1M")


def test_str_ms_timeframe() -> None:
    assert str(Level.h4) == "4h"
    assert f"{Level.m15}" == "15m"
    assert Level.h4.timeframe == "4h"
    assert [level.ms for level in Level] == [
        MINUTE_MS, 5 * MINUTE_MS, 15 * MINUTE_MS, 30 * MINUTE_MS, HOUR_MS, 2 * HOUR_MS, 4 * HOUR_MS, 6 * HOUR_MS,
        12 * HOUR_MS, DAY_MS, 3 * DAY_MS, WEEK_MS,
    ]


def test_floor_and_ceil() -> None:
    t = to_ms("2024-03-05T13:47:12.345Z")
    assert Level.m1.floor(t) == to_ms("2024-03-05T13:47:00Z")
    assert Level.m15.floor(t) == to_ms("2024-03-05T13:45:00Z")
    assert Level.h4.floor(t) == to_ms("2024-03-05T12:00:00Z")
    assert Level.d1.floor(t) == to_ms("2024-03-05")
    assert Level.m1.ceil(t) == to_ms("2024-03-05T13:48:00Z")
    assert Level.h4.ceil(t) == to_ms("2024-03-05T16:00:00Z")
    assert Level.d1.ceil(t) == to_ms("2024-03-06")
    aligned = to_ms("2024-03-05T12:00:00Z")
    assert Level.h4.floor(aligned) == aligned
    assert Level.h4.ceil(aligned) == aligned
    before_epoch = -1
    assert Level.d1.floor(before_epoch) == -DAY_MS


def test_weekly_grid_is_anchored_on_monday() -> None:
    # 2024-01-01 was a Monday, 2024-01-07 a Sunday.
    monday = to_ms("2024-01-01")
    assert pd.Timestamp(monday, unit="ms").day_name() == "Monday"
    assert Level.w1.floor(to_ms("2024-01-07T23:59:59Z")) == monday
    assert Level.w1.floor(monday) == monday
    assert Level.w1.ceil(monday + 1) == to_ms("2024-01-08")
    assert Level.w1.floor(to_ms("2024-01-04")) == monday  # a Thursday (epoch-anchored would give Jan 4)
    for stamp in pd.date_range("2020-01-01", periods=60, freq="37h", tz="UTC"):
        floored = pd.Timestamp(Level.w1.floor(to_ms(stamp)), unit="ms", tz="UTC")
        assert floored.day_name() == "Monday"
        assert floored == floored.normalize()
        assert floored <= stamp < floored + pd.Timedelta(days=7)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2h", Level.h2), ("2H", Level.h2), ("120m", Level.h2), ("6h", Level.h6), ("6H", Level.h6),
     ("360m", Level.h6), ("12h", Level.h12), ("12H", Level.h12), ("720m", Level.h12), ("3d", Level.d3),
     ("3D", Level.d3), ("72h", Level.d3)],
)
def test_binance_levels_2h_6h_12h_3d(text: str, expected: Level) -> None:
    assert Level.parse(text) is expected
    assert Level.parse(text).timeframe == expected.value  # the ccxt timeframe Binance serves


def test_three_day_grid_is_anchored_at_the_epoch() -> None:
    # Binance's 3d klines open every third day from 1970-01-01: 2023-12-31 is one (day 19722 = 3 × 6574)
    assert Level.d3.floor(to_ms("2024-01-01T12:00Z")) == to_ms("2023-12-31")
    assert Level.d3.floor(to_ms("2024-01-03")) == to_ms("2024-01-03")
    assert Level.d3.ceil(to_ms("2024-01-01")) == to_ms("2024-01-03")
    assert Level.d3.floor(0) == 0 and Level.d3.floor(3 * DAY_MS - 1) == 0
    assert Level.h6.floor(to_ms("2024-01-01T17:59Z")) == to_ms("2024-01-01T12:00Z")
    assert Level.h12.floor(to_ms("2024-01-01T11:59Z")) == to_ms("2024-01-01")
    assert Level.h2.floor(to_ms("2024-01-01T03:30Z")) == to_ms("2024-01-01T02:00Z")


def test_divides_the_new_levels() -> None:
    assert Level.d1.divides(Level.d3) and Level.h12.divides(Level.d3) and Level.m1.divides(Level.d3)
    assert Level.h2.divides(Level.h6) and Level.h6.divides(Level.h12) and Level.h12.divides(Level.d1)
    assert not Level.h4.divides(Level.h6)  # 6h bars are not whole 4h bars
    assert not Level.d3.divides(Level.w1)  # 7 days are not whole 3-day bars
    assert not Level.d1.divides(Level.d3) or Level.d3.anchor_ms == 0


def test_is_aligned() -> None:
    stamps = np.array([to_ms("2024-01-01"), to_ms("2024-01-01T01:00Z"), to_ms("2024-01-01T01:30Z")])
    assert Level.h1.is_aligned(stamps).tolist() == [True, True, False]
    assert Level.m30.is_aligned(stamps).tolist() == [True, True, True]
    assert Level.d1.is_aligned(stamps).tolist() == [True, False, False]
    thursday = to_ms("2024-01-04")
    assert Level.w1.is_aligned(np.array([to_ms("2024-01-01"), thursday])).tolist() == [True, False]
    assert Level.d1.is_aligned([thursday]).tolist() == [True]


def test_divides() -> None:
    assert Level.m1.divides(Level.h1)
    assert Level.m15.divides(Level.h4)
    assert Level.h4.divides(Level.d1)
    assert Level.d1.divides(Level.w1)  # Monday 00:00 is a day boundary
    assert Level.h1.divides(Level.w1)
    assert not Level.h4.divides(Level.h1)
    assert not Level.w1.divides(Level.d1)
    assert Level.h1.divides(Level.h1)


@settings(max_examples=300, deadline=None)
@given(ts=st.integers(min_value=-(10**13), max_value=10**14), level=st.sampled_from(list(Level)))
def test_grid_invariants(ts: int, level: Level) -> None:
    floored, ceiled = level.floor(ts), level.ceil(ts)
    assert floored <= ts < floored + level.ms
    assert ts <= ceiled < ts + level.ms
    assert level.is_aligned(np.array([floored, ceiled])).all()
    assert level.floor(floored) == floored
    assert (ceiled == ts) == bool(level.is_aligned(np.array([ts]))[0])
