"""Dashboard /data and /backtests?run= on a long series: 1,000,000 1m bars of one pair, in headless Chromium.

Builds a SQLite store with one entity of 1M 1m bars (the library's bulk writer) and a backtest run over all of
them (``run_backtest`` with the vectorised engine, ``save_run``), starts ``zvt-crypto serve`` over it as a real
process, and drives Debian's chromium with Playwright:

* first candle: from ``page.goto(/data?...)`` to the first candlestick drawn (``--repeat`` fresh pages; the first
  one after the server started is reported apart: its callbacks pay the server's cold imports);
* zoom: ``Plotly.relayout`` to one UTC day, until the chart holds the day's 1,440 stored 1m candles, drawn;
* bytes: the ``/_dash-update-component`` response bodies that carry each chart;
* the run's page: from ``page.goto(/backtests?run=ID)`` to its equity line drawn, and the largest callback
  response (the run's content: banner, equity, drawdown, price with markers, tables);
* the naive way beside it, as the peers do it: a Dash app whose callback returns a plotly figure of all 1M
  candles (same store, same browser): its time to the first drawn candle and its bytes;
* ``serve`` start-up to a 200 on ``/healthz``: bench_serve.py's measurement (reused, not duplicated).

    python benchmarks/bench_dashboard.py [--rows 1000000] [--repeat 5] [--store PATH] [--skip-data]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench_serve import free_port, one_start  # benchmarks/ (the scripts run from this folder)
from machine import machine_info

ROOT = Path(__file__).resolve().parent.parent
ENTITY = "pair_binance_BTC-USDT"
PLOT = "document.querySelector('#data-chart .js-plotly-plot')"
DRAWN = ("(sel) => { const gd = document.querySelector(sel); "
         "return !!gd && gd.querySelectorAll('.boxlayer .trace path').length > 0; }")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
EQUITY = "#bt-equity .js-plotly-plot"
EQUITY_DRAWN = ("(sel) => { const gd = document.querySelector(sel); return !!gd && [...gd.querySelectorAll("
                "'.scatterlayer .trace path.js-line')].some(path => (path.getAttribute('d') || '').length > 1); }")
TARGET_FIRST, TARGET_ZOOM, TARGET_BYTES = 1.5, 0.5, 1_000_000
VIEWPORT = {"width": 1400, "height": 1000}


def build_store(path: Path, rows: int) -> float:
    """``rows`` seeded random-walk 1m bars of one pair, written through the library's bulk writer; seconds."""
    from bench_store import make_bars

    from zvt_crypto.contract.store import Store
    from zvt_crypto.domain import Bar

    frame = make_bars(1, rows)
    frame.insert(1, "level", "1m")
    started = time.perf_counter()
    store = Store(f"sqlite:///{path}", create=True)
    try:
        store.write(Bar, frame)
    finally:
        store.dispose()
    return time.perf_counter() - started


def stored_run(path: Path) -> tuple[str, str]:
    """The id of a backtest run over every stored bar (``sma_cross`` through the library, vectorised engine),
    stored when the store has none yet; and what it took."""
    from zvt_crypto.contract.store import Store
    from zvt_crypto.trader.data import load_market_data
    from zvt_crypto.trader.engine import run_backtest
    from zvt_crypto.trader.storage import list_runs, save_run

    store = Store(f"sqlite:///{path}")
    try:
        runs = list_runs(store, strategy="sma_cross", limit=1)
        if len(runs):
            return str(runs["run_id"].iloc[0]), "reused"
        started = time.perf_counter()
        data = load_market_data(exchange="binance", symbols=["BTC/USDT"], level="1m", store=store)
        loaded = time.perf_counter()
        result = run_backtest("sma_cross", data, params={"fast": 600, "slow": 2400}, fee=0.001, engine="vectorised")
        ran = time.perf_counter()
        run_id = save_run(result, store)
        return run_id, (f"{len(data.timestamps):,} bars loaded in "
                        f"{loaded - started:.1f} s, backtest {ran - loaded:.1f} s, stored in "
                        f"{time.perf_counter() - ran:.1f} s ({int(result.metrics['n_trades'])} trades)")
    finally:
        store.dispose()


