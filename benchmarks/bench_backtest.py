"""Backtest benchmark: zvt_crypto's event engine and vectorised path against backtesting.py, backtrader and vectorbt,
side by side in one run, on the same synthetic bars, checking that all of them make the same trades.

The task (the issue's): SMA 10/30 cross, long-only, all-in, 0.1 % fee on each fill, decided at a bar's close and
filled at the next bar's open, on 100,000 and 1,000,000 seeded random-walk 1m bars. Plus the factor portfolio: a
cross-sectional momentum long/short of 50 perps over one year of daily bars (``xs_momentum``).

Every path × size runs in its own fresh subprocess (its peak RSS is its own); the data is generated inside the
worker before the clock starts. Times are the backtest call itself (indicators, the run, the result with trades and
the equity curve; zvt_crypto computes its metrics on first use, timed separately). For the paths that compile
(zvt_crypto vectorised: numba, cached on disk; vectorbt: numba) the first call in the new process and the warm
calls are reported apart, and ``--cold`` also times zvt_crypto's first call with an empty numba cache.

    .venv/bin/python benchmarks/bench_backtest.py                 # 100k and 1M bars, every path (≈ 5 min)
    .venv/bin/python benchmarks/bench_backtest.py --quick         # 20k bars, one run each (≈ 30 s)
    .venv/bin/python benchmarks/bench_backtest.py --bars 100000 --paths zvt_event,zvt_vectorised --repeat 5

Progress goes to stderr, the Markdown report to stdout. Scratch files live under ``benchmarks/.data/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from machine import machine_info, peak_rss_mb  # benchmarks/machine.py (the scripts run from this folder)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA_DIR = HERE / ".data"

PATHS = ("zvt_event", "zvt_vectorised", "backtesting.py", "backtrader", "vectorbt")
LABELS = {
    "zvt_event": "**zvt_crypto event engine** (Python `next` per bar)",
    "zvt_vectorised": "**zvt_crypto vectorised path**",
    "backtesting.py": "backtesting.py (`FractionalBacktest`)",
    "backtrader": "backtrader (cheat-on-open)",
    "vectorbt": "vectorbt `Portfolio.from_signals`",
}
SEED = 20240101
CASH = 10_000.0
FEE = 0.001
FAST, SLOW = 10, 30
#: backtesting.py trades whole units of this; tiny so its all-in sizes match the others' floats as equity shrinks
FRACTIONAL_UNIT = 1e-16

TARGET_VECTOR_S = 0.25
TARGET_VECTOR_FIRST_S = 1.0
TARGET_EVENT_BARS_S = 250_000
TARGET_PORTFOLIO_S = 1.0
TARGET_RSS_MB = 1024


# -- data -------------------------------------------------------------------------------------------------------------
def make_bars(n: int, seed: int = SEED) -> Any:
    """Seeded 1m bars (OHLC consistent) as a backtesting.py-style frame (naive UTC index): a random walk (0.1 % per
    bar) plus a daily cycle in the drift (amplitude 0.02 % per bar). Without the cycle, ~20,000 round trips at 0.2 %
    of fees take a pure random walk's account to 1e-11 of its cash, where engines part ways on float tolerances
    (backtesting.py's whole units, vectorbt's zero-cash test) rather than on their rules; with it, equity stays
    between 0.5 and 5 times the initial cash over 1,000,000 bars."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    drift = 0.0002 * np.sin(2 * np.pi * np.arange(n) / 1440)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n) + drift))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.0002, n))
    high = np.maximum(open_, close) * (1 + rng.random(n) * 0.0005)
    low = np.minimum(open_, close) * (1 - rng.random(n) * 0.0005)
    index = pd.date_range("2020-01-01", periods=n, freq="1min")
    return pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close, "Volume": 1000.0}, index=index)


def sma(values: Any, n: int) -> Any:
    import numpy as np
    import pandas as pd

    return pd.Series(np.asarray(values, dtype=float)).rolling(n).mean().to_numpy()


