"""Contract properties of every registered indicator: causality, exact warm-up, output shape, no mutation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal

from tests.factors.indicators.data import make_bars, random_bars
from zvt_crypto.factors.indicators import INDICATORS

NAMES = sorted(INDICATORS)

#: indicators built on EMA / Wilder recursions: after the warm-up they match a full-history run to round-off
RECURSIVE = {"ema", "dema", "tema", "t3", "kama", "macd", "adx", "trix", "mass_index", "stc", "rsi", "stochrsi",
             "tsi", "ppo", "atr", "natr", "keltner", "adosc", "force_index", "pvo"}


@st.composite
def bars_and_cut(draw: st.DrawFn) -> tuple[pd.DataFrame, int]:
    """Valid random bars (positive prices, volumes >= 0), sometimes on a coarse tick so that ties and flat windows
    occur, at a random level and start (so sessions are crossed), and a cut point."""
    n = draw(st.integers(1, 160))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, draw(st.sampled_from([0.0005, 0.01, 0.05])), n)
    spreads = rng.exponential(0.002, (n, 2))
    volumes = rng.lognormal(2.0, 1.5, n) * (rng.random(n) > draw(st.sampled_from([0.0, 0.3])))
    start = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(minutes=draw(st.integers(0, 20_000)))
    bars = make_bars(returns, spreads, volumes, start=str(start), freq=draw(st.sampled_from(["1min", "1h", "4h"])),
                     tick=draw(st.sampled_from([None, 0.5])))
    return bars, draw(st.integers(1, n))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=bars_and_cut())
def test_appending_bars_never_changes_past_values(name: str, data: tuple[pd.DataFrame, int]) -> None:
    bars, cut = data
    spec = INDICATORS[name]
    full = spec(bars)
    head = spec(bars.iloc[:cut])
    assert_frame_equal(head, full.iloc[:cut], check_exact=True)


LONG = random_bars(7_200, seed=7)  # longer than every warm-up (KAMA's 6635) plus the compared tail
TAIL = 300


@pytest.mark.parametrize("name", [n for n in NAMES if INDICATORS[n].warmup_bars() is not None])
def test_values_after_the_warmup_are_final(name: str) -> None:
    spec = INDICATORS[name]
    warmup = spec.warmup_bars()
    assert warmup is not None and warmup + TAIL <= len(LONG)
    full = spec(LONG).iloc[-TAIL:]
    part = spec(LONG.iloc[-(warmup + TAIL):]).iloc[-TAIL:]
    assert not full.isna().any().any()
    for column in spec.outputs:
        expected, actual = full[column].to_numpy(), part[column].to_numpy()
        scale = np.abs(expected).max()
        if column in spec.cumulative:  # a running sum restarts: equal up to a constant
            assert_allclose(actual - actual[0], expected - expected[0], rtol=1e-10, atol=1e-12 * scale)
        elif name in RECURSIVE or name == "adosc":
            assert_allclose(actual, expected, rtol=1e-10, atol=1e-10 * scale)
        else:
            assert_array_equal(actual, expected)


@pytest.mark.parametrize("name", [n for n in NAMES if n in RECURSIVE])
def test_recursive_values_before_the_warmup_are_not_yet_final(name: str) -> None:
    """The warm-up is needed: computed from fewer bars, recursive values still carry their seed."""
    spec = INDICATORS[name]
    warmup = spec.warmup_bars()
    assert warmup is not None
    full = spec(LONG).iloc[-TAIL:]
    short = spec(LONG.iloc[-(TAIL + 12):]).iloc[-TAIL:]
    assert not np.array_equal(full.to_numpy(), short.to_numpy())


@pytest.mark.parametrize("name", NAMES)
def test_output_columns_index_and_input(name: str) -> None:
    spec = INDICATORS[name]
    bars = random_bars(400, seed=3)
    before = bars.copy(deep=True)
    result = spec(bars)
    assert tuple(result.columns) == spec.outputs
    assert result.index.equals(bars.index) and result.index.dtype == bars.index.dtype
    assert all(dtype == np.float64 for dtype in result.dtypes)
    assert_frame_equal(bars, before, check_exact=True)
    assert np.isfinite(result.iloc[-100:].to_numpy()).all(), "finite after the warm-up"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [0, 1, 2])
def test_short_inputs(name: str, n: int) -> None:
    spec = INDICATORS[name]
    bars = random_bars(n, seed=1) if n else random_bars(5).iloc[:0]
    result = spec(bars)
    assert tuple(result.columns) == spec.outputs and len(result) == n


@pytest.mark.parametrize("name", NAMES)
def test_float32_columns_and_extra_columns(name: str) -> None:
    spec = INDICATORS[name]
    bars = random_bars(300, seed=4)
    widened = bars.astype("float32").astype("float64")
    odd = bars.astype("float32").assign(symbol="BTC/USDT")
    assert_frame_equal(spec(odd), spec(widened), check_exact=True)
