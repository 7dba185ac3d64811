"""The vectorised decimal formatting of kline columns writes exactly what the per-value ``fmt`` writes."""

from __future__ import annotations

import numpy as np
import pytest

from zvt_crypto.sim.binance import fmt, fmt_column


@pytest.mark.parametrize("dp", range(10))
@pytest.mark.parametrize("out", [None, 0, 2, 8, 12])
def test_fmt_column_equals_fmt(dp: int, out: int | None) -> None:
    values = np.r_[np.random.default_rng(dp).integers(0, 10**15, 200), 0, 1, 10**dp - 1, 10**dp, 10**dp + 1]
    assert fmt_column(values, dp, out) == [fmt(v, dp, out) for v in values.tolist()]
    negative = np.array([-1, -(10**dp) - 7, 5])  # negative values take the per-value path
    assert fmt_column(negative, dp, out) == [fmt(v, dp, out) for v in negative.tolist()]
    assert fmt_column(np.array([], dtype=np.int64), dp, out) == []