# -- the paths (each runs inside a worker subprocess) ----------------------------------------------------------------
def run_zvt_event(frame: Any, repeat: int) -> tuple[list[float], Any, float, dict[str, Any]]:
    import numpy as np

    from zvt_crypto.trader import MarketData, Strategy, crossover, run_backtest
    from zvt_crypto.trader import sma as zsma

    class SmaCross(Strategy):  # backtesting.py's example, line for line
        fast = FAST
        slow = SLOW

        def init(self) -> None:
            self.fast_ma = self.I(zsma, self.data.close, self.fast)
            self.slow_ma = self.I(zsma, self.data.close, self.slow)

        def next(self) -> None:
            if crossover(self.fast_ma, self.slow_ma):
                self.buy()
            elif crossover(self.slow_ma, self.fast_ma):
                self.position.close()

    data = MarketData.from_frame(frame, symbol="BTC/USDT", level="1m")
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run_backtest(SmaCross, data, cash=CASH, fee=FEE)
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    result.metrics  # noqa: B018 - computed on first use
    extra = {"metrics_s": time.perf_counter() - started}
    t = result.trades
    trades = np.column_stack([t["entry_bar"], t["exit_bar"], t["entry_price"], t["exit_price"], t["size"]])
    return times, trades, result.final_equity, extra


def run_zvt_vectorised(frame: Any, repeat: int) -> tuple[list[float], Any, float, dict[str, Any]]:
    import numpy as np

    from zvt_crypto.trader import MarketData, run_backtest

    data = MarketData.from_frame(frame, symbol="BTC/USDT", level="1m")
    times, result = [], None
    for _ in range(repeat + 1):  # the first call pays numba's import and cache load
        started = time.perf_counter()
        result = run_backtest("sma_cross", data, params={"fast": FAST, "slow": SLOW}, cash=CASH, fee=FEE,
                              engine="vectorised")
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    result.metrics  # noqa: B018
    extra = {"metrics_s": time.perf_counter() - started, "first_s": times[0]}
    t = result.trades
    trades = np.column_stack([t["entry_bar"], t["exit_bar"], t["entry_price"], t["exit_price"], t["size"]])
    return times[1:], trades, result.final_equity, extra


def run_backtesting_py(frame: Any, repeat: int) -> tuple[list[float], Any, float, dict[str, Any]]:
    import numpy as np
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest, crossover

    class SmaCross(Strategy):
        def init(self) -> None:
            self.fast_ma = self.I(sma, self.data.Close, FAST)
            self.slow_ma = self.I(sma, self.data.Close, SLOW)

        def next(self) -> None:
            if crossover(self.fast_ma, self.slow_ma):
                self.buy()
            elif crossover(self.slow_ma, self.fast_ma):
                self.position.close()

    times, stats = [], None
    for _ in range(repeat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            started = time.perf_counter()
            stats = FractionalBacktest(frame, SmaCross, cash=CASH, commission=FEE, trade_on_close=False,
                                       fractional_unit=FRACTIONAL_UNIT).run()
            times.append(time.perf_counter() - started)
    t = stats["_trades"]
    trades = np.column_stack([t["EntryBar"], t["ExitBar"], t["EntryPrice"], t["ExitPrice"], t["Size"]])
    return times, trades, float(stats["Equity Final [$]"]), {}


def run_backtrader(frame: Any, repeat: int) -> tuple[list[float], Any, float, dict[str, Any]]:
    import backtrader as bt
    import numpy as np

    class SmaCross(bt.Strategy):
        """Decides at the close (next), orders at the next bar's open (next_open, cheat-on-open) sized from that
        open: backtrader's way to fill all-in at the next open."""

        def __init__(self) -> None:
            fast = bt.indicators.SMA(self.data.close, period=FAST)
            slow = bt.indicators.SMA(self.data.close, period=SLOW)
            self.cross = bt.indicators.CrossOver(fast, slow)
            self.pending = 0
            self.entry: tuple[int, float, float] | None = None
            self.done: list[tuple[int, int, float, float, float]] = []

        def next(self) -> None:
            signal = self.cross[0]
            if signal > 0 and not self.position:
                self.pending = 1
            elif signal < 0 and self.position:
                self.pending = -1

        def next_open(self) -> None:
            if self.pending == 1:  # a hair under all-in: backtrader refuses a fill that overdraws by one ulp
                self.buy(size=self.broker.getcash() / (self.data.open[0] * (1 + FEE)) * (1 - 1e-12))
            elif self.pending == -1:
                self.close()
            self.pending = 0

        def notify_order(self, order: Any) -> None:
            if order.status == order.Completed:
                bar = len(self) - 1
                if order.isbuy():
                    self.entry = (bar, order.executed.price, order.executed.size)
                elif self.entry is not None:
                    self.done.append((self.entry[0], bar, self.entry[1], order.executed.price, self.entry[2]))

    times, strategy, cerebro = [], None, None
    for _ in range(repeat):
        cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True)
        cerebro.adddata(bt.feeds.PandasData(dataname=frame))
        cerebro.addstrategy(SmaCross)
        cerebro.broker.setcash(CASH)
        cerebro.broker.setcommission(commission=FEE)
        started = time.perf_counter()
        strategy = cerebro.run()[0]
        times.append(time.perf_counter() - started)
    return times, np.asarray(strategy.done, dtype=float), float(cerebro.broker.getvalue()), {}


