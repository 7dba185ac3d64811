"""Parameter validation: a bad parameter raises InvalidInputError naming it and its allowed range, before any
computation (the engine validates with empty bars)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factors.indicators.data import random_bars
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.factors.indicators import INDICATORS

EMPTY = random_bars(5).iloc[:0]


def _bad_values(default: Any) -> list[Any]:
    if isinstance(default, bool):  # pragma: no cover - no boolean parameters today
        return ["yes"]
    if isinstance(default, int):
        return [0, -3, 2.5, True, "14", None]
    if isinstance(default, float):
        return [-1.0, float("nan"), float("inf"), "0.5", None]
    return ["nope", 1, None]


CASES = [pytest.param(name, param, bad, id=f"{name}-{param}={bad!r}")
         for name, spec in sorted(INDICATORS.items())
         for param, default in spec.params.items()
         for bad in _bad_values(default)]


@pytest.mark.parametrize(("name", "param", "bad"), CASES)
def test_bad_parameter_is_rejected_by_name(name: str, param: str, bad: Any) -> None:
    with pytest.raises(InvalidInputError, match=param) as raised:
        INDICATORS[name](EMPTY, **{param: bad})
    message = str(raised.value)
    assert "must be" in message and repr(bad) in message


@pytest.mark.parametrize(("name", "params", "names"), [
    ("macd", {"fast": 26, "slow": 12}, ("fast", "slow")),
    ("macd", {"fast": 26, "slow": 26}, ("fast", "slow")),
    ("ppo", {"fast": 30}, ("fast", "slow")),
    ("pvo", {"fast": 30}, ("fast", "slow")),
    ("stc", {"fast": 60}, ("fast", "slow")),
    ("kama", {"fast": 30}, ("fast", "slow")),
    ("awesome", {"fast": 34}, ("fast", "slow")),
    ("adosc", {"fast": 10}, ("fast", "slow")),
    ("ultimate", {"short": 14}, ("short", "medium")),
    ("ultimate", {"medium": 28}, ("medium", "long")),
    ("psar", {"step": 0.3}, ("step",)),
    ("psar", {"maximum": 1.5}, ("maximum",)),
    ("t3", {"vfactor": 1.5}, ("vfactor",)),
    ("hma", {"window": 1}, ("window",)),
    ("stddev", {"window": 1}, ("window",)),
    ("vwap", {"anchor": "1h"}, ("anchor",)),
    ("keltner", {"price": "open"}, ("price",)),
])
def test_inconsistent_parameters(name: str, params: dict[str, Any], names: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInputError) as raised:
        INDICATORS[name](EMPTY, **params)
    for param in names:
        assert param in str(raised.value)


def test_missing_column() -> None:
    with pytest.raises(InvalidInputError, match="volume"):
        INDICATORS["obv"](random_bars(10).drop(columns="volume"))


@pytest.mark.parametrize("name", sorted(INDICATORS))
def test_defaults_are_valid_and_warmups_are_defined(name: str) -> None:
    spec = INDICATORS[name]
    spec(EMPTY)
    warmup = spec.warmup_bars()
    assert warmup is None or (isinstance(warmup, int) and warmup >= 1)


def test_warmup_follows_the_parameters() -> None:
    assert INDICATORS["sma"].warmup_bars(window=50) == 50
    assert INDICATORS["ema"].warmup_bars(window=1) == 1
    assert INDICATORS["ema"].warmup_bars(window=40) > INDICATORS["ema"].warmup_bars(window=20)
    assert INDICATORS["vwap"].warmup_bars(anchor="1w") == 7 * 1440
    assert INDICATORS["psar"].warmup_bars() is None
