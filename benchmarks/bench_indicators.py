"""Indicator benchmark: the ten most used built-in indicators against TA-Lib and ``ta``, per indicator, side by side
in one run, on the same seeded 1m bars (1,000,000 by default).

What is timed: zvt_crypto's indicator as a user calls it (``INDICATORS[name](bars)``: a DataFrame of bars in, a
DataFrame of outputs out); TA-Lib's function(s) on the float64 arrays, every output the zvt_crypto indicator gives
(``adx`` = ADX + PLUS_DI + MINUS_DI); ``ta``'s indicator class on the Series, every output. zvt_crypto and TA-Lib
calls alternate (so a burst of load on a shared machine hits both) and each reports the best of ``--repeat`` calls
after an untimed one (which loads or compiles zvt_crypto's numba kernels, cached on disk); ``ta`` runs after them,
best of ``--repeat`` too, except paths slower than ``--slow`` seconds, which run once. The load average is read
before and after and printed with the table.

    .venv/bin/python benchmarks/bench_indicators.py                    # 1,000,000 bars, best of 20 (≈ 2 min)
    .venv/bin/python benchmarks/bench_indicators.py --bars 100000 --repeat 3 --no-ta
    .venv/bin/python benchmarks/bench_indicators.py --only rsi,macd

Progress goes to stderr, the Markdown report to stdout.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

from machine import machine_info  # benchmarks/machine.py (the scripts run from this folder)

SEED = 20240101
TARGET_RATIO = 2.0  # issue 15: each within 2x of TA-Lib

Arrays = dict[str, Any]


def make_bars(n: int, seed: int = SEED) -> Any:
    """Seeded 1m bars, OHLC consistent, volume > 0 on most bars, on a UTC ``timestamp`` index."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.random(n) * 0.0005)
    low = np.minimum(open_, close) * (1 - rng.random(n) * 0.0005)
    volume = rng.lognormal(3.0, 1.0, n) * (rng.random(n) > 0.02)
    index = pd.date_range("2020-01-01", periods=n, freq="1min", tz="UTC", unit="ms", name="timestamp")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)


def talib_paths() -> dict[str, Callable[[Arrays], Any]]:
    import talib

    return {
        "sma": lambda a: talib.SMA(a["close"], 20),
        "ema": lambda a: talib.EMA(a["close"], 20),
        "rsi": lambda a: talib.RSI(a["close"], 14),
        "macd": lambda a: talib.MACD(a["close"], 12, 26, 9),
        "bbands": lambda a: talib.BBANDS(a["close"], 20, 2.0, 2.0, talib.MA_Type.SMA),
        "atr": lambda a: talib.ATR(a["high"], a["low"], a["close"], 14),
        "stoch": lambda a: talib.STOCH(a["high"], a["low"], a["close"], 14, 1, talib.MA_Type.SMA, 3, talib.MA_Type.SMA),
        "adx": lambda a: (talib.ADX(a["high"], a["low"], a["close"], 14),
                          talib.PLUS_DI(a["high"], a["low"], a["close"], 14),
                          talib.MINUS_DI(a["high"], a["low"], a["close"], 14)),
        "obv": lambda a: talib.OBV(a["close"], a["volume"]),
        "mfi": lambda a: talib.MFI(a["high"], a["low"], a["close"], a["volume"], 14),
    }


def ta_paths() -> dict[str, Callable[[Any], Any]]:
    from ta.momentum import RSIIndicator, StochasticOscillator
    from ta.trend import MACD, ADXIndicator, EMAIndicator, SMAIndicator
    from ta.volatility import AverageTrueRange, BollingerBands
    from ta.volume import MFIIndicator, OnBalanceVolumeIndicator

    def macd(b: Any) -> Any:
        m = MACD(b["close"], 26, 12, 9)
        return m.macd(), m.macd_signal(), m.macd_diff()

    def bbands(b: Any) -> Any:
        m = BollingerBands(b["close"], 20, 2)
        return m.bollinger_hband(), m.bollinger_mavg(), m.bollinger_lband()

    def stoch(b: Any) -> Any:
        m = StochasticOscillator(b["high"], b["low"], b["close"], 14, 3)
        return m.stoch(), m.stoch_signal()

    def adx(b: Any) -> Any:
        m = ADXIndicator(b["high"], b["low"], b["close"], 14)
        return m.adx(), m.adx_pos(), m.adx_neg()

    return {
        "sma": lambda b: SMAIndicator(b["close"], 20).sma_indicator(),
        "ema": lambda b: EMAIndicator(b["close"], 20).ema_indicator(),
        "rsi": lambda b: RSIIndicator(b["close"], 14).rsi(),
        "macd": macd,
        "bbands": bbands,
        "atr": lambda b: AverageTrueRange(b["high"], b["low"], b["close"], 14).average_true_range(),
        "stoch": stoch,
        "adx": adx,
        "obv": lambda b: OnBalanceVolumeIndicator(b["close"], b["volume"]).on_balance_volume(),
        "mfi": lambda b: MFIIndicator(b["high"], b["low"], b["close"], b["volume"], 14).money_flow_index(),
    }


