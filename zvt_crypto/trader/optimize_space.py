"""The search space of an optimisation: a grid of parameter values (or random-search ranges) coerced to the
strategy's parameter types, the parameter sets a sweep runs (grid order, or seeded random draws), and the
command line's grid syntax (``fast=5,10,20``, ``slow=20:60:10``)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.params import coerce_param
from zvt_crypto.trader.strategy import Strategy, get_strategy

__all__ = ["DEFAULT_N_ITER", "METHODS", "Grid", "parameter_sets", "parse_grid", "plain", "strategy_class"]

METHODS = ("grid", "random")
DEFAULT_N_ITER = 20
Grid = Mapping[str, Any]


@dataclass(frozen=True)
class _Range:
    """A ``(low, high)`` range of random search (bounds included); ``integer`` for integer parameters."""

    low: float
    high: float
    integer: bool


def strategy_class(strategy: str | type[Strategy]) -> type[Strategy]:
    if isinstance(strategy, Strategy):
        raise InvalidInputError("optimise a strategy class or name, not an instance (its parameters vary)")
    return get_strategy(strategy)


def _unknown(cls: type[Strategy], names: Iterable[str]) -> None:
    defaults = cls.param_defaults()
    unknown = sorted(set(names) - set(defaults))
    if unknown:
        known = ", ".join(f"{k}={v!r}" for k, v in defaults.items()) or "none"
        raise InvalidInputError(f"strategy {cls.label()!r} has no parameter(s) {', '.join(unknown)}; "
                                f"its parameters: {known}")


def _space(cls: type[Strategy], grid: Grid, method: str) -> dict[str, list[Any] | _Range]:
    """The grid with every value coerced to the parameter's type (a ``_Range`` for random ranges)."""
    if method not in METHODS:
        raise InvalidInputError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if not grid:
        raise InvalidInputError(f"give at least one parameter to vary; {cls.label()!r} has "
                                f"{', '.join(cls.param_defaults()) or 'no parameters'}")
    _unknown(cls, grid)
    defaults = cls.param_defaults()
    owner = cls.label()
    space: dict[str, list[Any] | _Range] = {}
    for name, spec in grid.items():
        default = defaults[name]
        if isinstance(spec, tuple) and len(spec) == 2 and all(_is_number(v) for v in spec):
            if method != "random":
                raise InvalidInputError(f"{name}={spec!r} is a (low, high) range: it needs method='random'; give a "
                                        "list of values for a grid search")
            integer = (isinstance(default, int) and not isinstance(default, bool)) or (
                default is None and all(isinstance(v, (int, np.integer)) for v in spec))
            low, high = (coerce_param(owner, name, default, v) if default is not None else v for v in spec)
            if integer and (float(low) != int(low) or float(high) != int(high)):
                raise InvalidInputError(f"{name}: the range {spec!r} needs integer bounds (the parameter is int)")
            if not low <= high:
                raise InvalidInputError(f"{name}: the range {spec!r} is empty (low > high)")
            space[name] = _Range(low, high, integer)
            continue
        if isinstance(spec, (str, bytes)) or not isinstance(spec, Iterable):
            spec = [spec]
        values = [coerce_param(owner, name, default, plain(v)) for v in spec]
        if not values:
            raise InvalidInputError(f"{name}: the list of values is empty")
        space[name] = list(dict.fromkeys(values))  # duplicates would only repeat trials
    return space


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def plain(value: Any) -> Any:
    """numpy scalars as Python numbers (JSON, equality)."""
    return value.item() if isinstance(value, np.generic) else value


def _space_size(space: Mapping[str, list[Any] | _Range]) -> float:
    size = 1.0
    for values in space.values():
        if isinstance(values, _Range):
            if not values.integer:
                return math.inf
            size *= values.high - values.low + 1
        else:
            size *= len(values)
    return size


def _draw(space: Mapping[str, list[Any] | _Range], rng: np.random.Generator) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, values in space.items():
        if isinstance(values, _Range):
            if values.integer:
                params[name] = int(rng.integers(int(values.low), int(values.high) + 1))
            else:
                params[name] = float(rng.uniform(values.low, values.high))
        else:
            params[name] = values[int(rng.integers(len(values)))]
    return params


