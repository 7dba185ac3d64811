"""/data in a real browser: ``zvt-crypto serve`` as a subprocess over a real SQLite store holding 1,000,000 1m bars
of one pair (beside the ``backtesting`` CSVs and an RSI computed on EUR/USD). The chart receives at most the
budget of candles, a zoom to one day re-queries the stored 1m bars, the pickers change the trace and the URL, a
deep link restores them, a level with no bars says why and which command records them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest

from tests.ui.conftest import Served, make_site, serve_process
from tests.ui.test_browser import TIMEOUT_MS, Watch, snap

pytestmark = [pytest.mark.browser, pytest.mark.slow]
MINUTES = 1_000_000  # the large series: the chart still receives at most BUDGET candles
BTC = "pair_binance_BTC-USDT"
PLOT = "document.querySelector('#data-chart .js-plotly-plot')"
CANDLES = f"(() => {{ const gd = {PLOT}; return gd && gd.data && gd.data.length ? gd.data[0] : null; }})()"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from zvt_crypto.domain import Bar
    from zvt_crypto.factors.base import make_factor
    from zvt_crypto.factors.engine import compute_factor

    site = make_site(tmp_path_factory.mktemp("browser-data"), filled=True)
    store = site.store()
    try:
        store.write(Bar, make_bars(BTC, n=MINUTES, level="1m"))
        compute_factor(make_factor("rsi"), level="1h", entity_ids=["pair_oanda_EUR-USD"], store=store)
    finally:
        store.dispose()
    with serve_process(site) as running:
        yield running
        status, _stdout, stderr = running.stop()
    assert status == 0, stderr
    assert "Traceback" not in stderr, stderr


def make_bars(entity: str, n: int, level: str) -> Any:
    """``n`` bars of a seeded random walk from 2024-01-01 (a chart a person can read, unlike white noise)."""
    import numpy as np
    import pandas as pd

    from zvt_crypto.contract.levels import Level

    rng = np.random.default_rng(7)
    close = 40_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.r_[40_000, close[:-1]]
    spread = np.abs(rng.normal(0, 4e-4, n))
    return pd.DataFrame({
        "entity_id": entity, "level": level,
        "timestamp": pd.to_datetime(1_704_067_200_000 + np.arange(n) * Level.parse(level).ms, unit="ms", utc=True),
        "open": open_, "high": np.maximum(open_, close) * (1 + spread), "low": np.minimum(open_, close) * (1 - spread),
        "close": close, "volume": rng.gamma(2.0, 10.0, n),
    })


def candles(page: Any) -> dict[str, Any]:
    """The first trace's type and point count, as plotly holds them in the page."""
    return page.evaluate(f"(() => {{ const t = {CANDLES}; return t && {{type: t.type, points: t.x.length}}; }})()")


def wait_for_points(page: Any, points: int) -> None:
    from playwright.sync_api import Error

    try:
        page.wait_for_function(f"(n) => {{ const t = {CANDLES}; return t && t.x.length === n; }}", arg=points,
                               timeout=TIMEOUT_MS)
    except Error:
        raise AssertionError(f"the chart did not get {points} points: {candles(page)}; "
                             f"{page.locator('#data-level-note').inner_text()}") from None


