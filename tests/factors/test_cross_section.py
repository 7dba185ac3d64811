"""Cross-sectional scorers, filters and top-N selection against per-timestamp references (scipy, hand counts)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.store import Store
from zvt_crypto.domain import CryptoPair
from zvt_crypto.domain.universe import get_entities
from zvt_crypto.factors.cross_section import (
    above,
    below,
    between,
    bottom_fraction,
    filter_result_from,
    not_null,
    quantile_bucket,
    rank_score,
    score_result_from,
    select_top_n,
    to_wide,
    top_fraction,
    universe_mask,
    zscore,
)
from zvt_crypto.factors.panel import Panel

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def days(count: int) -> pd.DatetimeIndex:
    return pd.date_range(T0, periods=count, freq="D").as_unit("ms")


def panel(values: dict[str, list[float]]) -> pd.Series:
    """One series from {entity: values per day}, indexed (entity_id, timestamp) like query_data."""
    length = len(next(iter(values.values())))
    index = pd.MultiIndex.from_product([list(values), days(length)], names=["entity_id", "timestamp"])
    return pd.Series(np.concatenate([np.asarray(v, dtype=float) for v in values.values()]), index=index, name="x")


def per_timestamp(series: pd.Series) -> dict[pd.Timestamp, pd.Series]:
    return {stamp: group.droplevel("timestamp") for stamp, group in series.groupby(level="timestamp")}


def random_panel(seed: int, entities: int = 12, timestamps: int = 8, nan_share: float = 0.15,
                 ties: bool = False) -> pd.Series:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 5, (entities, timestamps)).astype(float) if ties else rng.normal(size=(entities, timestamps))
    data[rng.random(data.shape) < nan_share] = np.nan
    return panel({f"e{i:02d}": list(row) for i, row in enumerate(data)})


# --- universe -----------------------------------------------------------------------------------------------------


def test_universe_excludes_before_listing_and_from_delisting() -> None:
    entities = pd.DataFrame(
        {
            "list_timestamp": pd.to_datetime(["2024-01-03", None, "2023-01-01"], utc=True),
            "delist_timestamp": pd.to_datetime(["2024-01-05", None, None], utc=True),
        },
        index=pd.Index(["a", "b", "c"], name="entity_id"),
    )
    values = panel({"a": [1, 2, 3, 4, 5, 6], "b": [1] * 6, "z": [1] * 6})  # z is not in the entities table
    mask = universe_mask(values.index, entities)
    assert mask.index.equals(values.index)
    assert mask.xs("a").tolist() == [False, False, True, True, False, False]  # listed 3rd, delisted at the 5th
    assert mask.xs("b").tolist() == [True] * 6  # unknown listing and delisting: always in
    assert mask.xs("z").tolist() == [False] * 6
    # same answer with entity_id as a column, and with naive timestamps (read as UTC)
    flat = entities.reset_index()
    flat["list_timestamp"] = flat["list_timestamp"].dt.tz_localize(None)
    assert universe_mask(values.index, flat).equals(mask)


def test_universe_matches_get_entities_as_of(sqlite_store: Store) -> None:
    def row(symbol: str, listed: str | None, delisted: str | None) -> dict[str, object]:
        base, quote = symbol.split("/")
        return {"entity_id": f"pair_binance_{base}-{quote}", "entity_type": "pair", "exchange": "binance",
                "symbol": symbol, "base": base, "quote": quote, "active": delisted is None,
                "list_timestamp": pd.Timestamp(listed, tz="UTC") if listed else None,
                "delist_timestamp": pd.Timestamp(delisted, tz="UTC") if delisted else None}

    sqlite_store.write(CryptoPair, pd.DataFrame([
        row("OLD/USDT", "2023-06-01", None), row("NEW/USDT", "2024-01-04", None),
        row("GONE/USDT", "2023-01-01", "2024-01-03"), row("ANY/USDT", None, None),
    ]))
    entities = get_entities("pair", store=sqlite_store)
    ids = list(entities.index)
    values = panel({entity: list(range(7)) for entity in ids})
    mask = universe_mask(values.index, entities)
    for stamp in days(7):  # the reference: the store's own as-of query, one per day
        expected = set(get_entities("pair", as_of=stamp, store=sqlite_store).index)
        got = set(mask[mask].xs(stamp, level="timestamp").index)
        assert got == expected, stamp
    # scores ignore the entities outside: on day 1 NEW is not listed yet, on day 6 GONE is gone
    scores = rank_score(values, universe=entities)
    assert np.isnan(scores.loc[("pair_binance_NEW-USDT", days(7)[0])])
    assert np.isnan(scores.loc[("pair_binance_GONE-USDT", days(7)[5])])
    assert scores.loc[("pair_binance_OLD-USDT", days(7)[0])] == 0.5  # 3 listed entities with equal values


def test_entities_need_listing_columns() -> None:
    with pytest.raises(InvalidInputError, match="list_timestamp"):
        universe_mask(panel({"a": [1.0]}).index, pd.DataFrame({"symbol": ["A"]}, index=["a"]))


# --- scorers ------------------------------------------------------------------------------------------------------


def test_rank_score_by_hand() -> None:
    values = panel({"a": [1, 5, np.nan], "b": [2, 5, 7], "c": [3, 1, np.nan], "d": [4, 9, np.nan]})
    scores = rank_score(values)
    # day 1: ranks 1..4 → 0, 1/3, 2/3, 1; day 2: 5, 5, 1, 9 → ranks 2.5, 2.5, 1, 4 → 0.5, 0.5, 0, 1;
    # day 3: only b → 0.5 (a single entity is neither best nor worst)
    expected = panel({"a": [0, 0.5, np.nan], "b": [1 / 3, 0.5, 0.5], "c": [2 / 3, 0, np.nan], "d": [1, 1, np.nan]})
    pd.testing.assert_series_equal(scores, expected, check_names=False)
    pd.testing.assert_series_equal(score_result_from(values), scores.rename("score_result"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_score_equals_scipy_per_timestamp(seed: int) -> None:
    values = random_panel(seed, ties=seed == 2)
    scores = rank_score(values)
    for stamp, group in per_timestamp(values).items():
        valid = group.dropna()
        reference = (stats.rankdata(valid.to_numpy()) - 1) / (len(valid) - 1)
        got = scores.xs(stamp, level="timestamp").loc[valid.index].to_numpy()
        np.testing.assert_allclose(got, reference, rtol=0, atol=1e-12)
        assert scores.xs(stamp, level="timestamp")[group.isna()].isna().all()


def test_universe_mask_as_series_reranks_the_rest() -> None:
    values = panel({"a": [1.0], "b": [2.0], "c": [3.0]})
    universe = pd.Series([True, True, False], index=values.index)
    assert rank_score(values, universe=universe).tolist()[:2] == [0.0, 1.0]
    assert np.isnan(rank_score(values, universe=universe).iloc[2])


def test_unsorted_input_gives_the_same_scores_on_its_own_index() -> None:
    values = random_panel(3)
    shuffled = values.sample(frac=1.0, random_state=4)
    for scorer in (rank_score, lambda v: quantile_bucket(v, 3), zscore):
        got = scorer(shuffled)
        assert got.index.equals(shuffled.index)
        pd.testing.assert_series_equal(got.sort_index(), scorer(values).sort_index())


def test_frame_input_is_scored_column_by_column() -> None:
    frame = pd.DataFrame({"x": random_panel(5), "y": -random_panel(5)})
    scores = rank_score(frame)
    assert list(scores.columns) == ["x", "y"]
    pd.testing.assert_series_equal(scores["x"], rank_score(frame["x"]), check_names=False)
    summed = (scores["x"] + scores["y"]).dropna()
    np.testing.assert_allclose(summed, 1.0)  # negated values rank in reverse


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-3, 3) | st.floats(-1e6, 1e6), min_size=3, max_size=3), min_size=1,
                max_size=15))
def test_rank_score_is_in_unit_interval_and_monotone(rows: list[list[float]]) -> None:
    values = panel({f"e{i}": row for i, row in enumerate(rows)})
    scores = rank_score(values)
    assert ((scores >= 0) & (scores <= 1)).all()
    for stamp, group in per_timestamp(values).items():
        score = scores.xs(stamp, level="timestamp")
        order = np.argsort(group.to_numpy(), kind="stable")
        sorted_values, sorted_scores = group.to_numpy()[order], score.to_numpy()[order]
        assert np.all(np.diff(sorted_scores) >= 0)
        assert np.all((np.diff(sorted_values) == 0) == (np.diff(sorted_scores) == 0))  # ties, and only ties, equal


def test_quantile_buckets_are_equal_count() -> None:
    values = panel({f"e{i}": [float(i), float(-i)] for i in range(10)})
    buckets = quantile_bucket(values, 5)
    assert buckets.xs(days(2)[0], level="timestamp").tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert buckets.xs(days(2)[1], level="timestamp").tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    # the same cut as pandas' qcut on distinct values when n is a multiple of q
    reference = pd.qcut(np.arange(10), 5, labels=False) + 1
    assert buckets.xs(days(2)[0], level="timestamp").tolist() == reference.tolist()


@pytest.mark.parametrize(("entities", "q"), [(7, 3), (13, 5), (23, 10), (5, 5)])
def test_quantile_bucket_sizes_differ_by_at_most_one(entities: int, q: int) -> None:
    rng = np.random.default_rng(entities)
    values = panel({f"e{i}": [rng.normal()] for i in range(entities)})
    buckets = quantile_bucket(values, q)
    counts = buckets.value_counts().reindex(range(1, q + 1), fill_value=0)
    assert counts.max() - counts.min() <= 1 and counts.min() >= 1
    by_value = buckets.to_numpy()[np.argsort(values.to_numpy())]
    assert np.all(np.diff(by_value) >= 0)  # higher values never land in a lower bucket


def test_quantile_bucket_with_fewer_entities_than_buckets_and_ties() -> None:
    assert quantile_bucket(panel({"a": [1.0], "b": [2.0]}), 5).tolist() == [2.0, 4.0]
    assert quantile_bucket(panel({"a": [1.0]}), 5).tolist() == [3.0]
    assert quantile_bucket(panel({"a": [1.0], "b": [1.0], "c": [1.0], "d": [2.0]}), 2).tolist() == [1, 1, 1, 2]
    assert np.isnan(quantile_bucket(panel({"a": [np.nan], "b": [1.0]}), 2).iloc[0])
    with pytest.raises(InvalidInputError):
        quantile_bucket(panel({"a": [1.0]}), 0)


def test_zscore_equals_scipy_and_clips() -> None:
    values = random_panel(7)
    z = zscore(values)
    for stamp, group in per_timestamp(values).items():
        valid = group.dropna()
        got = z.xs(stamp, level="timestamp").loc[valid.index].to_numpy()
        np.testing.assert_allclose(got, stats.zscore(valid.to_numpy()), atol=1e-12)
    clipped = zscore(values, clip=1.0)
    assert clipped.abs().max() == 1.0
    pd.testing.assert_series_equal(clipped, z.clip(-1.0, 1.0))
    sample = zscore(values, ddof=1)  # sample std: z shrinks by √((n − 1) / n)
    ratio = (z / sample).dropna()
    counts = values.groupby(level="timestamp").transform("count").loc[ratio.index]
    np.testing.assert_allclose(ratio, np.sqrt(counts / (counts - 1)))


def test_zscore_winsorizes_the_outlier_then_standardises() -> None:
    raw = np.append(np.arange(1.0, 21.0), 1000.0)
    values = panel({f"e{i:02d}": [value, value * 2] for i, value in enumerate(raw)})
    # reference: clip to median ± 3 · MAD scaled to σ (scipy), then the plain z-score
    median = np.median(raw)
    width = 3 * stats.median_abs_deviation(raw, scale="normal")
    clipped = np.clip(raw, median - width, median + width)
    expected = (clipped - clipped.mean()) / clipped.std()
    got = zscore(values, winsorize=3)
    np.testing.assert_allclose(got.xs(days(2)[0], level="timestamp").to_numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(got.xs(days(2)[1], level="timestamp").to_numpy(), expected, rtol=1e-12)
    plain = zscore(values).xs(days(2)[0], level="timestamp").to_numpy()
    assert plain[:20].std() < 0.03 < 0.5 < expected[:20].std()  # the outlier no longer squeezes the rest
    # more than half equal (MAD 0): nothing is clipped
    many_equal = panel({"a": [1.0], "b": [1.0], "c": [1.0], "d": [50.0]})
    pd.testing.assert_series_equal(zscore(many_equal, winsorize=1), zscore(many_equal))


def test_zscore_of_a_constant_cross_section_is_zero() -> None:
    values = panel({"a": [0.1, 5.0], "b": [0.1, np.nan], "c": [0.1, np.nan]})
    assert zscore(values).fillna(-9).tolist() == [0.0, 0.0, 0.0, -9.0, 0.0, -9.0]


# --- filters ------------------------------------------------------------------------------------------------------


def factor_frame() -> pd.DataFrame:
    volume = panel({"a": [5.0, 50.0], "b": [50.0, 5.0], "c": [500.0, np.nan], "d": [20.0, 20.0]})
    momentum = panel({"a": [0.1, 0.3], "b": [-0.2, 0.1], "c": [0.3, 0.2], "d": [np.nan, 0.0]})
    return pd.DataFrame({"volume": volume, "momentum": momentum})


def test_filters_compose() -> None:
    frame = factor_frame()
    liquid = above("volume", 10)
    rising = above("momentum", 0)
    assert liquid(frame).tolist() == [False, True, True, False, True, False, True, True]
    assert (liquid & rising)(frame).tolist() == [False, True, False, False, True, False, False, False]
    assert (liquid | rising)(frame).tolist() == [True, True, True, True, True, True, True, True]
    assert (~liquid)(frame).tolist() == [True, False, False, True, False, True, False, False]  # NaN volume: not above
    assert (~rising & not_null("momentum"))(frame).tolist() == [False] * 2 + [True, False] + [False] * 3 + [True]
    assert between("volume", 20, 50)(frame).tolist() == [False, True, True, False, False, False, True, True]
    assert below("volume", 20, inclusive=True)(frame).tolist() == [True, False, False, True] + [False] * 2 + [True] * 2
    assert above("volume", 20, inclusive=True)(frame).tolist() == [False, True, True, False, True, False, True, True]
    combined = liquid & ~rising
    assert "volume > 10" in repr(combined)
    assert combined(frame).index.equals(frame.index)
    with pytest.raises(InvalidInputError, match="no column"):
        above("price", 1)(frame)


def test_top_and_bottom_fraction_per_timestamp() -> None:
    values = panel({f"e{i}": [float(i), float(i % 3)] for i in range(10)})
    frame = values.to_frame("x")
    top = top_fraction("x", 0.2)(frame)
    assert list(top[top].xs(days(2)[0], level="timestamp").index) == ["e8", "e9"]
    # day 2 values 0,1,2,0,1,2,0,1,2,0: the top 2 are a tie of three 2s — all kept
    assert list(top[top].xs(days(2)[1], level="timestamp").index) == ["e2", "e5", "e8"]
    bottom = bottom_fraction("x", 0.25)(frame)  # ceil(2.5) = 3 lowest
    assert list(bottom[bottom].xs(days(2)[0], level="timestamp").index) == ["e0", "e1", "e2"]
    liquid_top = (top_fraction("x", 0.5) & above("x", 6))(frame)
    assert liquid_top[liquid_top].index.get_level_values("entity_id").tolist() == ["e7", "e8", "e9"]


# --- selection ----------------------------------------------------------------------------------------------------


def test_long_only_top_n() -> None:
    scores = random_panel(11, entities=9, timestamps=6, nan_share=0.2)
    targets = select_top_n(scores, 3)
    assert set(targets.columns) == {"weight", "side"} and (targets["side"] == "long").all()
    for stamp, group in per_timestamp(scores).items():
        chosen = targets.xs(stamp, level="timestamp")
        best = group.dropna().sort_values(ascending=False).index[:3]
        assert set(chosen.index) == set(best)
        np.testing.assert_allclose(chosen["weight"], 1 / 3)


def test_long_short_is_dollar_neutral_with_gross_one() -> None:
    scores = random_panel(12, entities=11, timestamps=10, nan_share=0.3)
    targets = select_top_n(scores, 2, long_short=True)
    by_time = targets["weight"].groupby(level="timestamp")
    np.testing.assert_allclose(by_time.sum(), 0.0, atol=1e-15)
    np.testing.assert_allclose(targets["weight"].abs().groupby(level="timestamp").sum(), 1.0)
    for stamp, group in per_timestamp(scores).items():
        ranked = group.dropna().sort_values()
        chosen = targets.xs(stamp, level="timestamp")
        assert set(chosen[chosen["side"] == "long"].index) == set(ranked.index[-2:])
        assert set(chosen[chosen["side"] == "short"].index) == set(ranked.index[:2])
        assert (chosen.loc[chosen["side"] == "short", "weight"] == -0.25).all()


def test_long_short_with_fewer_than_2n_entities() -> None:
    three = panel({"a": [1.0], "b": [2.0], "c": [3.0]})
    targets = select_top_n(three, 5, long_short=True)  # k = 3 // 2 = 1: c long, a short, b flat
    assert targets.index.get_level_values("entity_id").tolist() == ["a", "c"]
    assert targets["weight"].tolist() == [-0.5, 0.5]
    assert targets["side"].tolist() == ["short", "long"]
    assert select_top_n(panel({"a": [1.0]}), 1, long_short=True).empty
    assert select_top_n(three, 5)["weight"].tolist() == pytest.approx([1 / 3] * 3)  # long-only: all in, 1/m each


def test_top_n_respects_the_universe_and_to_wide() -> None:
    scores = panel({"a": [9.0, 9.0, 9.0], "b": [1.0, 1.0, 1.0], "c": [5.0, 5.0, np.nan]})
    entities = pd.DataFrame({"list_timestamp": [T0 + pd.Timedelta(days=1), None, None],
                             "delist_timestamp": [None, None, None]}, index=pd.Index(["a", "b", "c"], name="entity_id"))
    targets = select_top_n(scores, 1, universe=entities)
    wide = to_wide(targets)
    assert wide.columns.tolist() == ["a", "c"] and wide.index.tolist() == list(days(3))
    assert wide.to_numpy().tolist() == [[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]  # a counts from its listing on day 2
    only_c = targets[targets.index.get_level_values("entity_id") == "c"]
    flat = to_wide(only_c, timestamps=days(3))  # days without a selection: all zeros ("be flat")
    assert flat.to_numpy().tolist() == [[1.0], [0.0], [0.0]]
    with pytest.raises(InvalidInputError):
        select_top_n(scores, 0)


def test_filter_result_from_scores() -> None:
    scores = panel({"a": [0.9], "b": [0.8], "c": [0.5], "d": [0.2], "e": [0.1], "f": [np.nan]})
    assert filter_result_from(scores).fillna(9).tolist() == [1.0, 0.0, 0.0, 0.0, -1.0, 9.0]
    assert filter_result_from(scores, long_above=0.5, short_below=0.5).fillna(9).tolist() == [1, 1, 0, -1, -1, 9]
    with pytest.raises(InvalidInputError):
        filter_result_from(scores, long_above=0.2, short_below=0.8)


def test_sorted_ranking_paths_agree() -> None:
    """The padded-matrix sort and the global-sort fallback (sparse panels) rank alike, like pandas."""
    values = random_panel(13, entities=30, timestamps=20, nan_share=0.3, ties=True)
    reference = values.groupby(level="timestamp").rank(method="average").to_numpy()
    dense = Panel(values.index)
    sparse = Panel(values.index)
    sparse.DENSE_PADDING = -(10**9)  # force the fallback
    for method in ("average", "min", "first"):
        for ascending in (True, False):
            expected = values.groupby(level="timestamp").rank(method=method, ascending=ascending).to_numpy()
            for which in (dense, sparse):
                got = which.rank(values.to_numpy(), method, ascending=ascending)
                np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(dense.rank(values.to_numpy()), reference)