@contextmanager
def serving(db: Path) -> Iterator[str]:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZVT_CRYPTO_")}
    env["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen([sys.executable, "-m", "zvt_crypto", "--db-url", f"sqlite:///{db}", "serve",
                                "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/healthz", process)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def wait_for(url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"serve ended with {process.returncode}: {process.communicate()[1].decode()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.02)
    raise SystemExit(f"no 200 from {url} within {timeout} s")


class Bytes:
    """Body sizes of the Dash callback responses a page received (from the network layer: a body of tens of MB
    does not fit the inspector's cache that ``response.body()`` reads)."""

    def __init__(self, page: Any) -> None:
        self.sizes: list[int] = []
        page.on("requestfinished", self._record)

    def _record(self, request: Any) -> None:
        if "/_dash-update-component" in request.url:
            self.sizes.append(int(request.sizes()["responseBodySize"]))

    def take(self) -> list[int]:
        sizes, self.sizes = self.sizes, []
        return sizes


def first_candle(context: Any, url: str, selector: str, timeout_ms: int,
                 may_time_out: bool = False, drawn: str = DRAWN) -> tuple[float, int]:
    """Seconds from navigation to the first drawn candlestick (or what ``drawn`` waits for) and the largest
    callback response (bytes); a page of ``context`` (a fresh context: nothing cached; a used one: the browser's
    cache holds plotly.js)."""
    page = context.new_page()
    sizes = Bytes(page)
    try:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        started = time.perf_counter()
        page.goto(url)
        try:
            page.wait_for_function(drawn, arg=selector, timeout=timeout_ms, polling=20)
        except PlaywrightTimeout:
            if not may_time_out:
                raise
            return float("nan"), max(sizes.take(), default=0)  # never drawn: its bytes still count
        elapsed = time.perf_counter() - started
        page.wait_for_timeout(500)  # trailing callbacks (Dash keeps a WebSocket open: no "networkidle")
        return elapsed, max(sizes.take(), default=0)
    finally:
        page.close()


def zoom_to_a_day(context: Any, url: str, day_ms: int) -> tuple[float, int, str]:
    """Seconds from a zoom to one day until its 1,440 stored candles are drawn; the response's bytes; the label."""
    page = context.new_page()
    try:
        sizes = Bytes(page)
        page.goto(url)
        page.wait_for_function(DRAWN, arg="#data-chart .js-plotly-plot", timeout=60_000)
        page.wait_for_function(f"{PLOT}._ev && {PLOT}._ev.listeners('plotly_relayout').length > 0")
        page.wait_for_timeout(500)  # trailing callbacks (Dash keeps a WebSocket open: no "networkidle")
        sizes.take()
        started = time.perf_counter()
        page.evaluate(f"Plotly.relayout({PLOT}, {{'xaxis.range': [{day_ms}, {day_ms + 86_400_000 - 1}]}})")
        page.wait_for_function(f"{PLOT}.data[0].x.length === 1440", timeout=60_000, polling=10)
        page.evaluate("new Promise(resolve => requestAnimationFrame(() => resolve()))")  # painted
        elapsed = time.perf_counter() - started
        page.wait_for_timeout(500)  # trailing callbacks (Dash keeps a WebSocket open: no "networkidle")
        return elapsed, max(sizes.take(), default=0), page.locator("#data-level-note").inner_text()
    finally:
        page.close()


@contextmanager
def naive_app(db: Path) -> Iterator[str]:
    """The peers' way: one dcc.Graph whose callback returns a plotly figure of every stored candle."""
    import plotly.graph_objects as go
    import uvicorn
    from dash import Dash, Input, Output, dcc, html
    from fastapi import FastAPI

    from zvt_crypto.contract.store import Store
    from zvt_crypto.domain import Bar

    store = Store(f"sqlite:///{db}")
    app = Dash(__name__, server=FastAPI())  # type: ignore[arg-type]
    app.layout = html.Div([dcc.Location(id="naive-url"), dcc.Graph(id="naive-chart")])

    @app.callback(Output("naive-chart", "figure"), Input("naive-url", "pathname"))
    def draw(_path: str) -> Any:
        bars = Bar.query_data(entity_ids=[ENTITY], level="1m", store=store).droplevel("entity_id")
        return go.Figure(go.Candlestick(x=bars.index, open=bars["open"], high=bars["high"], low=bars["low"],
                                        close=bars["close"]))

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app.server, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/")
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        store.dispose()


def timed_runs(label: str, runs: int, measure: Callable[[], tuple[float, int]]) -> list[tuple[float, int]]:
    results = []
    for number in range(runs):
        results.append(measure())
        print(f"  {label} run {number + 1}: {results[-1][0]:.2f} s, {results[-1][1]:,} bytes", flush=True)
    return results


def summarise(label: str, times: list[float], target: float) -> str:
    median = statistics.median(times)
    return (f"  {label}: median {median:.2f} s (min {min(times):.2f}, max {max(times):.2f}; target ≤ {target} s: "
            f"{'met' if median <= target else 'MISSED'})")


def measure_data(browser: Any, url: str, repeat: int) -> list[str]:
    """/data: first candle (first page after start, fresh contexts, a returning browser), zoom, bytes."""
    from bench_store import START_MS

    url_query = url + f"/data?exchange=binance&symbol={quote('BTC/USDT', safe='')}&level=1m"
    day = START_MS + 100 * 86_400_000  # a whole UTC day well inside the series
    chart = "#data-chart .js-plotly-plot"
    print("/data, first drawn candle:")
    cold = timed_runs("first after start", 1, lambda: first_candle(
        browser.new_context(viewport=VIEWPORT), url_query, chart, 60_000))
    fresh = timed_runs("empty browser cache", repeat, lambda: first_candle(
        browser.new_context(viewport=VIEWPORT), url_query, chart, 60_000))
    returning = browser.new_context(viewport=VIEWPORT)
    first_candle(returning, url_query, chart, 60_000)  # a visit before: plotly.js in its cache
    warm = timed_runs("browser cache warm", repeat, lambda: first_candle(returning, url_query, chart, 60_000))
    print("/data, zoom to one day:")
    zooms = []
    for number in range(repeat):
        zooms.append(zoom_to_a_day(returning, url_query, day))
        print(f"  zoom run {number + 1}: {zooms[-1][0]:.2f} s, {zooms[-1][1]:,} bytes; {zooms[-1][2]}", flush=True)
    largest = max([size for _, size in cold + fresh + warm] + [size for _, size, _ in zooms])
    return [f"  first candle, first load after start: {cold[0][0]:.2f} s",
            summarise("first candle, empty browser cache", [time_ for time_, _ in fresh], TARGET_FIRST),
            summarise("first candle, browser cache warm", [time_ for time_, _ in warm], TARGET_FIRST),
            summarise("zoom to one day at 1m", [time_ for time_, _, _ in zooms], TARGET_ZOOM),
            f"  largest chart response: {largest:,} bytes (target ≤ {TARGET_BYTES:,}: "
            f"{'met' if largest <= TARGET_BYTES else 'MISSED'})"]


def measure_run(browser: Any, url: str, run_id: str, repeat: int) -> list[str]:
    """/backtests?run=: navigation to the run's equity line drawn (first after start, fresh, returning); bytes."""
    url_run = url + f"/backtests?run={quote(run_id, safe='')}"

    def equity(context: Any) -> tuple[float, int]:
        return first_candle(context, url_run, EQUITY, 60_000, drawn=EQUITY_DRAWN)

    print(f"/backtests?run={run_id}, equity drawn:")
    cold = timed_runs("first after start", 1, lambda: equity(browser.new_context(viewport=VIEWPORT)))
    fresh = timed_runs("empty browser cache", repeat, lambda: equity(browser.new_context(viewport=VIEWPORT)))
    returning = browser.new_context(viewport=VIEWPORT)
    equity(returning)  # a visit before: plotly.js in its cache
    warm = timed_runs("browser cache warm", repeat, lambda: equity(returning))
    largest = max(size for _, size in cold + fresh + warm)
    return [f"  run's equity, first load after start: {cold[0][0]:.2f} s",
            summarise("run's equity, empty browser cache", [time_ for time_, _ in fresh], TARGET_FIRST),
            summarise("run's equity, browser cache warm", [time_ for time_, _ in warm], TARGET_FIRST),
            f"  largest run page response (banner, equity, drawdown, price and markers, tables): {largest:,} bytes "
            f"(target ≤ {TARGET_BYTES:,}: {'met' if largest <= TARGET_BYTES else 'MISSED'})"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store", type=Path, help="reuse this store (built when it does not exist)")
    parser.add_argument("--naive-timeout", type=float, default=120.0, help="seconds before the naive chart fails")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-data", action="store_true", help="measure the run's page only")
    parser.add_argument("--serve-repeat", type=int, default=3, help="bench_serve.py start-ups (0: none)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    for key, value in machine_info(["dash", "plotly", "fastapi", "uvicorn", "playwright"]).items():
        print(f"{key}: {value}")
    chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True, check=False)
    print(f"browser: {chromium.stdout.strip()} (headless)")
    print(f"load average before: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    summary: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        db = args.store or Path(folder) / "dashboard.db"
        if not db.exists():
            print(f"store: {args.rows:,} 1m bars written in {build_store(db, args.rows):.1f} s")
        run_id, how = stored_run(db)
        print(f"backtest run {run_id} over every bar: {how}")
        with sync_playwright() as playwright, serving(db) as url:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            # the run's page first: its "first after start" is then the server's first page, as /data's is below
            summary += measure_run(browser, url, run_id, args.repeat)
            browser.close()
        if not args.skip_data:
            with sync_playwright() as playwright, serving(db) as url:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                summary += measure_data(browser, url, args.repeat)
                browser.close()
        if not args.skip_naive:
            print("naive: a plotly figure of all candles:")
            with sync_playwright() as playwright, naive_app(db) as url:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                naive = timed_runs("naive", 1, lambda: first_candle(
                    browser.new_context(viewport=VIEWPORT), url + "/", "#naive-chart .js-plotly-plot",
                    int(args.naive_timeout * 1000), may_time_out=True))
                browser.close()
            drawn = (f"{naive[0][0]:.2f} s to the first candle" if naive[0][0] == naive[0][0]
                     else f"not drawn within {args.naive_timeout:.0f} s")
            summary.append(f"  naive, all {args.rows:,} candles in one figure: {drawn}, {naive[0][1]:,} bytes")
    if args.serve_repeat:
        starts = [one_start() for _ in range(args.serve_repeat)]
        summary.append(f"  serve start-up to 200 on /healthz (bench_serve.py): median {statistics.median(starts):.2f} "
                       f"s (min {min(starts):.2f}, max {max(starts):.2f})")
    print("\nsummary", *summary, sep="\n")
    print(f"load average after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
