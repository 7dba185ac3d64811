"""The HTML report of a two-symbol run opened in headless chromium: every metric visible without scrolling inside a
table, human numbers and durations, a price chart per symbol, the trades table, the settings, the data range and
fingerprint; a full-page screenshot goes to the ``shots`` folders (``ZVT_CRYPTO_SCREENSHOTS``) to look at."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import zvt_crypto as zc

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SYMBOLS = ["BTC/USDT", "ETH/USDT"]
TIMEOUT_MS = 20_000


@pytest.fixture
def report(tmp_path: Path) -> tuple[Path, Any]:
    """sma_cross on a week of 1h bars of two pairs recorded from the simulated Binance; its report."""
    with zc.sim() as cfg:
        zc.record("markets", exchange="binance", config=cfg)
        zc.record("bars", exchange="binance", symbols=SYMBOLS, level="1h", start="2024-01-01", config=cfg)
    result = zc.backtest("sma_cross", exchange="binance", symbols=SYMBOLS, level="1h", fee=0.001, slippage=2,
                         params={"fast": 3, "slow": 8})
    return result.report(tmp_path / "run.html"), result


def test_the_report_shows_every_metric_trade_and_setting_in_a_browser(page: Any, report: tuple[Path, Any],
                                                                        shots: list[Path]) -> None:
    path, result = report
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(path.as_uri(), timeout=TIMEOUT_MS)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=TIMEOUT_MS)

    metrics = page.locator("table.metrics")
    shown = metrics.inner_text()
    for key in result.metrics:  # every metric is a row of a table that is not cut off
        assert key.replace("_", " ") in shown, key
    assert metrics.evaluate("t => t.scrollHeight <= t.clientHeight + 1 && t.parentElement.scrollHeight <= "
                            "t.parentElement.clientHeight + 1")
    assert not re.search(r"\de[+-]\d", shown), shown  # no 1e+04
    assert "days" not in shown and ":" not in shown.split("duration", 1)[1].splitlines()[0]  # 23h 53m, not 0 days …
    assert f"{result.metrics['initial_equity']:,.2f}" in shown

    settings = page.locator(".settings").inner_text()
    assert "taker 0.1" in settings and "2bps" in settings, settings
    assert result.fingerprint and result.fingerprint in settings
    assert result.start.strftime("%Y-%m-%d") in settings and result.end.strftime("%Y-%m-%d") in settings

    trades = page.locator("table.trades tbody tr")
    assert trades.count() == len(result.trades) + len(result.open_trades) > 0
    assert set(page.locator("table.trades tbody td.symbol").all_inner_texts()) == set(SYMBOLS)
    assert page.locator("table.trades").inner_text().count("%") >= len(result.trades)  # returns in %

    titles = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.annotations.map(a => a.text)")
    for symbol in SYMBOLS:
        assert any(title.startswith(symbol) for title in titles), titles  # a price chart per symbol
    assert any("Drawdown (%)" in title for title in titles)
    axes = page.evaluate("() => { const l = document.querySelector('.js-plotly-plot')._fullLayout;"
                         " return ['', '2', '3', '4'].map(n => l['xaxis' + n].matches || 'x' + n); }")
    assert len(set(axes)) == 1, axes  # equity, drawdown and both prices on one time axis
    assert errors == []

    for folder in shots:
        page.screenshot(path=str(folder / "report.png"), full_page=True)
    assert pd.Timestamp(result.end) > pd.Timestamp(result.start)
