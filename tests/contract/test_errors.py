"""Every error zvt_crypto raises on purpose is a :class:`ZvtCryptoError`, so the CLI prints it as ``error: …``
instead of "RuntimeError: … unexpected; run again with --debug"."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import zvt_crypto
from zvt_crypto.cli.app import Context
from zvt_crypto.cli.failures import describe_failure
from zvt_crypto.contract.errors import ConfigError, InvalidInputError, ZvtCryptoError
from zvt_crypto.sim import Fault

PACKAGE = Path(zvt_crypto.__file__).parent
GENERIC = {"Exception", "BaseException", "RuntimeError"}
# (path relative to the package, exception name) → why raising it there is right. Empty today: keep it short.
ALLOWED: dict[tuple[str, str], str] = {}


def generic_raises(tree: ast.AST) -> list[tuple[int, str]]:
    """Line and name of every ``raise X`` / ``raise X(...)`` whose X is a generic built-in exception."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name) and target.id in GENERIC:
                found.append((node.lineno, target.id))
    return found


def test_the_scan_finds_generic_raises() -> None:
    code = "def f():\n    raise RuntimeError('x')\n\ndef g():\n    raise Exception\n\ndef h():\n    raise KeyError(1)\n"
    assert generic_raises(ast.parse(code)) == [(2, "RuntimeError"), (5, "Exception")]


def test_the_package_raises_no_generic_exception() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for line, name in generic_raises(ast.parse(path.read_text(encoding="utf-8"))):
            if (relative, name) not in ALLOWED:
                offenders.append(f"{relative}:{line} raises {name}")
    assert not offenders, "raise a ZvtCryptoError subclass (contract/errors.py) instead:\n" + "\n".join(offenders)


def test_a_factor_function_without_its_outputs_is_a_project_error() -> None:
    import pandas as pd

    from zvt_crypto.factors.base import FactorOutputError, per_entity

    index = pd.MultiIndex.from_arrays([["binance_pair_BTC-USDT"], pd.DatetimeIndex(["2024-01-01"], tz="UTC")],
                                      names=["entity_id", "timestamp"])
    frame = pd.DataFrame({"close": [1.0]}, index=index)
    with pytest.raises(FactorOutputError, match=r"returned no column\(s\) signal") as caught:
        per_entity(frame, lambda block: block.rename(columns={"close": "other"}), ["signal"])
    assert describe_failure(caught.value) == "factor function returned no column(s) signal"


def test_config_after_the_store_is_open_is_a_config_error(tmp_path: Path) -> None:
    context = Context(home=str(tmp_path))
    assert context.store is not None  # a command used the store (the default one under the home is created)
    with pytest.raises(ConfigError, match="--config must come before"):
        context.use_config_file(str(tmp_path / "other.toml"))


def test_bad_simulator_settings_are_input_errors_and_still_value_errors() -> None:
    with pytest.raises(InvalidInputError, match="unknown fault kind 'nope'") as caught:
        Fault("nope")
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, ZvtCryptoError)
