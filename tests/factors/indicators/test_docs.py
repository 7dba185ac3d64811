"""Every indicator documents its parameters and formula, and docs/indicators.md is generated from them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from zvt_crypto.factors.indicators import INDICATORS
from zvt_crypto.factors.indicators._docs import parse, render

DOCS = Path(__file__).resolve().parents[3] / "docs" / "indicators.md"


@pytest.mark.parametrize("name", sorted(INDICATORS))
def test_docstring_states_parameters_and_formula(name: str) -> None:
    spec = INDICATORS[name]
    doc = parse(spec.doc)
    assert doc.summary and doc.formula, name
    assert set(doc.parameters) == set(spec.params), name
    for param, default in spec.params.items():
        stated = re.search(r"default (.+?)\)\.?$", doc.parameters[param])
        assert stated and ast.literal_eval(stated.group(1)) == default, (name, param)
    if not spec.params:
        assert "Parameters: none." in spec.doc


def test_docs_file_is_up_to_date() -> None:
    assert DOCS.read_text(encoding="utf-8") == render(), (
        "regenerate: python -m zvt_crypto.factors.indicators._docs > docs/indicators.md")
