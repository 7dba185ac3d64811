"""Strategy parameters: which class attributes count as parameters, and how they are shown in stored runs.
Coercion is shared with factors (:mod:`zvt_crypto.contract.params`)."""

from __future__ import annotations

from typing import Any

from zvt_crypto.contract.params import coerce_param, parse_params, resolve_params

#: parameter values a class attribute may hold to count as a parameter
PARAM_TYPES = (bool, int, float, str, type(None))
__all__ = ["PARAM_TYPES", "coerce_param", "describe_params", "params_text", "parse_params", "resolve_params"]


def describe_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON: frames and arrays become a short description."""
    import numpy as np
    import pandas as pd

    out = {}
    for key, value in params.items():
        if isinstance(value, pd.DataFrame):
            out[key] = f"<DataFrame {value.shape[0]}×{value.shape[1]}>"
        elif isinstance(value, pd.Series):
            out[key] = f"<Series {len(value)}>"
        elif isinstance(value, np.ndarray):
            out[key] = f"<array {'×'.join(map(str, value.shape))}>"
        else:
            out[key] = value
    return out


def params_text(params: dict[str, Any]) -> str:
    """``fast=5, slow=20, weights=<DataFrame 81×3>``: parameters for a repr or a title, data as its shape only.

    >>> import pandas as pd
    >>> params_text({"top": 1, "weights": pd.DataFrame({"BTC/USDT": [1.0, 0.0]})})
    'top=1, weights=<DataFrame 2×1>'
    """
    described = describe_params(params)
    return ", ".join(f"{key}={value}" if value is not params[key] else f"{key}={value!r}"
                     for key, value in described.items())