def choose(page: Any, dropdown_id: str, option: str) -> None:
    page.locator(f"#{dropdown_id}").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_a_long_series_gets_the_budget_and_a_zoom_gets_the_stored_minutes(page: Any, served: Served,
                                                                               shots: list[Path]) -> None:
    from playwright.sync_api import expect

    from zvt_crypto.contract.levels import MINUTE_MS
    from zvt_crypto.contract.resample import resample_bars
    from zvt_crypto.domain.chart import display_level
    from zvt_crypto.ui.pages.data import BUDGET

    watch = Watch().attach(page)
    sizes: list[int] = []
    page.on("response", lambda response: sizes.append(len(response.body()))
            if "/_dash-update-component" in response.url and response.status == 200 else None)
    page.goto(f"{served.url}/data?exchange=binance&symbol={quote('BTC/USDT', safe='')}&level=1m")
    minutes = make_bars(BTC, n=MINUTES, level="1m")
    first = int(minutes["timestamp"].iloc[0].value // 10**6)
    shown = display_level("1m", first, first + (MINUTES - 1) * MINUTE_MS, BUDGET)
    expected = len(resample_bars(minutes, "1m", shown))  # complete intervals only: the last 4h is not
    wait_for_points(page, expected)
    assert candles(page) == {"type": "candlestick", "points": expected} and expected <= BUDGET
    expect(page.locator("#data-level-note")).to_contain_text(f"{shown} bars resampled from 1m — zoom in for finer")
    expect(page.locator("#data-coverage-summary")).to_contain_text(f"{MINUTES:,} of {MINUTES:,} on the grid")
    snap(page, shots, "data")

    day = first + 50 * 1440 * MINUTE_MS  # a whole UTC day in the middle
    page.wait_for_function(f"{PLOT}._ev && {PLOT}._ev.listeners('plotly_relayout').length > 0")  # Dash listens
    page.evaluate(f"Plotly.relayout({PLOT}, {{'xaxis.range': [{day}, {day + 1440 * MINUTE_MS - 1}]}})")
    wait_for_points(page, 1440)  # re-queried at the stored level
    expect(page.locator("#data-level-note")).to_contain_text("1m bars as stored (1,440 candles")
    snap(page, shots, "data-zoomed")
    page.evaluate(f"Plotly.relayout({PLOT}, {{'xaxis.autorange': true}})")  # back to the whole series
    wait_for_points(page, expected)
    assert sizes and max(sizes) < 1_000_000, sizes  # bytes per chart
    assert watch.problems == []


def test_pickers_change_the_trace_and_the_url_and_a_deep_link_restores_them(page: Any, served: Served,
                                                                           shots: list[Path]) -> None:
    from playwright.sync_api import expect

    watch = Watch().attach(page)
    page.goto(f"{served.url}/data?exchange=binance&symbol={quote('BTC/USDT', safe='')}&level=1m")
    expect(page.locator("#data-level-note")).to_contain_text("resampled from 1m", timeout=TIMEOUT_MS)
    choose(page, "data-exchange", "oanda")
    expect(page.locator("#data-symbol")).to_contain_text("EUR/USD", timeout=TIMEOUT_MS)
    message = page.locator("#data-no-bars")  # EUR/USD has 1h bars only
    expect(message).to_contain_text("No 1m bars of EUR/USD on oanda are stored (it has 1h bars", timeout=TIMEOUT_MS)
    expect(message).to_contain_text("record bars --exchange oanda --symbol EUR/USD --level 1m --start")
    assert page.evaluate(f"{PLOT}.data.length") == 0
    expect(page).to_have_url(re.compile(r"/data\?exchange=oanda&symbol=EUR%2FUSD&level=1m$"))
    snap(page, shots, "data-no-bars")

    choose(page, "data-level", "1h")
    expect(page.locator("#data-level-note")).to_contain_text("EUR/USD on oanda:", timeout=TIMEOUT_MS)
    assert candles(page)["type"] == "candlestick" and 0 < candles(page)["points"] <= 2_000
    expect(page).to_have_url(re.compile(r"/data\?exchange=oanda&symbol=EUR%2FUSD&level=1h$"))
    assert page.locator("#data-gaps tbody tr").count() > 0  # the weekends of the FX market

    choose(page, "data-factors", "rsi:1h:window=14")
    page.wait_for_function(f"{PLOT}.data.some(t => t.name === 'rsi:1h:window=14')", timeout=TIMEOUT_MS)
    page.keyboard.press("Escape")  # the dropdown closed before the picture
    expect(page).to_have_url(re.compile(r"/data\?exchange=oanda&symbol=EUR%2FUSD&level=1h"
                                        r"&factor=rsi%3A1h%3Awindow%3D14$"))
    snap(page, shots, "data-gaps-factor")

    page.goto(page.url)  # the link a user shares
    for picker, value in (("data-exchange", "oanda"), ("data-symbol", "EUR/USD"), ("data-level", "1h"),
                          ("data-factors", "rsi:1h:window=14")):
        expect(page.locator(f"#{picker}")).to_contain_text(value, timeout=TIMEOUT_MS)
    expect(page.locator("#data-level-note")).to_contain_text("EUR/USD on oanda:")
    page.wait_for_function(f"{PLOT}.data.some(t => t.name === 'rsi:1h:window=14')", timeout=TIMEOUT_MS)
    assert watch.problems == []


# ---------------------------------------------------------------------------------------------------------------
# a perpetual: funding, mark − index basis and open interest under the candles
# ---------------------------------------------------------------------------------------------------------------
PERP = "BTC/USDT:USDT"
PERP_ID = "perp_binanceusdm_BTC-USDT.USDT"
PERP_START = "2023-12-11"  # inside the 30 days of open interest the venue keeps (the simulator's now: 2024-01-08)


@pytest.fixture(scope="module")
def perp_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, dict[str, int]]]:
    """A store holding one perp's 1h bars, mark and index bars, funding and 1h open interest, each recorded by
    the library's recorder through the real ccxt client from the simulated Binance USDⓈ-M; with the number of
    points each line must show (every stored one: the range is far below the budget)."""
    from zvt_crypto.contract.config import load_config
    from zvt_crypto.domain import Bar, FundingRate, IndexPriceBar, MarkPriceBar, OpenInterest
    from zvt_crypto.recorders import (
        BarsRecorder,
        FundingRateRecorder,
        IndexPriceBarsRecorder,
        MarkPriceBarsRecorder,
        OpenInterestRecorder,
    )
    from zvt_crypto.sim import SimulatedExchange

    site = make_site(tmp_path_factory.mktemp("browser-data-perp"), filled=False)
    store = site.store()
    try:
        with SimulatedExchange(seed=7, lifetime=120) as sim:
            config = sim.config(load_config(env={"ZVT_CRYPTO_HOME": str(site.home)}))
            for recorder in (BarsRecorder, MarkPriceBarsRecorder, IndexPriceBarsRecorder, FundingRateRecorder,
                             OpenInterestRecorder):
                leveled = {} if recorder is FundingRateRecorder else {"level": "1h"}
                recorder(store, config).record(exchange="binanceusdm", symbols=[PERP], start=PERP_START,
                                               show_progress=False, **leveled)
        bars = Bar.query_data(entity_ids=[PERP_ID], level="1h", columns=["close"], store=store)
        first, last = bars.index.get_level_values("timestamp")[[0, -1]]
        within = {"entity_ids": [PERP_ID], "start_timestamp": first, "end_timestamp": last + pd.Timedelta("1h")
                  - pd.Timedelta("1ms"), "store": store}
        mark, index = (schema.query_data(level="1h", columns=["close"], **within)["close"]
                       for schema in (MarkPriceBar, IndexPriceBar))
        expected = {"1h": len(bars), "funding rate": len(FundingRate.query_data(columns=["funding_rate"], **within)),
                    "mark − index": len((mark - index).dropna()),
                    "open interest": len(OpenInterest.query_data(level="1h", columns=["open_interest"], **within))}
    finally:
        store.dispose()
    assert all(expected.values()) and expected["1h"] <= 2_000, expected
    with serve_process(site) as running:
        yield running, expected
        status, _stdout, stderr = running.stop()
    assert status == 0, stderr
    assert "Traceback" not in stderr, stderr


