"""Multi-timeframe alignment: a higher-level value is visible only once its bar has closed."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from zvt_crypto.contract.resample import resample_bars
from zvt_crypto.contract.store import Store
from zvt_crypto.dataio.sample import sample_bars
from zvt_crypto.domain import Bar
from zvt_crypto.factors.engine import compute_factor, load_factor
from zvt_crypto.factors.timeframes import HigherTrend, align_higher

BTC = "pair_binance_BTC-USDT"
T0 = pd.Timestamp("2024-01-01", tz="UTC")


def frame(entity: str, times: pd.DatetimeIndex, values: np.ndarray, name: str = "value") -> pd.Series:
    index = pd.MultiIndex.from_arrays([[entity] * len(times), times], names=["entity_id", "timestamp"])
    return pd.Series(values, index=index, name=name)


def test_a_4h_value_reaches_the_1h_bar_that_closes_with_it() -> None:
    higher = frame(BTC, pd.date_range(T0, periods=3, freq="4h"), np.array([1.0, 2.0, 3.0]))
    lower = frame(BTC, pd.date_range(T0, periods=12, freq="1h"), np.zeros(12)).index
    aligned = align_higher(higher, "4h", lower, "1h")
    # the 00:00 4h bar closes at 04:00, with the 03:00 1h bar; the 04:00 one with the 07:00 1h bar …
    expected = [np.nan] * 3 + [1.0] * 4 + [2.0] * 4 + [3.0]
    np.testing.assert_array_equal(aligned.to_numpy(), expected)
    assert aligned.index.equals(lower)


def test_entities_are_aligned_separately() -> None:
    eth = "pair_binance_ETH-USDT"
    higher = pd.concat([frame(BTC, pd.date_range(T0, periods=2, freq="1D"), np.array([1.0, 2.0])),
                        frame(eth, pd.date_range(T0, periods=2, freq="1D"), np.array([10.0, 20.0]))])
    lower = pd.concat([frame(BTC, pd.date_range(T0, periods=48, freq="1h"), np.zeros(48)),
                       frame(eth, pd.date_range(T0 + pd.Timedelta(hours=20), periods=28, freq="1h"), np.zeros(28))])
    aligned = align_higher(higher, "1d", lower.index, "1h")
    assert aligned.loc[(BTC, T0 + pd.Timedelta(hours=23))] == 1.0
    assert np.isnan(aligned.loc[(BTC, T0 + pd.Timedelta(hours=22))])
    assert aligned.loc[(eth, T0 + pd.Timedelta(hours=23))] == 10.0
    assert aligned.loc[(eth, T0 + pd.Timedelta(hours=47))] == 20.0


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=30), cut=st.integers(0, 120))
def test_future_higher_bars_never_change_past_aligned_values(values: list[float], cut: int) -> None:
    """Replace every higher bar that closes after the cut: lower bars closing up to the cut see the same values."""
    times = pd.date_range(T0, periods=len(values), freq="4h")
    higher = frame(BTC, times, np.array(values))
    lower = frame(BTC, pd.date_range(T0, periods=4 * len(values), freq="1h"), np.zeros(4 * len(values))).index
    cut_time = T0 + pd.Timedelta(hours=cut)
    altered = higher.where(times + pd.Timedelta(hours=4) <= cut_time, -123.0)
    before = align_higher(higher, "4h", lower, "1h")
    after = align_higher(altered, "4h", lower, "1h")
    visible = lower.get_level_values("timestamp") + pd.Timedelta(hours=1) <= cut_time
    pd.testing.assert_series_equal(before[visible], after[visible])


def test_higher_trend_factor_uses_closed_4h_bars_only(sqlite_store: Store) -> None:
    bars = sample_bars("BTC/USDT", T0, 24 * 20, "1h", volatility=0.01).assign(entity_id=BTC)
    sqlite_store.write(Bar, bars, level="1h")  # no 4h bars stored: the factor resamples the 1h ones
    factor = HigherTrend(higher="4h", window=5)
    compute_factor(factor, entity_ids=[BTC], level="1h", store=sqlite_store)
    values = load_factor(factor, entity_ids=[BTC], level="1h", store=sqlite_store).xs(BTC)

    four = resample_bars(bars.set_index(["entity_id", "timestamp"]), "1h", "4h").xs(BTC)
    ema = four["close"].ewm(span=5, adjust=False).mean()
    for stamp in (T0 + pd.Timedelta(hours=h) for h in (3, 4, 6, 7, 100, 479)):
        closed = ema[ema.index + pd.Timedelta(hours=4) <= stamp + pd.Timedelta(hours=1)]
        expected = closed.iloc[-1] if len(closed) else np.nan
        np.testing.assert_allclose(values.at[stamp, "higher_ema"], expected, rtol=1e-12)
    close = bars.set_index("timestamp")["close"]
    np.testing.assert_allclose(values["distance"], close / values["higher_ema"] - 1.0, rtol=1e-12)
