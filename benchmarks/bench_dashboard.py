"""Dashboard /data page on a long series: 1,000,000 1m bars of one pair, measured in headless Chromium.

Builds a SQLite store with one entity of 1M 1m bars (the library's bulk writer), starts ``zvt-crypto serve`` over
it as a real process, and drives Debian's chromium with Playwright:

* first candle: from ``page.goto(/data?...)`` to the first candlestick drawn (``--repeat`` fresh pages; the first
  one after the server started is reported apart: its callbacks pay the server's cold imports);
* zoom: ``Plotly.relayout`` to one UTC day, until the chart holds the day's 1,440 stored 1m candles, drawn;
* bytes: the ``/_dash-update-component`` response bodies that carry each chart;
* the naive way beside it, as the peers do it: a Dash app whose callback returns a plotly figure of all 1M
  candles (same store, same browser): its time to the first drawn candle and its bytes;
* ``serve`` start-up to a 200 on ``/healthz``: bench_serve.py's measurement (reused, not duplicated).

    python benchmarks/bench_dashboard.py [--rows 1000000] [--repeat 5] [--store PATH]
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
                 may_time_out: bool = False) -> tuple[float, int]:
    """Seconds from navigation to the first drawn candlestick and the largest callback response (bytes); a page
    of ``context`` (a fresh context: nothing cached; a used one: the browser's cache holds plotly.js)."""
    page = context.new_page()
    sizes = Bytes(page)
    try:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        started = time.perf_counter()
        page.goto(url)
        try:
            page.wait_for_function(DRAWN, arg=selector, timeout=timeout_ms, polling=20)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store", type=Path, help="reuse this store (built when it does not exist)")
    parser.add_argument("--naive-timeout", type=float, default=120.0, help="seconds before the naive chart fails")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--serve-repeat", type=int, default=3, help="bench_serve.py start-ups (0: none)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    for key, value in machine_info(["dash", "plotly", "fastapi", "uvicorn", "playwright"]).items():
        print(f"{key}: {value}")
    chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True, check=False)
    print(f"browser: {chromium.stdout.strip()} (headless)")
    print(f"load average before: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as folder:
        db = args.store or Path(folder) / "dashboard.db"
        if not db.exists():
            print(f"store: {args.rows:,} 1m bars written in {build_store(db, args.rows):.1f} s")
        from bench_store import START_MS

        url_query = f"/data?exchange=binance&symbol={quote('BTC/USDT', safe='')}&level=1m"
        day = START_MS + 100 * 86_400_000  # a whole UTC day well inside the series
        with sync_playwright() as playwright, serving(db) as url:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            chart = "#data-chart .js-plotly-plot"
            print("/data, first drawn candle:")
            cold = timed_runs("first after start", 1, lambda: first_candle(
                browser.new_context(viewport=VIEWPORT), url + url_query, chart, 60_000))
            fresh = timed_runs("empty browser cache", args.repeat, lambda: first_candle(
                browser.new_context(viewport=VIEWPORT), url + url_query, chart, 60_000))
            returning = browser.new_context(viewport=VIEWPORT)
            first_candle(returning, url + url_query, chart, 60_000)  # a visit before: plotly.js in its cache
            warm = timed_runs("browser cache warm", args.repeat,
                              lambda: first_candle(returning, url + url_query, chart, 60_000))
            print("/data, zoom to one day:")
            zooms = []
            for number in range(args.repeat):
                zooms.append(zoom_to_a_day(returning, url + url_query, day))
                print(f"  zoom run {number + 1}: {zooms[-1][0]:.2f} s, {zooms[-1][1]:,} bytes; {zooms[-1][2]}",
                      flush=True)
            browser.close()
        naive: list[tuple[float, int]] = []
        if not args.skip_naive:
            print("naive: a plotly figure of all candles:")
            with sync_playwright() as playwright, naive_app(db) as url:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                naive = timed_runs("naive", 1, lambda: first_candle(
                    browser.new_context(viewport=VIEWPORT), url + "/", "#naive-chart .js-plotly-plot",
                    int(args.naive_timeout * 1000), may_time_out=True))
                browser.close()
    median = statistics.median
    warm_times = [time_ for time_, _ in warm]
    fresh_times = [time_ for time_, _ in fresh]
    zoom_times = [time_ for time_, _, _ in zooms]
    largest = max([size for _, size in cold + fresh + warm] + [size for _, size, _ in zooms])
    print("\nsummary")
    print(f"  first candle, first load after start: {cold[0][0]:.2f} s")
    for label, times in (("empty browser cache", fresh_times), ("browser cache warm", warm_times)):
        print(f"  first candle, {label}: median {median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}; "
              f"target ≤ {TARGET_FIRST} s: {'met' if median(times) <= TARGET_FIRST else 'MISSED'})")
    print(f"  zoom to one day at 1m: median {median(zoom_times):.2f} s (min {min(zoom_times):.2f}, "
          f"max {max(zoom_times):.2f}; target ≤ {TARGET_ZOOM} s: "
          f"{'met' if median(zoom_times) <= TARGET_ZOOM else 'MISSED'})")
    print(f"  largest chart response: {largest:,} bytes (target ≤ {TARGET_BYTES:,}: "
          f"{'met' if largest <= TARGET_BYTES else 'MISSED'})")
    if naive:
        drawn = (f"{naive[0][0]:.2f} s to the first candle" if naive[0][0] == naive[0][0]
                 else f"not drawn within {args.naive_timeout:.0f} s")
        print(f"  naive, all {args.rows:,} candles in one figure: {drawn}, {naive[0][1]:,} bytes")
    if args.serve_repeat:
        starts = [one_start() for _ in range(args.serve_repeat)]
        print(f"  serve start-up to 200 on /healthz (bench_serve.py): median {median(starts):.2f} s "
              f"(min {min(starts):.2f}, max {max(starts):.2f})")
    print(f"load average after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
