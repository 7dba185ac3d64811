"""The resampler against pandas' own resample, on complete and incomplete intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.resample import resample_bars
from zvt_crypto.dataio.sample import sample_bars


def _minutes(symbol: str, start: str, periods: int) -> pd.DataFrame:
    frame = sample_bars(symbol, start, periods).assign(entity_id=f"pair_binance_{symbol.replace('/', '-')}")
    return frame.set_index(["entity_id", "timestamp"])


def _pandas_reference(frame: pd.DataFrame, rule: str) -> pd.DataFrame:
    flat = frame.reset_index(level=0, drop=True)
    return flat.resample(rule, label="left", closed="left").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum", "quote_volume": "sum"}
    )


def test_hourly_bars_equal_pandas_resample() -> None:
    minutes = _minutes("BTC/USDT", "2024-01-01", 6 * 60)
    hourly = resample_bars(minutes, "1m", "1h")
    reference = _pandas_reference(minutes, "1h")
    assert len(hourly) == 6
    got = hourly.reset_index(level=0, drop=True)
    for column in ("open", "high", "low", "close", "volume", "quote_volume"):
        np.testing.assert_allclose(got[column].to_numpy(), reference[column].to_numpy(), rtol=0, atol=1e-9)
    assert list(got.index) == list(reference.index)
    assert str(got.index.tz) == "UTC"
    assert hourly["trade_count"].tolist() == (
        minutes["trade_count"].groupby(np.arange(len(minutes)) // 60).sum().tolist()
    )


def test_incomplete_intervals_are_left_out() -> None:
    minutes = _minutes("BTC/USDT", "2024-01-01", 3 * 60)
    holed = minutes.drop(minutes.index[75])  # one minute missing in the second hour
    hourly = resample_bars(holed, "1m", "1h")
    hours = hourly.index.get_level_values("timestamp")
    assert list(hours) == [pd.Timestamp("2024-01-01 00:00", tz="UTC"), pd.Timestamp("2024-01-01 02:00", tz="UTC")]
    # a trailing partial hour (the bar still forming) is not emitted either
    assert len(resample_bars(minutes.iloc[:-1], "1m", "1h")) == 2


def test_partial_optional_column_is_not_summed() -> None:
    minutes = _minutes("BTC/USDT", "2024-01-01", 120)
    minutes.iloc[10, minutes.columns.get_loc("quote_volume")] = np.nan
    hourly = resample_bars(minutes, "1m", "1h")
    assert np.isnan(hourly["quote_volume"].iloc[0])
    assert hourly["quote_volume"].iloc[1] == pytest.approx(minutes["quote_volume"].iloc[60:].sum())


def test_weekly_bars_open_on_monday() -> None:
    daily = sample_bars("BTC/USDT", "2023-12-28", 25, level="1d").assign(entity_id="pair_binance_BTC-USDT")
    weekly = resample_bars(daily.set_index(["entity_id", "timestamp"]), "1d", "1w")
    opens = weekly.index.get_level_values("timestamp")
    assert list(opens) == [pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-08", tz="UTC"),
                           pd.Timestamp("2024-01-15", tz="UTC")]  # 2023-12-28..31 and 2024-01-22.. are partial
    assert all(stamp.day_of_week == 0 for stamp in opens)
    first_week = daily[(daily["timestamp"] >= "2024-01-01") & (daily["timestamp"] < "2024-01-08")]
    assert weekly["high"].iloc[0] == first_week["high"].max()
    assert weekly["open"].iloc[0] == first_week["open"].iloc[0]


def test_many_entities_equal_one_at_a_time() -> None:
    both = pd.concat([_minutes("BTC/USDT", "2024-01-01", 240), _minutes("ETH/USDT", "2024-01-01 00:30", 240)])
    together = resample_bars(both.sample(frac=1.0, random_state=1), "1m", "15m")  # order must not matter
    apart = pd.concat(
        resample_bars(group, "1m", "15m") for _, group in both.groupby(level="entity_id")
    )
    pd.testing.assert_frame_equal(together, apart)


@pytest.mark.parametrize(("source", "target"), [("1h", "1h"), ("4h", "1h"), ("1h", "1w"), ("1d", "4h")])
def test_levels_that_do_not_divide_are_refused(source: str, target: str) -> None:
    if source == "1h" and target == "1w":  # 1h divides 1w: this pair must work
        bars = sample_bars("X/Y", "2024-01-01", 7 * 24, level="1h").assign(entity_id="pair_binance_X-Y")
        assert len(resample_bars(bars.set_index(["entity_id", "timestamp"]), source, target)) == 1
        return
    with pytest.raises(InvalidInputError, match="cannot build"):
        resample_bars(_minutes("BTC/USDT", "2024-01-01", 10), source, target)


def test_misaligned_source_is_refused() -> None:
    minutes = _minutes("BTC/USDT", "2024-01-01", 120)
    with pytest.raises(InvalidInputError, match="not aligned"):
        resample_bars(minutes, "5m", "1h")


@pytest.mark.parametrize(("source", "target", "rule"), [("1m", "2h", "2h"), ("1m", "6h", "6h"), ("1m", "12h", "12h"),
                                                        ("1h", "3d", "72h"), ("1d", "3d", "72h")])
def test_new_levels_equal_pandas_resample_on_the_epoch_grid(source: str, target: str, rule: str) -> None:
    # 2023-12-30 12:00 starts mid-bar for every target: the first (incomplete) interval must be left out
    periods = {"1m": 3 * 1440, "1h": 10 * 24, "1d": 10}[source]
    start = "2023-12-30" if source == "1d" else "2023-12-30T12:00Z"
    frame = sample_bars("BTC/USDT", start, periods, level=source).assign(entity_id="pair_binance_BTC-USDT")
    frame = frame.set_index(["entity_id", "timestamp"])
    got = resample_bars(frame, source, target).reset_index(level=0, drop=True)
    flat = frame.reset_index(level=0, drop=True)
    reference = flat.resample(rule, label="left", closed="left", origin="epoch").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    counts = flat["close"].resample(rule, label="left", closed="left", origin="epoch").count()
    per_bar = pd.Timedelta(rule) // pd.Timedelta(source.replace("m", "min").replace("d", "D"))
    reference = reference[counts == per_bar]
    assert len(got) >= 2 and list(got.index) == list(reference.index)
    for column in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(got[column].to_numpy(), reference[column].to_numpy(), rtol=0, atol=1e-9)
    if target == "3d":  # Binance's grid: every third day from 1970-01-01 (2023-12-31, 2024-01-03, …)
        assert got.index[0] == pd.Timestamp("2023-12-31", tz="UTC")
