"""The search space of an optimisation: seeded random draws within their bounds, and the command line's grid
syntax."""

from __future__ import annotations

import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader.optimize_space import parameter_sets, parse_grid


def test_random_search_is_seeded_distinct_and_within_bounds() -> None:
    grid = {"fast": (2, 9), "slow": (10, 40), "fraction": (0.2, 1.0), "direction": ["long", "both"]}
    sets, _ = parameter_sets("sma_cross", grid, method="random", n_iter=25, seed=7)
    again, _ = parameter_sets("sma_cross", grid, method="random", n_iter=25, seed=7)
    other, _ = parameter_sets("sma_cross", grid, method="random", n_iter=25, seed=8)
    assert sets == again and sets != other and len(sets) == 25
    assert len({tuple(p.values()) for p in sets}) == 25
    for params in sets:
        assert type(params["fast"]) is int and 2 <= params["fast"] <= 9
        assert type(params["slow"]) is int and 10 <= params["slow"] <= 40
        assert type(params["fraction"]) is float and 0.2 <= params["fraction"] <= 1.0
        assert params["direction"] in ("long", "both")
    assert {p["fast"] for p in sets} >= {2, 9} or len({p["fast"] for p in sets}) >= 6  # the bounds are reachable
    # a space smaller than n_iter: every set once, in a seeded order
    small, _ = parameter_sets("sma_cross", {"fast": [3, 5], "slow": [20, 30]}, method="random", n_iter=10, seed=1)
    assert sorted(map(lambda p: (p["fast"], p["slow"]), small)) == [(3, 20), (3, 30), (5, 20), (5, 30)]
    integers, _ = parameter_sets("sma_cross", {"fast": (3, 4), "slow": (20, 20)}, method="random", n_iter=5)
    assert len(integers) == 2


def test_parse_grid() -> None:
    assert parse_grid(["fast=5,10,20", "slow=20:60:10"], "sma_cross") == {"fast": [5, 10, 20],
                                                                          "slow": [20, 30, 40, 50, 60]}
    assert parse_grid(["fast=3:6"], "sma_cross") == {"fast": [3, 4, 5, 6]}
    assert parse_grid(["fraction=0.5:1:0.25"], "sma_cross") == {"fraction": [0.5, 0.75, 1.0]}
    assert parse_grid(["fast=3:6", "fraction=0.1:0.9"], "sma_cross", method="random") == {
        "fast": (3, 6), "fraction": (0.1, 0.9)}
    assert parse_grid(["direction=long,both"], "sma_cross") == {"direction": ["long", "both"]}
    for items, message in [
        (["fast"], "bad grid 'fast': write name=v1,v2,v3"),
        (["fast=9:3"], "the range is empty (low > high)"),
        (["fast=3:9:0"], "the step must be positive"),
        (["fast=3:9:2:1"], "a range is low:high or low:high:step"),
        (["fast=3,,5"], "an empty value in the list"),
        (["fraction=0.1:0.9"], "a float range needs a step"),
        (["fast=1.5:3"], "parameter fast='1.5' must be int"),
        (["speed=1,2"], "has no parameter(s) speed"),
        (["fast=3", "fast=4"], "parameter fast is given twice"),
        (["direction=a:b"], "direction is a str; list its values"),
    ]:
        with pytest.raises(InvalidInputError) as info:
            parse_grid(items, "sma_cross")
        assert message in str(info.value), items
