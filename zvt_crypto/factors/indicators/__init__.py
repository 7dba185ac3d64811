"""The technical indicator library: plain functions of one entity's bars, registered in :data:`INDICATORS`.

Importing this package defines (and so registers) every built-in indicator, by category:
:mod:`.trend`, :mod:`.momentum`, :mod:`.volatility` and :mod:`.volume`. See :mod:`.spec` for the contract and
``docs/indicators.md`` for the table of indicators, parameters, formulas, TA-Lib equivalents and warm-ups.

Conventions shared by the built-ins:

* Outputs are NaN until their windows are full (the same first bar as TA-Lib), and causal.
* Windowed sums, means and deviations are computed from each window's own values (``_core``), so a value does
  not depend on how much history precedes its window; pandas' ``rolling().mean()`` does.
* EMAs and Wilder averages are ``pandas``' ``ewm(adjust=False)`` recursion seeded with the first value (the
  ``ta`` convention), run in numba kernels; TA-Lib seeds them with an SMA, so the two agree after the warm-up.
* The hot paths (window sums, deviations, max / min, the recursions, and whole indicators among the most used:
  RSI, ATR, ADX, MACD, OBV, MFI flows, Bollinger bands) are numba kernels compiled on first use and cached on
  disk, within 2x of TA-Lib on 1M bars (``benchmarks/bench_indicators.py``).
* A ratio whose denominator is zero takes the indicator's neutral value (documented per indicator).
* ``ta`` is used where its implementation is vectorised, causal and right (STC, ROC, TSI, PPO, PVO, Donchian,
  A/D, force index, VPT). Where it loops in Python per row (ATR, ADX, PSAR, KAMA, CCI, MFI, WMA,
  Aroon, Ulcer, NVI), peeks at the whole series (TRIX, Vortex, KST fill with the series mean), shows partial
  windows (Ichimoku span B), uses pandas' running rolling sums (not bit-identical after a warm-up) or differs
  from the usual definition (OBV, RSI's flat case, Keltner, VWAP), the indicator is written with numpy /
  pandas, or as a numba kernel when truly path-dependent (PSAR, KAMA, SuperTrend).
"""

from __future__ import annotations

from zvt_crypto.factors.indicators import momentum, trend, volatility, volume
from zvt_crypto.factors.indicators.spec import INDICATORS, Indicator, indicator

__all__ = ["INDICATORS", "Indicator", "indicator", "momentum", "trend", "volatility", "volume"]
