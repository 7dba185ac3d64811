"""The one set of time-to-text helpers every module uses (contract/timeutil.py)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.timeutil import iso, iso_ms, iso_texts

JAN1 = 1_704_067_200_000  # 2024-01-01T00:00:00Z


@pytest.mark.parametrize("value", [JAN1, np.int64(JAN1), "2024-01-01", "2024-01-01T01:00:00+01:00",
                                   datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1),
                                   pd.Timestamp("2024-01-01T08:00", tz="Asia/Shanghai"),
                                   pd.Timestamp("2024-01-01T00:00:00.900", tz="UTC")])
def test_iso_writes_any_time_as_utc_to_the_second(value: object) -> None:
    assert iso(value) == "2024-01-01T00:00:00Z"  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [None, math.nan, pd.NaT, np.datetime64("NaT")])
def test_iso_of_a_missing_time_is_none(value: object) -> None:
    assert iso(value) is None  # type: ignore[arg-type]


def test_iso_ms_keeps_the_milliseconds() -> None:
    assert iso_ms(JAN1 + 123) == "2024-01-01T00:00:00.123Z"
    assert iso_ms(JAN1 + 5) == "2024-01-01T00:00:00.005Z"
    assert iso_ms(JAN1 - 1) == "2023-12-31T23:59:59.999Z"
    assert iso_ms(pd.Timestamp("2024-01-01T00:00:00.250", tz="UTC")) == "2024-01-01T00:00:00.250Z"


def test_iso_texts_writes_a_series_or_an_index_in_utc() -> None:
    east = timezone(timedelta(hours=8))
    index = pd.DatetimeIndex([datetime(2024, 1, 1, 8, tzinfo=east), datetime(2024, 1, 1, 9, tzinfo=east)])
    expected = ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"]
    assert list(iso_texts(index)) == expected
    series = pd.Series(index, index=[10, 20])
    texts = iso_texts(series)
    assert list(texts) == expected and list(texts.index) == [10, 20]
    assert list(iso_texts(pd.Series(pd.DatetimeIndex(["2024-01-01", "2024-01-01T01:00"])))) == expected  # naive: UTC
