"""Strategy parameters: which class attributes count as parameters, and how they are shown in stored runs.
Coercion is shared with factors (:mod:`zvt_crypto.contract.params`)."""

from __future__ import annotations

from typing import Any

from zvt_crypto.contract.params import coerce_param, parse_params, resolve_params

#: parameter values a class attribute may hold to count as a parameter
PARAM_TYPES = (bool, int, float, str, type(None))
__all__ = ["PARAM_TYPES", "coerce_param", "describe_params", "parse_params", "resolve_params"]


def describe_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON: frames and arrays become a short description."""
    import numpy as np
    import pandas as pd

    out = {}
    for key, value in params.items():
        if isinstance(value, pd.DataFrame):
            out[key] = f"<DataFrame {value.shape[0]}×{value.shape[1]}>"
        elif isinstance(value, np.ndarray):
            out[key] = f"<array {'×'.join(map(str, value.shape))}>"
        else:
            out[key] = value
    return out
