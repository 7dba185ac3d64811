"""Typed plugin parameters (strategies, factors): declared with defaults, coerced from any input (command-line
strings included) to the type of the default.

>>> coerce_param("sma_cross", "fast", 10, "12")
12
>>> coerce_param("sma_cross", "short", False, "yes")
True
>>> coerce_param("ml_forecast", "features", "rsi,roc", ["rsi", "natr"])   # a list for a comma-list text parameter
'rsi,natr'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from zvt_crypto.contract.errors import InvalidInputError


def coerce_param(owner: str, key: str, default: Any, value: Any, kind: str = "strategy") -> Any:
    """Bring ``value`` to the type of ``default``; ``None`` defaults accept anything (numbers stay numbers)."""
    expected = type(default)
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                    raise ValueError(value)
                return value.lower() in {"true", "1", "yes"}
            if value not in (True, False, 0, 1):
                raise ValueError(value)
            return bool(value)
        if isinstance(default, int):
            number = float(value) if isinstance(value, str) else value
            if isinstance(number, bool) or float(number) != int(float(number)):
                raise ValueError(value)
            return int(number)
        if isinstance(default, float):
            if isinstance(value, bool):
                raise ValueError(value)
            result = float(value)
            if not math.isfinite(result):
                raise ValueError(value)
            return result
        if isinstance(default, str):
            if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
                return ",".join(value)  # text parameters that hold a list hold it comma-separated
            return str(value)
        return value
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"{kind} {owner!r}: parameter {key}={value!r} must be {expected.__name__} (default {default!r})"
        ) from None


def parse_params(items: Sequence[str]) -> dict[str, str]:
    """``["fast=12", "slow=40"]`` → ``{"fast": "12", "slow": "40"}`` (types are checked by the plugin)."""
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"bad parameter {item!r}: write it as name=value, e.g. fast=10")
        params[key.strip()] = value.strip()
    return params


def parse_params_text(text: str) -> dict[str, str]:
    """Several parameters in one text (a strategy parameter that carries a factor's parameters): ``name=value``
    pairs separated by ``;`` — ``"features=rsi,roc,natr;horizon=24"`` — or by ``,`` when no ``;`` is present, where
    a piece without ``=`` continues the previous value: ``"features=rsi,roc,natr,horizon=24"`` is the same.

    >>> parse_params_text("window=20,fast=12")
    {'window': '20', 'fast': '12'}
    >>> parse_params_text("features=rsi,roc,natr,horizon=24") == parse_params_text("features=rsi,roc,natr;horizon=24")
    True
    """
    if ";" in text:
        return parse_params([item for item in text.split(";") if item.strip()])
    items: list[str] = []
    for piece in (piece for piece in text.split(",") if piece.strip()):
        if "=" not in piece and items:
            items[-1] += "," + piece  # part of a list value: features=rsi,roc
        else:
            items.append(piece)
    return parse_params(items)


def resolve_params(owner: str, defaults: Mapping[str, Any], given: Mapping[str, Any] | None,
                   kind: str = "strategy") -> dict[str, Any]:
    """Defaults overridden by ``given`` (coerced); an unknown name is an error that lists the known ones."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        known = ", ".join(f"{k}={v!r}" for k, v in defaults.items()) or "none"
        raise InvalidInputError(f"{kind} {owner!r} has no parameter(s) {', '.join(unknown)}; its parameters: {known}")
    return {
        key: coerce_param(owner, key, default, given[key], kind) if key in given else default
        for key, default in defaults.items()
    }