def parameter_sets(strategy: str | type[Strategy], grid: Grid, *, method: str = "grid", n_iter: int | None = None,
                   seed: int = 0, constraint: Callable[[dict[str, Any]], bool] | None = None
                   ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The parameter sets a sweep runs (in trial order) and what was skipped: ``{"constraint": n, "invalid": n,
    "reason": first rejection message}``. Grid: every combination in the grid's order; random: ``n_iter``
    distinct seeded draws (all combinations, shuffled, when the space has no more).

    >>> sets, skipped = parameter_sets("sma_cross", {"fast": [5, 20], "slow": [10, 30]})
    >>> sets, skipped["invalid"]
    ([{'fast': 5, 'slow': 10}, {'fast': 5, 'slow': 30}, {'fast': 20, 'slow': 30}], 1)
    """
    cls = strategy_class(strategy)
    space = _space(cls, grid, method)
    skipped: dict[str, Any] = {"constraint": 0, "invalid": 0, "reason": None}

    def accept(params: dict[str, Any]) -> bool:
        if constraint is not None and not constraint(dict(params)):
            skipped["constraint"] += 1
            return False
        try:
            cls(**params)
        except InvalidInputError as exc:
            skipped["invalid"] += 1
            skipped["reason"] = skipped["reason"] or str(exc)
            return False
        return True

    names = list(space)
    size = _space_size(space)
    if method == "grid":
        columns = [values for values in space.values() if not isinstance(values, _Range)]
        assert len(columns) == len(space)  # _space refuses a (low, high) range unless method='random'
        combos: Iterator[tuple[Any, ...]] = itertools.product(*columns)
        sets = [params for params in (dict(zip(names, combo, strict=True)) for combo in combos) if accept(params)]
    else:
        n_iter = DEFAULT_N_ITER if n_iter is None else int(n_iter)
        if n_iter < 1:
            raise InvalidInputError(f"n_iter must be at least 1, got {n_iter}")
        rng = np.random.default_rng(seed)
        if size <= n_iter:
            full = {name: list(range(int(v.low), int(v.high) + 1)) if isinstance(v, _Range) else v
                    for name, v in space.items()}
            every = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*full.values())]
            sets = [every[k] for k in rng.permutation(len(every)) if accept(every[k])]
        else:
            seen: set[tuple[Any, ...]] = set()
            sets, attempts, budget = [], 0, max(1_000, 100 * n_iter)
            while len(sets) < n_iter and attempts < budget:
                attempts += 1
                params = _draw(space, rng)
                key = tuple(params.values())
                if key in seen:
                    continue
                seen.add(key)
                if accept(params):
                    sets.append(params)
    if not sets:
        why = f"; the strategy says: {skipped['reason']}" if skipped["reason"] else ""
        raise InvalidInputError(f"no parameter set left to try: {skipped['constraint']} rejected by the constraint, "
                                f"{skipped['invalid']} by strategy {cls.label()!r}{why}")
    return sets, skipped


def parse_grid(items: Sequence[str], strategy: str | type[Strategy], *, method: str = "grid") -> dict[str, Any]:
    """Command-line grid options as a grid: ``fast=5,10,20`` (values), ``slow=20:60:10`` (20, 30, …, 60: the end
    is included), ``fast=5:20`` (integers 5…20; random search: a range sampled uniformly, floats included).

    >>> parse_grid(["fast=5,10", "slow=20:40:10"], "sma_cross")
    {'fast': [5, 10], 'slow': [20, 30, 40]}
    """
    cls = strategy_class(strategy)
    defaults = cls.param_defaults()
    grid: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise InvalidInputError(f"bad grid {item!r}: write name=v1,v2,v3 or name=low:high:step, e.g. fast=5,10,20 "
                                    "or slow=20:60:10")
        _unknown(cls, [name])
        if name in grid:
            raise InvalidInputError(f"parameter {name} is given twice in the grid")
        grid[name] = _parse_values(cls.label(), name, defaults[name], text, method)
    return grid


def _parse_values(owner: str, name: str, default: Any, text: str, method: str) -> Any:
    if ":" not in text:
        values = [v.strip() for v in text.split(",")]
        if any(not v for v in values):
            raise InvalidInputError(f"bad grid {name}={text}: an empty value in the list")
        return [coerce_param(owner, name, default, v) for v in values]
    parts = [p.strip() for p in text.split(":")]
    if len(parts) not in (2, 3) or any(not p for p in parts):
        raise InvalidInputError(f"bad grid {name}={text}: a range is low:high or low:high:step")
    if isinstance(default, bool) or isinstance(default, str):
        raise InvalidInputError(f"bad grid {name}={text}: {name} is a {type(default).__name__}; list its values")
    kind = default if default is not None else (0 if all(_int_text(p) for p in parts) else 0.0)
    low, high = (coerce_param(owner, name, kind, p) for p in parts[:2])
    if not low <= high:
        raise InvalidInputError(f"bad grid {name}={text}: the range is empty (low > high)")
    if len(parts) == 2:
        if method == "random":
            return (low, high)
        if isinstance(kind, float):
            raise InvalidInputError(f"bad grid {name}={text}: a float range needs a step for a grid search "
                                    "(low:high:step)")
        return list(range(low, high + 1))
    step = coerce_param(owner, name, kind, parts[2])
    if not step > 0:
        raise InvalidInputError(f"bad grid {name}={text}: the step must be positive")
    if isinstance(kind, int):
        return list(range(low, high + 1, step))
    count = math.floor((high - low) / step + 1e-9) + 1
    return [round(low + k * step, 12) for k in range(count)]


def _int_text(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