def run_vectorbt(frame: Any, repeat: int) -> tuple[list[float], Any, float, dict[str, Any]]:
    import numpy as np
    import pandas as pd
    import vectorbt as vbt

    close, open_ = frame["Close"], frame["Open"]

    def once() -> Any:
        fast, slow = pd.Series(sma(close, FAST), index=close.index), pd.Series(sma(close, SLOW), index=close.index)
        entries = (fast.shift(1) < slow.shift(1)) & (fast > slow)
        exits = (slow.shift(1) < fast.shift(1)) & (slow > fast)
        # from_signals fills at the signal bar's `price`: shift the decisions one bar and fill at that bar's open
        return vbt.Portfolio.from_signals(close=close, entries=entries.shift(1, fill_value=False),
                                          exits=exits.shift(1, fill_value=False), price=open_, fees=FEE,
                                          init_cash=CASH, size=np.inf, min_size=1e-300)

    times, portfolio = [], None
    for _ in range(repeat + 1):  # the first call compiles (numba, cached on disk)
        started = time.perf_counter()
        portfolio = once()
        records = portfolio.trades.records
        times.append(time.perf_counter() - started)
    closed = records[records["status"] == 1]
    trades = np.column_stack([closed["entry_idx"], closed["exit_idx"], closed["entry_price"], closed["exit_price"],
                              closed["size"]])
    return times[1:], trades, float(portfolio.final_value()), {"first_s": times[0]}


def run_portfolio(repeat: int) -> dict[str, Any]:
    """xs_momentum over 50 perps × 365 daily bars (result and metrics)."""
    import numpy as np
    import pandas as pd

    from zvt_crypto.trader import MarketData, run_backtest

    rng = np.random.default_rng(SEED)
    index = pd.date_range("2023-01-01", periods=365, freq="1D", tz="UTC")
    frames = {}
    for k in range(50):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, 365)))
        open_ = np.r_[100.0, close[:-1]]
        frames[f"C{k:02d}/USDT:USDT"] = pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.01,
                                                     "low": np.minimum(open_, close) * 0.99, "close": close,
                                                     "volume": 1e6}, index=index)
    data = MarketData.from_frames(frames, level="1d")
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run_backtest("xs_momentum", data, params={"lookback": 20, "n": 5}, fee=0.0005, leverage=2)
        result.metrics  # noqa: B018
        times.append(time.perf_counter() - started)
    return {"times": times, "trades": len(result.trades), "orders": len(result.order_list),
            "peak_rss_mb": peak_rss_mb()}


RUNNERS = {"zvt_event": run_zvt_event, "zvt_vectorised": run_zvt_vectorised, "backtesting.py": run_backtesting_py,
           "backtrader": run_backtrader, "vectorbt": run_vectorbt}


def worker(path: str, bars: int, repeat: int, out: Path) -> dict[str, Any]:
    import numpy as np

    if path == "portfolio":
        return run_portfolio(repeat)
    frame = make_bars(bars)
    before = peak_rss_mb()
    times, trades, final, extra = RUNNERS[path](frame, repeat)
    np.save(out, np.asarray(trades, dtype=float))
    return {"times": times, "final_equity": final, "trades": len(trades), "peak_rss_mb": peak_rss_mb(),
            "rss_before_mb": before, **extra}