def test_a_perp_shows_funding_basis_and_open_interest_under_its_candles(
        page: Any, perp_served: tuple[Served, dict[str, int]], shots: list[Path]) -> None:
    from playwright.sync_api import expect

    served, expected = perp_served
    watch = Watch().attach(page)
    page.goto(f"{served.url}/data?exchange=binanceusdm&symbol={quote(PERP, safe='')}&level=1h")
    expect(page.locator("#data-level-note")).to_contain_text(f"{PERP} on binanceusdm: 1h bars as stored",
                                                             timeout=TIMEOUT_MS)
    traces = {trace["name"]: trace for trace in page.evaluate(
        f"{PLOT}.data.map(t => ({{name: t.name, type: t.type, points: t.x.length, yaxis: t.yaxis || 'y'}}))")}
    assert set(traces) == {"1h", "volume", *expected}, traces
    assert traces["1h"]["type"] == "candlestick"
    assert {name: traces[name]["points"] for name in expected} == expected  # every stored point of the range
    # each line in a row of its own below price and volume, titled
    assert [traces[name]["yaxis"] for name in ("funding rate", "mark − index", "open interest")] == ["y3", "y4",
                                                                                                     "y5"]
    assert page.evaluate(f"{PLOT}._fullLayout.yaxis3.tickformat") == ".3%"  # funding in percent, not "400µ"
    titles = page.evaluate("[...document.querySelectorAll('#data-chart .annotation-text')].map(e => e.textContent)")
    assert titles[:5] == ["price", "volume", "funding rate", "mark − index", "open interest"], titles
    snap(page, shots, "data-perp")
    assert watch.problems == []
