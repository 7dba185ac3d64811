"""Factor research against per-timestamp references: scipy correlations, hand-computed returns, planted signals."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import Bar
from zvt_crypto.factors.research import (
    QuantileReturns,
    TearSheet,
    factor_turnover,
    forward_returns,
    ic_decay,
    ic_summary,
    information_coefficient,
    quantile_returns,
    rank_autocorrelation,
    tear_sheet,
)

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def days(count: int) -> pd.DatetimeIndex:
    return pd.date_range(T0, periods=count, freq="D").as_unit("ms")


def panel(values: dict[str, list[float]]) -> pd.Series:
    length = len(next(iter(values.values())))
    index = pd.MultiIndex.from_product([list(values), days(length)], names=["entity_id", "timestamp"])
    return pd.Series(np.concatenate([np.asarray(v, dtype=float) for v in values.values()]), index=index)


def random_walk(entities: int, timestamps: int, seed: int, volatility: float = 0.02) -> pd.Series:
    rng = np.random.default_rng(seed)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, volatility, (entities, timestamps)), axis=1))
    return panel({f"e{i:03d}": list(row) for i, row in enumerate(prices)}).rename("close")


# --- forward returns ----------------------------------------------------------------------------------------------


def test_forward_returns_by_hand() -> None:
    close = panel({"up": [100, 110, 121, 133.1], "down": [100, 90, 81, 72.9]})
    fwd = forward_returns(close, periods=(1, 2))
    assert fwd.columns.tolist() == [1, 2] and fwd.index.equals(close.index)
    np.testing.assert_allclose(fwd.loc["up", 1].to_numpy(), [0.1, 0.1, 0.1, np.nan])
    np.testing.assert_allclose(fwd.loc["up", 2].to_numpy(), [0.21, 0.21, np.nan, np.nan])
    np.testing.assert_allclose(fwd.loc["down", 1].to_numpy(), [-0.1, -0.1, -0.1, np.nan])
    assert (fwd.loc["up"].dropna() > 0).all().all() and (fwd.loc["down"].dropna() < 0).all().all()


def test_forward_returns_across_a_missing_bar_are_nan() -> None:
    close = panel({"a": [1.0, 2.0, 3.0, 4.0], "b": [1.0, 2.0, 4.0, 8.0]})
    holed = close.drop(("b", days(4)[1]))  # b has no bar on day 2
    fwd = forward_returns(holed, periods=(1,))[1]
    # b on day 1: its day-2 bar is missing, so NaN rather than a 2-day return to day 3
    np.testing.assert_array_equal(fwd.loc["b"].to_numpy(), [np.nan, 1.0, np.nan])
    np.testing.assert_allclose(fwd.loc["a"].to_numpy(), [1.0, 0.5, 1 / 3, np.nan])


def test_forward_returns_on_shuffled_rows() -> None:
    close = random_walk(5, 20, seed=1)
    shuffled = close.sample(frac=1.0, random_state=2)
    fwd = forward_returns(shuffled, periods=(1, 3))
    assert fwd.index.equals(shuffled.index)
    pd.testing.assert_frame_equal(fwd.sort_index(), forward_returns(close, periods=(1, 3)))
    with pytest.raises(InvalidInputError):
        forward_returns(close, periods=(0,))


# --- information coefficient --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_ic_equals_scipy_per_timestamp(method: str) -> None:
    rng = np.random.default_rng(5)
    close = random_walk(30, 25, seed=5)
    fwd = forward_returns(close, periods=(1, 3))
    factor = pd.Series(rng.integers(0, 6, len(close)).astype(float), index=close.index)  # many ties
    factor[rng.random(len(factor)) < 0.2] = np.nan
    ic = information_coefficient(factor, fwd, method=method)
    reference_function = stats.spearmanr if method == "spearman" else stats.pearsonr
    checked = 0
    for period in (1, 3):
        for stamp in ic.index:
            x = factor.xs(stamp, level="timestamp")
            y = fwd[period].xs(stamp, level="timestamp")
            both = x.notna() & y.notna()
            if both.sum() < 2:
                assert np.isnan(ic.loc[stamp, period])
                continue
            expected = reference_function(x[both], y[both])[0]
            assert ic.loc[stamp, period] == pytest.approx(expected, abs=1e-12)
            checked += 1
    assert checked == 24 + 22  # every timestamp with forward returns (25 − 1 and 25 − 3)


def test_ic_of_planted_and_random_factors() -> None:
    entities, timestamps = 200, 300
    close = random_walk(entities, timestamps, seed=7)
    fwd = forward_returns(close, periods=(1, 5))
    rng = np.random.default_rng(8)
    planted = fwd[1] + rng.normal(0, 0.02, len(fwd))  # signal and noise of equal size: correlation ≈ 1/√2
    ic = information_coefficient(planted, fwd)
    assert 0.6 < ic[1].mean() < 0.8
    summary = ic_summary(ic)
    assert summary.loc[1, "positive_share"] == 1.0 and summary.loc[1, "icir"] > 10
    assert summary.loc[1, "mean_ic"] > summary.loc[5, "mean_ic"] > 0  # one 5-step return holds one planted step
    noise = pd.Series(rng.normal(size=len(fwd)), index=fwd.index)
    random_ic = information_coefficient(noise, fwd)[1].dropna()
    # each rank IC has sd ≈ 1/√(N − 1); the mean of T independent ones ≈ 1/√((N − 1)·T): allow 4 of those
    tolerance = 4 / np.sqrt((entities - 1) * len(random_ic))
    assert abs(random_ic.mean()) < tolerance
    assert random_ic.std() == pytest.approx(1 / np.sqrt(entities - 1), rel=0.15)


def test_ic_summary_by_hand() -> None:
    ic = pd.Series([0.1, 0.3, -0.1, 0.3, np.nan], index=days(5), name=1)
    summary = ic_summary(ic)
    mean, std = 0.15, np.std([0.1, 0.3, -0.1, 0.3], ddof=1)
    row = summary.loc[1]
    assert row["mean_ic"] == pytest.approx(mean)
    assert row["std_ic"] == pytest.approx(std)
    assert row["icir"] == pytest.approx(mean / std)
    assert row["t_stat"] == pytest.approx(mean / std * 2)
    assert row["positive_share"] == 0.75 and row["count"] == 4


# --- quantiles, turnover, decay -----------------------------------------------------------------------------------


def test_quantile_returns_by_hand() -> None:
    factor = panel({"a": [1, 4, 0], "b": [2, 3, 0], "c": [3, 2, 0], "d": [4, 1, 0]})
    close = panel({"a": [10, 11, 11], "b": [10, 12, 12], "c": [10, 9, 9], "d": [10, 10, 10]})
    result = quantile_returns(factor, forward_returns(close, periods=(1,)), q=2)
    assert isinstance(result, QuantileReturns)
    # day 1: low half {a, b} earn 10 %, 20 %; high half {c, d} earn −10 %, 0 %
    # day 2: low half {c, d} (factor 2, 1) earn 0, 0; high half {a, b} earn 0, 0
    by_time = result.by_time[1]
    assert by_time.loc[(days(3)[0], 1)] == pytest.approx(0.15)
    assert by_time.loc[(days(3)[0], 2)] == pytest.approx(-0.05)
    assert by_time.loc[(days(3)[1], 1)] == pytest.approx(0.0)
    assert np.isnan(by_time.loc[(days(3)[2], 1)])  # no forward return after the last day
    assert result.mean[1].tolist() == pytest.approx([0.075, -0.025])
    assert result.spread[1].iloc[:2].tolist() == pytest.approx([-0.2, 0.0])
    assert result.mean_spread[1] == pytest.approx(-0.1)


def test_planted_signal_gives_monotone_quantile_returns() -> None:
    close = random_walk(100, 200, seed=9)
    fwd = forward_returns(close, periods=(1, 5))
    rng = np.random.default_rng(10)
    planted = fwd[1] + rng.normal(0, 0.04, len(fwd))
    result = quantile_returns(planted, fwd, q=5)
    assert np.all(np.diff(result.mean[1].to_numpy()) > 0)
    assert np.all(np.diff(result.mean[5].to_numpy()) > 0)
    assert result.mean_spread[1] > 0.01


def test_turnover_of_constant_and_reversing_rankings() -> None:
    constant = panel({f"e{i}": [float(i)] * 6 for i in range(10)})
    turnover = factor_turnover(constant, q=5)
    assert np.isnan(turnover.iloc[0]) and (turnover.iloc[1:] == 0).all()
    reversing = panel({f"e{i}": [float(i) * (-1) ** t for t in range(6)] for i in range(10)})
    assert (factor_turnover(reversing, q=5).iloc[1:] == 1).all()
    assert (factor_turnover(reversing, q=5, bucket=1).iloc[1:] == 1).all()
    assert rank_autocorrelation(constant).iloc[1:].tolist() == pytest.approx([1.0] * 5)
    assert rank_autocorrelation(reversing).iloc[1:].tolist() == pytest.approx([-1.0] * 5)
    # half of the top pair is replaced on day 2: e9 stays, e8 drops, e0 enters
    half = panel({f"e{i}": [float(i), float(i if i != 8 else -1) if i != 0 else 100.0] for i in range(10)})
    assert factor_turnover(half, q=5).iloc[1] == 0.5
    with pytest.raises(InvalidInputError):
        factor_turnover(constant, q=5, bucket=6)


def test_turnover_is_nan_after_warm_up_rows_without_buckets() -> None:
    """load_factor keeps the warm-up rows (all NaN): the first timestamp with buckets has no earlier membership to
    compare with, so its turnover is unknown, not 1.0."""
    warm_up = [np.nan, np.nan, np.nan]
    constant = panel({f"e{i}": [*warm_up, float(i), float(i), float(i)] for i in range(10)})
    turnover = factor_turnover(constant, q=5)
    assert turnover.iloc[:4].isna().all()
    assert (turnover.iloc[4:] == 0).all()
    close = panel({f"e{i}": [100.0 + i + t for t in range(6)] for i in range(10)})
    sheet = tear_sheet(constant, close, periods=(1,), q=5, max_lag=1)
    pd.testing.assert_series_equal(sheet.turnover, turnover)
    # one timestamp without any value in the middle: the one after it is unknown too, then comparisons resume
    gap = panel({f"e{i}": [float(i), float(i), np.nan, float(i), float(i)] for i in range(10)})
    assert factor_turnover(gap, q=5).isna().tolist() == [True, False, True, True, False]


def test_ic_decays_with_the_horizon() -> None:
    close = random_walk(150, 150, seed=11)
    planted = forward_returns(close, periods=(1,))[1]  # knows the next step exactly, nothing after it
    decay = ic_decay(planted, close, max_lag=6)
    assert decay.index.name == "horizon" and decay.index.tolist() == [1, 2, 3, 4, 5, 6]
    assert decay.loc[1, "mean_ic"] > 0.95
    assert np.all(np.diff(decay["mean_ic"].to_numpy()) < 0)
    # a k-step return is the planted step plus k − 1 independent ones: correlation ≈ 1/√k
    assert decay["mean_ic"].to_numpy()[1:] == pytest.approx(1 / np.sqrt(np.arange(2, 7)), abs=0.05)


# --- tear sheet ---------------------------------------------------------------------------------------------------


def test_tear_sheet_tables_agree_with_the_functions(tmp_path: Path) -> None:
    close = random_walk(60, 120, seed=12)
    rng = np.random.default_rng(13)
    factor = forward_returns(close, periods=(1,))[1] + rng.normal(0, 0.03, len(close))
    sheet = tear_sheet(factor, close, periods=(1, 5), q=4, max_lag=5)
    assert isinstance(sheet, TearSheet) and sheet.periods == (1, 5)
    fwd = forward_returns(close, periods=(1, 5))
    pd.testing.assert_frame_equal(sheet.ic, information_coefficient(factor, fwd))
    pd.testing.assert_frame_equal(sheet.ic_summary, ic_summary(information_coefficient(factor, fwd)))
    pd.testing.assert_frame_equal(sheet.quantiles.mean, quantile_returns(factor, fwd, q=4).mean)
    pd.testing.assert_series_equal(sheet.turnover, factor_turnover(factor, q=4))
    pd.testing.assert_series_equal(sheet.rank_autocorrelation, rank_autocorrelation(factor))
    pd.testing.assert_frame_equal(sheet.decay, ic_decay(factor, close, max_lag=5))
    # a factor on fewer rows than close (NaN rows dropped) still lines up
    thinner = factor.dropna().iloc[::2]
    partial = tear_sheet(thinner, close, periods=(1,), q=4, max_lag=2)
    pd.testing.assert_frame_equal(partial.ic, information_coefficient(thinner, forward_returns(close, (1,))))


def test_tear_sheet_figures_and_html(tmp_path: Path) -> None:
    close = random_walk(20, 60, seed=14)
    factor = forward_returns(close, periods=(1,))[1]
    sheet = tear_sheet(factor, close, periods=(1, 3), q=4, max_lag=4)
    figures = sheet.figures(rolling=5)
    assert set(figures) == {"ic", "quantile_returns", "cumulative", "turnover", "decay"}
    assert len(figures["quantile_returns"].data) == 2 and len(figures["cumulative"].data) == 4
    np.testing.assert_allclose(figures["decay"].data[0].y, sheet.decay["mean_ic"].to_numpy())
    path = sheet.to_html(tmp_path / "sheet.html")
    html = path.read_text(encoding="utf-8")
    assert html.count('class="plotly-graph-div"') == 5
    # plotly.js embedded once, no script fetched from a CDN: the file opens offline
    assert html.count("plotly.js v") == 1 and '<script src="http' not in html
    assert len(html) > 3_000_000 and "IC summary" in html


def test_importing_research_does_not_import_plotly() -> None:
    code = "import sys, zvt_crypto.factors.research; print('plotly' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_on_bars_read_from_the_store(sqlite_store: Store, bars: Callable[..., pd.DataFrame]) -> None:
    """query_data's index (levels in order of appearance, entity codes from a dictionary) works as it comes."""
    ids = [f"pair_binance_C{i}-USDT" for i in range(8)]
    frames = [bars(entity, n=48, start=T0 + pd.Timedelta(hours=i), seed=i) for i, entity in enumerate(ids)]
    sqlite_store.write(Bar, pd.concat(frames, ignore_index=True))
    read = Bar.query_data(level="1h", columns=["close"], store=sqlite_store)
    close = read["close"]
    rebuilt = close.reset_index().set_index(["entity_id", "timestamp"])["close"]  # a plain from-arrays index
    factor = close.groupby(level="entity_id").pct_change(3)
    factor_rebuilt = rebuilt.groupby(level="entity_id").pct_change(3)
    sheet = tear_sheet(factor, close, periods=(1, 2), q=3, max_lag=3)
    reference = tear_sheet(factor_rebuilt, rebuilt, periods=(1, 2), q=3, max_lag=3)
    pd.testing.assert_frame_equal(sheet.ic, reference.ic)
    pd.testing.assert_frame_equal(sheet.quantiles.by_time, reference.quantiles.by_time)
    pd.testing.assert_series_equal(sheet.turnover, reference.turnover)
    assert sheet.ic.index.is_monotonic_increasing and len(sheet.ic) == 48 + 7  # staggered starts: 55 hours
    assert sheet.ic[1].notna().sum() > 40
