"""Every indicator TA-Lib also has agrees with TA-Lib on real prices (BTCUSD monthly, GOOG daily, EURUSD hourly).

Where the values are compared from:
* windowed indicators: from their first value (TA-Lib's first value, when it starts later as for MACD's line,
  which TA-Lib only shows once the signal exists);
* recursive ones (EMA, Wilder): after our warm-up, because TA-Lib seeds an average with the SMA of its first
  ``window`` values and we with the first value (pandas ``ewm(adjust=False)``, the ``ta`` convention): the two
  differ by the seed's weight, below 1e-12 after the warm-up;
* KAMA, Parabolic SAR, SuperTrend, ADOSC, NVI / PVI: from the first value: the seeds are the same as TA-Lib's.

Tolerance: ``rtol=1e-10`` plus ``atol=1e-12 * max|TA-Lib|`` for oscillators that cross zero (where a relative
error is meaningless). What remains is round-off: TA-Lib keeps running sums (add-the-new, subtract-the-old) where
we sum each window afresh, and computes the standard deviation as sqrt(E[x^2] - E[x]^2) where we use two passes;
the largest difference seen is about 1e-12 of the series' scale.

Intentional differences, tested as such: ``cmo`` is Chande's (sums; TA-Lib's ``CMOU``), while TA-Lib's ``CMO`` is
built on Wilder averages and equals 2 RSI - 100; ``keltner`` averages the close by default (TA-Lib's ``KC`` the
typical price, ``price="typical"``); ``vwap`` resets every UTC day (TA-Lib's ``VWAP`` never resets).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from tests.factors.indicators.data import REAL, real_bars
from zvt_crypto.factors.indicators import INDICATORS

talib = pytest.importorskip("talib", minversion="0.8", reason="TA-Lib >= 0.8 is a test dependency (dev extra)")

RTOL = 1e-10
ATOL_SCALE = 1e-12

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Case:
    name: str
    output: str
    reference: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    params: dict[str, Any] = field(default_factory=dict)
    same_seed: bool = False  # compare from the first value even when the indicator is recursive

    @property
    def id(self) -> str:
        params = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}.{self.output}" + (f"[{params}]" if params else "")


def _c(function: Callable[..., Any], *args: Any, out: int | None = None, **kwargs: Any) -> Callable[..., np.ndarray]:
    """A reference on the close only."""
    return lambda o, h, lo, c, v: function(c, *args, **kwargs) if out is None else function(c, *args, **kwargs)[out]


def _hlc(function: Callable[..., Any], *args: Any, out: int | None = None) -> Callable[..., np.ndarray]:
    return lambda o, h, lo, c, v: function(h, lo, c, *args) if out is None else function(h, lo, c, *args)[out]


def _hl(function: Callable[..., Any], *args: Any, out: int | None = None) -> Callable[..., np.ndarray]:
    return lambda o, h, lo, c, v: function(h, lo, *args) if out is None else function(h, lo, *args)[out]


def _hlcv(function: Callable[..., Any], *args: Any) -> Callable[..., np.ndarray]:
    return lambda o, h, lo, c, v: function(h, lo, c, v, *args)


def _cv(function: Callable[..., Any], *args: Any) -> Callable[..., np.ndarray]:
    return lambda o, h, lo, c, v: function(c, v, *args)


CASES = [
    # trend
    Case("sma", "sma", _c(talib.SMA, 20)),
    Case("sma", "sma", _c(talib.SMA, 7), {"window": 7}),
    Case("ema", "ema", _c(talib.EMA, 20)),
    Case("wma", "wma", _c(talib.WMA, 9)),
    Case("hma", "hma", _c(talib.HMA, 9)),
    Case("hma", "hma", _c(talib.HMA, 20), {"window": 20}),
    Case("dema", "dema", _c(talib.DEMA, 20)),
    Case("tema", "tema", _c(talib.TEMA, 20)),
    Case("trima", "trima", _c(talib.TRIMA, 20)),
    Case("trima", "trima", _c(talib.TRIMA, 15), {"window": 15}),
    Case("kama", "kama", _c(talib.KAMA, 10), same_seed=True),
    Case("t3", "t3", _c(talib.T3, 5, 0.7)),
    Case("macd", "macd", _c(talib.MACD, 12, 26, 9, out=0)),
    Case("macd", "signal", _c(talib.MACD, 12, 26, 9, out=1)),
    Case("macd", "hist", _c(talib.MACD, 12, 26, 9, out=2)),
    Case("adx", "adx", _hlc(talib.ADX, 14)),
    Case("adx", "plus_di", _hlc(talib.PLUS_DI, 14)),
    Case("adx", "minus_di", _hlc(talib.MINUS_DI, 14)),
    Case("aroon", "down", _hl(talib.AROON, 25, out=0)),
    Case("aroon", "up", _hl(talib.AROON, 25, out=1)),
    Case("aroon", "osc", _hl(talib.AROONOSC, 25)),
    Case("aroon", "up", _hl(talib.AROON, 5, out=1), {"window": 5}),
    Case("psar", "psar", _hl(talib.SAR, 0.02, 0.2)),
    Case("psar", "psar", _hl(talib.SAR, 0.01, 0.1), {"step": 0.01, "maximum": 0.1}),
    Case("supertrend", "supertrend", _hlc(talib.SUPERTREND, 10, 3.0, out=0)),
    Case("supertrend", "direction", _hlc(talib.SUPERTREND, 10, 3.0, out=1)),
    Case("supertrend", "supertrend", _hlc(talib.SUPERTREND, 7, 2.0, out=0), {"window": 7, "multiplier": 2.0}),
    Case("trix", "trix", _c(talib.TRIX, 15)),
    Case("vortex", "plus", _hlc(talib.VORTEX, 14, out=0)),
    Case("vortex", "minus", _hlc(talib.VORTEX, 14, out=1)),
    Case("mass_index", "mass_index", _hl(talib.MASSI, 9, 25)),
    Case("dpo", "dpo", _c(talib.DPO, 20)),
    # momentum
    Case("rsi", "rsi", _c(talib.RSI, 14)),
    Case("rsi", "rsi", _c(talib.RSI, 5), {"window": 5}),
    Case("stoch", "k", _hlc(talib.STOCH, 14, 1, 0, 3, 0, out=0)),
    Case("stoch", "d", _hlc(talib.STOCH, 14, 1, 0, 3, 0, out=1)),
    Case("stoch", "k", _hlc(talib.STOCH, 14, 3, 0, 3, 0, out=0), {"smooth_k": 3}),
    Case("stoch", "d", _hlc(talib.STOCH, 14, 3, 0, 3, 0, out=1), {"smooth_k": 3}),
    Case("stoch", "k", _hlc(talib.STOCHF, 5, 3, 0, out=0), {"window": 5}),
    Case("stochrsi", "k", _c(talib.STOCHRSI, 14, 14, 3, 0, out=0), {"smooth_k": 1}),
    Case("stochrsi", "d", _c(talib.STOCHRSI, 14, 14, 3, 0, out=1), {"smooth_k": 1}),
    Case("williams_r", "williams_r", _hlc(talib.WILLR, 14)),
    Case("roc", "roc", _c(talib.ROC, 10)),
    Case("mom", "mom", _c(talib.MOM, 10)),
    Case("cci", "cci", _hlc(talib.CCI, 20)),
    Case("tsi", "tsi", _c(talib.TSI, 25, 13)),
    Case("ultimate", "ultimate", _hlc(talib.ULTOSC, 7, 14, 28)),
    Case("awesome", "awesome", _hl(talib.AO, 5, 34)),
    Case("ppo", "ppo", _c(talib.PPO, 12, 26, 1)),
    Case("cmo", "cmo", _c(talib.CMOU, 14)),
    Case("bop", "bop", lambda o, h, lo, c, v: talib.BOP(o, h, lo, c)),
    # volatility
    Case("trange", "trange", _hlc(talib.TRANGE)),
    Case("atr", "atr", _hlc(talib.ATR, 14)),
    Case("natr", "natr", _hlc(talib.NATR, 14)),
    Case("bbands", "upper", _c(talib.BBANDS, 20, 2.0, 2.0, 0, out=0)),
    Case("bbands", "middle", _c(talib.BBANDS, 20, 2.0, 2.0, 0, out=1)),
    Case("bbands", "lower", _c(talib.BBANDS, 20, 2.0, 2.0, 0, out=2)),
    Case("bbands", "upper", _c(talib.BBANDS, 10, 1.5, 1.5, 0, out=0), {"window": 10, "multiplier": 1.5}),
    Case("keltner", "upper", _hlc(talib.KC, 20, 10, 2.0, out=0), {"price": "typical"}),
    Case("keltner", "middle", _hlc(talib.KC, 20, 10, 2.0, out=1), {"price": "typical"}),
    Case("keltner", "lower", _hlc(talib.KC, 20, 10, 2.0, out=2), {"price": "typical"}),
    Case("donchian", "upper", _hl(talib.DONCHIAN, 20, out=0)),
    Case("donchian", "middle", _hl(talib.DONCHIAN, 20, out=1)),
    Case("donchian", "lower", _hl(talib.DONCHIAN, 20, out=2)),
    Case("stddev", "stddev", _c(talib.STDDEV, 20, 1.0)),
    # volume
    Case("obv", "obv", _cv(talib.OBV)),
    Case("mfi", "mfi", _hlcv(talib.MFI, 14)),
    Case("vwma", "vwma", lambda o, h, lo, c, v: talib.VWMA(c, v, 20)),
    Case("cmf", "cmf", _hlcv(talib.CMF, 20)),
    Case("ad", "ad", _hlcv(talib.AD)),
    Case("adosc", "adosc", _hlcv(talib.ADOSC, 3, 10), same_seed=True),
    Case("force_index", "force_index", _cv(talib.EFI, 13)),
    Case("vpt", "vpt", _cv(talib.PVT)),
    Case("nvi", "nvi", _cv(talib.NVI)),
    Case("pvi", "pvi", _cv(talib.PVI)),
    Case("pvo", "pvo", lambda o, h, lo, c, v: talib.PVO(v, 12, 26, 1)),
]

#: indicators with no TA-Lib counterpart (tested by the property tests and by hand-checked values elsewhere)
NO_TALIB = {"ichimoku", "stc", "bb_percent", "ulcer", "eom", "vwap"}


def _skip(case: Case) -> int:
    warmup = INDICATORS[case.name].warmup_bars(**case.params)
    return 0 if case.same_seed or warmup is None else warmup


def _params() -> list[Any]:
    params = []
    for dataset in REAL:
        n = len(real_bars(dataset))
        for case in CASES:
            if _skip(case) + 20 <= n:
                params.append(pytest.param(dataset, case, id=f"{dataset}-{case.id}"))
    return params


def _arrays(bars: pd.DataFrame) -> Arrays:
    return tuple(bars[name].to_numpy() for name in ("open", "high", "low", "close", "volume"))  # type: ignore


@pytest.mark.parametrize(("dataset", "case"), _params())
def test_agrees_with_talib(dataset: str, case: Case) -> None:
    bars = real_bars(dataset)
    ours = INDICATORS[case.name](bars, **case.params)[case.output].to_numpy()
    reference = np.asarray(case.reference(*_arrays(bars)), dtype=np.float64)
    if case.output == "direction":  # TA-Lib's integer output has 0 where it has no value yet
        reference[reference == 0] = np.nan
    start = max(_skip(case), int(np.argmax(~np.isnan(reference))))
    assert not np.isnan(reference[start:]).any()
    assert not np.isnan(ours[start:]).any(), f"NaN after bar {start}"
    scale = np.abs(reference[start:]).max()
    assert_allclose(ours[start:], reference[start:], rtol=RTOL, atol=ATOL_SCALE * scale)


@pytest.mark.parametrize("dataset", REAL)
def test_first_values_are_where_talib_starts(dataset: str) -> None:
    """Windowed indicators show their first value on the same bar as TA-Lib (or earlier where TA-Lib aligns
    several outputs: MACD's line waits for its signal, STOCH's %K for its %D)."""
    bars = real_bars(dataset)
    for case in CASES:
        ours = INDICATORS[case.name](bars, **case.params)[case.output].to_numpy()
        reference = np.asarray(case.reference(*_arrays(bars)), dtype=np.float64)
        if case.output == "direction":
            reference[reference == 0] = np.nan
        first_ours, first_reference = int(np.argmax(~np.isnan(ours))), int(np.argmax(~np.isnan(reference)))
        assert first_ours <= first_reference, case.id


def test_every_talib_counterpart_is_covered() -> None:
    covered = {case.name for case in CASES}
    assert covered | NO_TALIB == set(INDICATORS), set(INDICATORS) - covered - NO_TALIB


@pytest.mark.parametrize("dataset", ["GOOG", "EURUSD"])
def test_talib_cmo_is_the_wilder_variant(dataset: str) -> None:
    """TA-Lib's CMO smooths with Wilder averages, so it is 2 RSI - 100; ours (Chande's sums) is TA-Lib's CMOU."""
    bars = real_bars(dataset)
    rsi = INDICATORS["rsi"](bars)["rsi"].to_numpy()
    start = INDICATORS["rsi"].warmup_bars()
    reference = talib.CMO(bars["close"].to_numpy(), 14)
    assert_allclose(2.0 * rsi[start:] - 100.0, reference[start:], rtol=RTOL, atol=ATOL_SCALE * 100)
    ours = INDICATORS["cmo"](bars)["cmo"].to_numpy()
    assert np.nanmax(np.abs(ours[start:] - reference[start:])) > 1.0


def test_vwap_is_talib_vwap_restarted_every_utc_day() -> None:
    bars = real_bars("EURUSD")
    ours = INDICATORS["vwap"](bars)["vwap"]
    days = bars.index.floor("D")
    for day in days.unique()[:60]:
        session = bars[days == day]
        reference = talib.VWAP(*(session[name].to_numpy() for name in ("high", "low", "close", "volume")))
        assert_allclose(ours[days == day].to_numpy(), reference, rtol=RTOL)