NAMES = ("sma", "ema", "rsi", "macd", "bbands", "atr", "stoch", "adx", "obv", "mfi")


def best_alternating(calls: list[Callable[[], Any]], repeat: int) -> list[float]:
    """Best wall time of each call over ``repeat`` rounds of one call each, after an untimed round."""
    for call in calls:
        call()
    best = [float("inf")] * len(calls)
    for _ in range(repeat):
        for k, call in enumerate(calls):
            started = time.perf_counter()
            call()
            best[k] = min(best[k], time.perf_counter() - started)
    return best


def best_of(call: Callable[[], Any], repeat: int, slow: float | None = None) -> tuple[float, int]:
    """Best wall time of ``repeat`` calls after an untimed one (once only if that one took over ``slow`` s)."""
    started = time.perf_counter()
    call()
    first = time.perf_counter() - started
    if slow is not None and first > slow:
        return first, 1
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times), repeat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--slow", type=float, default=1.0, help="ta paths slower than this run once (s)")
    parser.add_argument("--only", default=",".join(NAMES), help="comma-separated indicator names")
    parser.add_argument("--no-ta", action="store_true", help="skip the ta library")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(names) - set(NAMES)
    if unknown:
        parser.error(f"unknown indicator(s): {', '.join(sorted(unknown))}; choose from {', '.join(NAMES)}")

    from zvt_crypto.factors.indicators import INDICATORS

    warnings.filterwarnings("ignore", category=RuntimeWarning)  # ta divides by zero on flat windows
    bars = make_bars(args.bars)
    arrays = {name: bars[name].to_numpy() for name in bars.columns}
    talib = talib_paths()
    ta = {} if args.no_ta else ta_paths()
    load_before = os.getloadavg()
    rows = []
    for name in names:
        print(f"{name} ...", file=sys.stderr, flush=True)
        spec, reference_path = INDICATORS[name], talib[name]
        ours, reference = best_alternating([functools.partial(spec, bars), functools.partial(reference_path, arrays)],
                                           args.repeat)
        peer = best_of(functools.partial(ta[name], bars), args.repeat, args.slow) if name in ta else None
        rows.append((name, ours, reference, peer))
    load_after = os.getloadavg()

    info = machine_info(["zvt-crypto", "numpy", "pandas", "numba", "TA-Lib", "ta"])
    print(f"## Indicators: {args.bars:,} 1m bars, best of {args.repeat} alternating calls (after an untimed one)\n")
    for key, value in info.items():
        print(f"- {key}: {value}")
    print(f"- load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
          f"after: {', '.join(f'{x:.2f}' for x in load_after)}\n")
    print("| indicator | zvt_crypto ms | TA-Lib ms | zvt_crypto / TA-Lib | `ta` ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    failures = []
    for name, ours, reference, peer in rows:
        ratio = ours / reference
        if ratio > TARGET_RATIO:
            failures.append(name)
        peer_text = "—" if peer is None else f"{peer[0] * 1e3:,.1f}" + (" (1 run)" if peer[1] == 1 else "")
        print(f"| {name} | {ours * 1e3:.1f} | {reference * 1e3:.1f} | {ratio:.2f}× | {peer_text} |")
    verdict = "PASS" if not failures else f"FAIL ({', '.join(failures)})"
    print(f"\nTarget: each within {TARGET_RATIO:g}× of TA-Lib: **{verdict}**")
    return 0


if __name__ == "__main__":
    sys.exit(main())
