"""The factor engine on a real store: persisted results, incremental == full recompute, multi-entity ==
per-entity, version changes, clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from zvt_crypto.contract.errors import InvalidInputError, NoUsableDataError
from zvt_crypto.contract.levels import Level
from zvt_crypto.contract.store import Store
from zvt_crypto.dataio.sample import sample_bars
from zvt_crypto.domain import Bar, FactorValue
from zvt_crypto.factors.base import Factor, make_factor, register_function
from zvt_crypto.factors.data import FactorInput
from zvt_crypto.factors.engine import compute_factor, load_factor

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
IDS = [f"pair_binance_{s.replace('/', '-')}" for s in SYMBOLS]


@register_function(outputs=("mean", "high_max"), warmup=lambda window: window, name="test_window")
def windowed(bars: pd.DataFrame, window: int = 10) -> pd.DataFrame:
    """Rolling mean of close and rolling max of high (a windowed factor: bit-identical when incremental)."""
    return pd.DataFrame({"mean": bars["close"].rolling(window).mean(), "high_max": bars["high"].rolling(window).max()})


@register_function(outputs=("ema",), warmup=lambda span: 40 * span, name="test_ema")
def ema(bars: pd.DataFrame, span: int = 10) -> pd.DataFrame:
    """An exponential average (recursive: equal to round-off after its warm-up)."""
    return bars["close"].ewm(span=span, adjust=False).mean().to_frame("ema")


@register_function(outputs=("net_volume",), warmup=lambda: 1, name="test_cumulative", cumulative=("net_volume",))
def net_volume(bars: pd.DataFrame) -> pd.DataFrame:
    """Running sum of signed volume from the first bar (a cumulative output)."""
    return (np.sign(bars["close"].diff().fillna(0.0)) * bars["volume"]).cumsum().to_frame("net_volume")


class Ranked(Factor):
    """Cross-entity: the close's rank among entities at each bar, with ZVT's filter and score columns."""

    name = "test_ranked"
    outputs = ("momentum",)
    params: ClassVar[dict[str, int]] = {"window": 5}

    def warmup(self, level: Level) -> int:
        return self.p["window"]

    def compute(self, data: FactorInput) -> pd.DataFrame:
        close = data.bars()["close"]
        return close.groupby(level="entity_id", observed=True).pct_change(self.p["window"]).to_frame("momentum")

    def signals(self, values: pd.DataFrame) -> pd.DataFrame:
        score = values["momentum"].groupby(level="timestamp").rank(pct=True)
        side = np.where(score > 0.5, 1, np.where(score < 0.5, -1, 0))
        return pd.DataFrame({"score_result": score, "filter_result": side}, index=values.index)


def write_bars(store: Store, n: int, start: str = "2024-01-01", level: str = "1h") -> None:
    """The first ``n`` bars of one fixed series per symbol (so a longer write extends a shorter one)."""
    frames = []
    for symbol, entity in zip(SYMBOLS, IDS, strict=True):
        bars = sample_bars(symbol, start, 2000, level, volatility=0.01).iloc[:n]
        frames.append(bars.assign(entity_id=entity))
    store.write(Bar, pd.concat(frames), level=level)


@pytest.fixture
def fresh(sqlite_template: Path, tmp_path: Path) -> Iterator[Store]:
    """A second empty store, for the full recomputation to compare with."""
    import shutil

    path = tmp_path / "full" / "zvt.db"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    store = Store(f"sqlite:///{path}")
    yield store
    store.dispose()


def stored(store: Store, factor: Factor, level: str = "1h") -> pd.DataFrame:
    return load_factor(factor, level=level, entity_ids=IDS, store=store)


def test_results_are_persisted_and_equal_per_entity_computation(store: Store) -> None:
    write_bars(store, 300)
    factor = windowed(window=12)
    run = compute_factor(factor, exchange="binance", symbols=SYMBOLS, level="1h", store=store)
    assert run.factor_id == "test_window:1h:window=12"
    assert run.rows == 900 and run.changed == 900 and run.entities == 3
    values = stored(store, factor)
    assert list(values.columns) == ["mean", "high_max"]
    assert values.index.names == ["entity_id", "timestamp"]
    bars = Bar.query_data(entity_ids=IDS, level="1h", store=store)
    for entity in IDS:  # multi-entity results == the function on that entity's bars alone
        own = windowed.indicator(bars.xs(entity, level="entity_id"), window=12)
        pd.testing.assert_frame_equal(values.xs(entity, level="entity_id"), own, check_freq=False)
    assert values["mean"].isna().sum() == 3 * 11  # warm-up rows are stored as missing values

    again = compute_factor(factor, exchange="binance", symbols=SYMBOLS, level="1h", store=store)
    assert again.rows == 0 and again.changed == 0  # nothing new: nothing computed, nothing written


@pytest.mark.parametrize(("factory", "exact"), [(lambda: windowed(window=24), True), (lambda: ema(span=20), False),
                                                 (lambda: net_volume(), False), (lambda: Ranked(window=6), True)])
def test_incremental_equals_full_recompute(sqlite_store: Store, fresh: Store, factory: object, exact: bool) -> None:
    factor = factory()  # type: ignore[operator]
    write_bars(sqlite_store, 900)
    first = compute_factor(factor, exchange="binance", symbols=SYMBOLS, level="1h", store=sqlite_store)
    assert first.rows == 2700
    write_bars(sqlite_store, 1200)  # 300 new bars per entity (the first 900 are rewritten unchanged)
    second = compute_factor(factor, exchange="binance", symbols=SYMBOLS, level="1h", store=sqlite_store)
    assert second.rows == 900  # only the new bars were produced

    write_bars(fresh, 1200)
    compute_factor(factor, exchange="binance", symbols=SYMBOLS, level="1h", store=fresh)
    incremental, full = stored(sqlite_store, factor), stored(fresh, factor)
    if exact:
        pd.testing.assert_frame_equal(incremental, full)
    else:
        pd.testing.assert_index_equal(incremental.index, full.index)
        np.testing.assert_allclose(incremental.to_numpy(float), full.to_numpy(float), rtol=1e-10, atol=0)


def test_incremental_warmup_reaches_over_a_gap(sqlite_store: Store, fresh: Store) -> None:
    """Bars missing inside the warm-up margin: the engine still uses exactly `window` earlier bars."""
    factor = windowed(window=48)
    for store in (sqlite_store, fresh):
        write_bars(store, 100)
        write_bars(store, 100, start="2024-01-20")  # a 15-day hole, longer than the time margin
    compute_factor(factor, exchange="binance", symbols=SYMBOLS, level="1h", store=sqlite_store,
                   end="2024-01-20T05:00:00Z")
    compute_factor(factor, exchange="binance", symbols=SYMBOLS, level="1h", store=sqlite_store)
    compute_factor(factor, exchange="binance", symbols=SYMBOLS, level="1h", store=fresh)
    pd.testing.assert_frame_equal(stored(sqlite_store, factor), stored(fresh, factor))


def test_signals_are_stored_with_the_values(sqlite_store: Store) -> None:
    write_bars(sqlite_store, 50)
    compute_factor(Ranked(), exchange="binance", symbols=SYMBOLS, level="1h", store=sqlite_store)
    values = stored(sqlite_store, Ranked())
    assert list(values.columns) == ["momentum", "filter_result", "score_result"]
    last = values.xs(values.index.get_level_values("timestamp").max(), level="timestamp")
    best = last["momentum"].idxmax()
    assert last.at[best, "score_result"] == 1.0 and last.at[best, "filter_result"] == 1
    assert last.loc[last["momentum"].idxmin(), "filter_result"] == -1


def test_a_new_version_replaces_old_results(sqlite_store: Store) -> None:
    write_bars(sqlite_store, 40)
    factor = windowed(window=5)
    compute_factor(factor, exchange="binance", symbols=SYMBOLS, level="1h", store=sqlite_store)
    type(factor).version = "2"
    try:
        run = compute_factor(factor, exchange="binance", symbols=SYMBOLS, level="1h", store=sqlite_store)
    finally:
        type(factor).version = "1"
    assert run.rows == 120  # recomputed from scratch, not resumed
    assert len(FactorValue.query_data(store=sqlite_store)) == 120


def test_range_and_exchange_only_selection(sqlite_store: Store) -> None:
    write_bars(sqlite_store, 48)
    run = compute_factor(windowed(window=3), exchange="binance", level="1h", start="2024-01-02", store=sqlite_store)
    assert run.entities == 3 and run.rows == 3 * 24
    values = stored(sqlite_store, windowed(window=3))
    assert values.index.get_level_values("timestamp").min() == pd.Timestamp("2024-01-02", tz="UTC")
    assert values["mean"].notna().all()  # warm-up came from bars before the start


def test_clear_errors(sqlite_store: Store) -> None:
    with pytest.raises(InvalidInputError, match="no parameter"):
        windowed(length=3)
    with pytest.raises(InvalidInputError, match="window='x' must be int"):
        windowed(window="x")
    with pytest.raises(InvalidInputError, match="no stored results for test_window:1h:window=10"):
        load_factor(windowed(), level="1h", entity_ids=IDS, store=sqlite_store)
    with pytest.raises(InvalidInputError, match="no 1h bars of binance"):
        compute_factor(windowed(), exchange="binance", level="1h", store=sqlite_store)
    with pytest.raises(InvalidInputError, match="is after end"):
        compute_factor(windowed(), exchange="binance", symbols=SYMBOLS, level="1h", start="2024-02-01",
                       end="2024-01-01", store=sqlite_store)
    with pytest.raises(InvalidInputError, match="level"):
        compute_factor(windowed(), exchange="binance", symbols=SYMBOLS, level="3h", store=sqlite_store)
    assert len(FactorValue.query_data(store=sqlite_store)) == 0


def test_parameters_from_strings_are_typed() -> None:
    factor = windowed(window="7")
    assert factor.p == {"window": 7}
    assert factor.factor_id("1H") == "test_window:1h:window=7"


def test_a_run_says_which_entities_got_nothing_usable_and_what_to_record(sqlite_store: Store) -> None:
    write_bars(sqlite_store, 48)
    fine = compute_factor(windowed(window=3), exchange="binance", symbols=SYMBOLS[:2], level="1h",
                          store=sqlite_store)
    assert fine.warnings == [] and not fine.failed
    assert fine.usable == 2 * 46 and fine.counts.loc[IDS[0]].tolist() == [48, 46]
    assert compute_factor(windowed(window=3), exchange="binance", symbols=SYMBOLS[:2], level="1h",
                          store=sqlite_store).failed is False  # up to date: nothing new, nothing wrong

    missing = compute_factor(windowed(window=3), exchange="binance", symbols=["DOGE/USDT"], level="1h",
                             store=sqlite_store)
    assert missing.failed and missing.usable == 0
    assert missing.warnings == ["DOGE/USDT on binance: no 1h bars stored; record them: zvt-crypto record bars "
                                "--exchange binance --symbol DOGE/USDT --level 1h"]
    with pytest.raises(NoUsableDataError, match="nothing usable computed for test_window:1h:window=3"):
        missing.check()

    short = compute_factor(windowed(window=100), exchange="binance", symbols=SYMBOLS[:1], level="1h",
                           store=sqlite_store)
    assert short.failed and short.rows == 48 and short.usable == 0
    assert "BTC/USDT on binance: all 48 values are NaN" in short.warnings[0]
    assert "48 bars stored, the factor needs 100 of warm-up" in short.warnings[0]

    spread = compute_factor(make_factor("cross_spread", {"other": "okx"}), exchange="binance",
                            symbols=SYMBOLS[:1], level="1h", store=sqlite_store)
    assert spread.failed and spread.rows == 48
    assert spread.warnings == ["BTC/USDT on binance: all 48 values are NaN; an input is missing: 1h bars of "
                               "BTC/USDT on okx (zvt-crypto record bars --exchange okx --symbol BTC/USDT "
                               "--level 1h)"]
    # one symbol with values, one without: reported, but the run produced something
    mixed = compute_factor(windowed(window=5), exchange="binance", symbols=[SYMBOLS[1], "DOGE/USDT"], level="1h",
                           store=sqlite_store)
    assert not mixed.failed and len(mixed.warnings) == 1 and mixed.usable == 44


def test_a_higher_level_that_is_missing_is_named(sqlite_store: Store) -> None:
    write_bars(sqlite_store, 48)  # two days of 1h bars: not one complete week to resample
    run = compute_factor(make_factor("mtf_trend", {"higher": "1w"}), exchange="binance", symbols=SYMBOLS[:1],
                         level="1h", store=sqlite_store)
    assert run.failed and run.rows == 48
    assert "an input is missing: 1w bars of BTC/USDT on binance (zvt-crypto record bars --exchange binance " \
           "--symbol BTC/USDT --level 1w)" in run.warnings[0]