def run_worker(path: str, bars: int, repeat: int, run_dir: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = run_dir / f"{path}-{bars}.npy"
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", path, "--bars", str(bars),
               "--repeat", str(repeat), "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise RuntimeError(f"worker {path} {bars} failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(path=path, bars=bars, trades_file=str(out))
    return result


def same_trades(reference: Any, other: Any) -> str:
    """'same' or what differs: entry/exit bars exactly, prices to 1e-9, sizes to 1e-6 (relative)."""
    import numpy as np

    if reference.shape != other.shape:
        return f"{len(other)} trades vs {len(reference)}"
    if not (reference[:, :2] == other[:, :2]).all():
        first = int(np.argmax((reference[:, :2] != other[:, :2]).any(axis=1)))
        return f"bars differ from trade {first}"
    prices = np.max(np.abs(other[:, 2:4] / reference[:, 2:4] - 1)) if len(other) else 0.0
    sizes = np.max(np.abs(other[:, 4] / reference[:, 4] - 1)) if len(other) else 0.0
    if prices > 1e-9 or sizes > 1e-6:
        return f"prices differ by {prices:.1e}, sizes by {sizes:.1e}"
    return f"same (sizes within {sizes:.0e})" if sizes else "same"


# -- report -----------------------------------------------------------------------------------------------------------
def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def report(args: argparse.Namespace, results: list[dict[str, Any]], portfolio: dict[str, Any] | None,
           cold: float | None) -> str:
    lines = ["# Backtest benchmark", "", "## Machine", ""]
    lines += [f"- {key}: {value}" for key, value in machine_info(
        ("zvt-crypto", "numpy", "pandas", "numba", "backtesting", "backtrader", "vectorbt")).items()]
    lines += ["", f"## Results: SMA {FAST}/{SLOW} cross, long-only, all-in, {FEE:.1%} fee, next-open fills "
                  f"(median of {args.repeat} run(s), each path in a fresh process)", "",
              "| bars | engine | time | bars/s | first call in the process | vs backtesting.py | trades | same "
              "trades as the event engine | final equity | peak RSS MB |",
              "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |"]
    for bars in args.bars:
        rows = [r for r in results if r["bars"] == bars]
        peer = next((statistics.median(r["times"]) for r in rows if r["path"] == "backtesting.py"), None)
        for row in rows:
            median = statistics.median(row["times"])
            speedup = f"{peer / median:.1f}×" if peer else "—"
            lines.append(
                f"| {bars:,} | {LABELS[row['path']]} | {fmt_s(median)} | {bars / median:,.0f} | "
                f"{fmt_s(row.get('first_s'))} | {speedup} | {row['trades']:,} | {row['same']} | "
                f"{row['final_equity']:.6g} | {row['peak_rss_mb']:,.0f} |")
    lines.append("")
    if cold is not None:
        lines.append(f"zvt_crypto vectorised, first call with an empty numba cache (compiles): {fmt_s(cold)}.")
    metric_times = [(r["bars"], r["path"], r["metrics_s"]) for r in results if "metrics_s" in r]
    if metric_times:
        lines.append("zvt_crypto computes the metrics on first use: " + ", ".join(
            f"{fmt_s(seconds)} at {bars:,} bars ({path})" for bars, path, seconds in metric_times) + ".")
    if portfolio:
        lines += ["", f"Factor portfolio (`xs_momentum`, 50 perps × 365 daily bars, result + metrics): "
                      f"{fmt_s(statistics.median(portfolio['times']))} (median of {len(portfolio['times'])}), "
                      f"{portfolio['trades']:,} trades from {portfolio['orders']:,} orders, "
                      f"peak RSS {portfolio['peak_rss_mb']:.0f} MB."]
    lines += ["", "## Targets", ""]
    for bars in args.bars:
        by_path = {r["path"]: r for r in results if r["bars"] == bars}
        if bars == 1_000_000 and "zvt_vectorised" in by_path:
            vector = by_path["zvt_vectorised"]
            median = statistics.median(vector["times"])
            lines.append(f"- vectorised ≤ {TARGET_VECTOR_S} s at 1M bars: {fmt_s(median)} — "
                         f"{'met' if median <= TARGET_VECTOR_S else 'missed'}")
            first = vector["first_s"]
            lines.append(f"- vectorised first call in a new process ≤ {TARGET_VECTOR_FIRST_S} s: {fmt_s(first)} — "
                         f"{'met' if first <= TARGET_VECTOR_FIRST_S else 'missed'}")
        if "zvt_event" in by_path:
            rate = bars / statistics.median(by_path["zvt_event"]["times"])
            lines.append(f"- event engine ≥ {TARGET_EVENT_BARS_S:,} bars/s at {bars:,} bars: {rate:,.0f} — "
                         f"{'met' if rate >= TARGET_EVENT_BARS_S else 'missed'}")
        for path in ("zvt_event", "zvt_vectorised"):
            if bars == 1_000_000 and path in by_path:
                rss = by_path[path]["peak_rss_mb"]
                lines.append(f"- peak memory ≤ 1 GB at 1M bars ({path}): {rss:.0f} MB — "
                             f"{'met' if rss <= TARGET_RSS_MB else 'missed'}")
    if portfolio:
        median = statistics.median(portfolio["times"])
        lines.append(f"- 50-symbol daily portfolio ≤ {TARGET_PORTFOLIO_S} s: {fmt_s(median)} — "
                     f"{'met' if median <= TARGET_PORTFOLIO_S else 'missed'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", default="100000,1000000", help="comma-separated bar counts")
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated: " + ", ".join(PATHS))
    parser.add_argument("--repeat", type=int, default=3, help="runs per path (backtrader at ≥ 1M bars: 1)")
    parser.add_argument("--quick", action="store_true", help="20,000 bars, one run per path")
    parser.add_argument("--cold", action="store_true", help="also time a first call with an empty numba cache")
    parser.add_argument("--no-portfolio", action="store_true", help="skip the 50-symbol portfolio")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, int(args.bars), args.repeat, args.out)))
        return
    if args.quick:
        args.bars, args.repeat = "20000", 1
    args.bars = [int(value) for value in args.bars.split(",")]
    paths = [path for path in args.paths.split(",") if path]
    unknown = set(paths) - set(PATHS)
    if unknown:
        parser.error(f"unknown path(s) {', '.join(sorted(unknown))}; use {', '.join(PATHS)}")
    import numpy as np

    DATA_DIR.mkdir(exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(dir=DATA_DIR))
    results = []
    try:
        for bars in args.bars:
            for path in paths:
                repeat = 1 if path == "backtrader" and bars >= 1_000_000 else args.repeat
                print(f"{path} × {bars:,} bars …", file=sys.stderr, flush=True)
                results.append(run_worker(path, bars, repeat, run_dir))
            reference = next((r for r in results if r["bars"] == bars and r["path"] == "zvt_event"), None)
            for row in (r for r in results if r["bars"] == bars):
                if reference is None:
                    row["same"] = "—"
                else:
                    row["same"] = ("reference" if row is reference else
                                   same_trades(np.load(reference["trades_file"]), np.load(row["trades_file"])))
        portfolio = None if args.no_portfolio else run_worker("portfolio", 0, max(args.repeat, 3), run_dir)
        cold = None
        if args.cold:
            cache = Path(tempfile.mkdtemp(dir=DATA_DIR))
            # numba compiles the kernel into an empty cache directory (small runs stay interpreted: use the largest)
            cold_result = run_worker("zvt_vectorised", max(args.bars), 1, run_dir,
                                     env={"NUMBA_CACHE_DIR": str(cache)})
            cold = cold_result["first_s"]
            shutil.rmtree(cache, ignore_errors=True)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    for row in results:
        row.pop("trades_file", None)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "portfolio": portfolio, "cold_first_s": cold},
                                        indent=2))
    print(report(args, results, portfolio, cold))


if __name__ == "__main__":
    main()
