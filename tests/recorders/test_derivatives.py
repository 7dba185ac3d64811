"""Perp series recorded by the real ccxt client from the simulated Binance USDⓈ-M: funding, open interest, mark and
index price bars; and a clear refusal where a venue lacks the data kind."""

from __future__ import annotations

from typing import Any

import ccxt
import ccxt.async_support
import numpy as np
import pandas as pd
import pytest

from tests.clirun import run_cli
from zvt_crypto.contract.config import Config
from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.levels import DAY_MS
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import to_ms
from zvt_crypto.domain import FundingRate, IndexPriceBar, MarkPriceBar, OpenInterest
from zvt_crypto.recorders import (
    FundingRateRecorder,
    IndexPriceBarsRecorder,
    MarkPriceBarsRecorder,
    OpenInterestRecorder,
    Recorder,
    TradesRecorder,
)
from zvt_crypto.recorders.exchange import UnsupportedDataError
from zvt_crypto.sim import SimulatedExchange

from .conftest import HOUR, NOW

PERP = "BTC/USDT:USDT"
EID = "perp_binanceusdm_BTC-USDT.USDT"


def record(recorder: type[Recorder], store: Store, config: Config, **options: Any):
    return recorder(store, config).record(exchange="binanceusdm", symbols=[PERP], show_progress=False, **options)


def usdm(sim: SimulatedExchange) -> ccxt.binanceusdm:
    """The reference: what the venue serves, read with the sync ccxt client."""
    return ccxt.binanceusdm(sim.ccxt_options("binanceusdm") | {"enableRateLimit": False})


def times(frame: pd.DataFrame) -> list[int]:
    return [int(value.value // 1_000_000) for value in frame.index.get_level_values("timestamp")]


def test_funding_rates_every_8h_equal_to_the_venue_and_resumed(sim: SimulatedExchange, sim_store: Store,
                                                              sim_config: Config) -> None:
    summary = record(FundingRateRecorder, sim_store, sim_config)
    assert not summary.failed, str(summary)
    stored = FundingRate.query_data(entity_ids=[EID], store=sim_store)
    # from the first funding after the listing (2023-10-02 00:00) to the venue's now, every 8 hours
    assert times(stored) == list(range(to_ms("2023-10-02"), NOW + 1, 8 * HOUR))
    reference = usdm(sim).fetch_funding_rate_history(PERP, since=0, limit=1000)
    assert [r["timestamp"] for r in reference] == times(stored)
    np.testing.assert_array_equal(stored["funding_rate"].to_numpy(), [r["fundingRate"] for r in reference])
    assert stored["mark_price"].notna().all()
    np.testing.assert_array_equal(stored["mark_price"].to_numpy(), [float(r["info"]["markPrice"]) for r in reference])

    sim.advance(16 * 3600)
    sim.reset_requests()
    again = record(FundingRateRecorder, sim_store, sim_config)
    assert (again.total("rows"), again.total("changed")) == (2, 2)
    sent = [r.params for r in sim.requests if r.path == "/fapi/v1/fundingRate"]
    assert len(sent) == 1 and int(sent[0]["startTime"]) == NOW + 1  # right after the last stored funding
    assert times(FundingRate.query_data(entity_ids=[EID], store=sim_store))[-2:] == [NOW + 8 * HOUR, NOW + 16 * HOUR]


def test_open_interest_hourly_from_29_days_back(sim: SimulatedExchange, sim_store: Store,
                                                sim_config: Config) -> None:
    summary = record(OpenInterestRecorder, sim_store, sim_config, level="1h")
    assert not summary.failed, str(summary)
    stored = OpenInterest.query_data(entity_ids=[EID], level="1h", store=sim_store)
    first = NOW - 29 * DAY_MS  # Binance keeps 30 days: the first run starts 29 days back
    assert times(stored) == list(range(first, NOW, HOUR))  # … to the last closed hour
    client = usdm(sim)
    reference = [*client.fetch_open_interest_history(PERP, "1h", since=first, limit=500),
                 *client.fetch_open_interest_history(PERP, "1h", since=first + 500 * HOUR, limit=500)]
    reference = [r for r in reference if r["timestamp"] < NOW]
    assert [r["timestamp"] for r in reference] == times(stored)
    np.testing.assert_array_equal(stored["open_interest"].to_numpy(), [r["openInterestAmount"] for r in reference])
    np.testing.assert_array_equal(stored["open_interest_value"].to_numpy(),
                                  [r["openInterestValue"] for r in reference])

    served = "5m, 15m, 30m, 1h, 2h, 4h, 6h, 12h, 1d"  # shortest first; no level divides 1m, so no resample hint
    with pytest.raises(UnsupportedDataError, match=f"binanceusdm does not serve 1m open interest; it serves {served}$"):
        record(OpenInterestRecorder, sim_store, sim_config, level="1m")


def test_open_interest_resumes_inside_the_venue_window(sim: SimulatedExchange, sim_store: Store,
                                                       sim_config: Config) -> None:
    record(OpenInterestRecorder, sim_store, sim_config, level="4h", start=NOW - 2 * DAY_MS)
    later = sim.advance(40 * 86_400)  # the last stored row is now older than the venue's 30 days
    sim.reset_requests()
    summary = record(OpenInterestRecorder, sim_store, sim_config, level="4h")
    assert not summary.failed, str(summary)
    sent = [int(r.params["startTime"]) for r in sim.requests if r.path == "/futures/data/openInterestHist"]
    assert sent and min(sent) >= later - 30 * DAY_MS
    stored = times(OpenInterest.query_data(entity_ids=[EID], level="4h", store=sim_store))
    resumed = [t for t in stored if t >= NOW]
    assert resumed == list(range(later - 29 * DAY_MS, later, 4 * HOUR))
    # an explicit start before the window is moved up to it too, instead of failing
    again = record(OpenInterestRecorder, sim_store, sim_config, level="4h", start="2023-10-01")
    assert not again.failed and again.total("changed") == 0


def test_mark_and_index_price_bars_equal_to_the_venue(sim: SimulatedExchange, sim_store: Store,
                                                      sim_config: Config) -> None:
    start = to_ms("2024-01-05")
    client = usdm(sim)
    closes = {}
    for recorder, schema, method, path in (
            (MarkPriceBarsRecorder, MarkPriceBar, "fetch_mark_ohlcv", "/fapi/v1/markPriceKlines"),
            (IndexPriceBarsRecorder, IndexPriceBar, "fetch_index_ohlcv", "/fapi/v1/indexPriceKlines")):
        summary = record(recorder, sim_store, sim_config, level="1h", start=start)
        assert not summary.failed and summary.total("changed") == 72, str(summary)
        assert sim.count(path) == 1  # one page, from the endpoint of that price
        stored = schema.query_data(entity_ids=[EID], level="1h", store=sim_store)
        reference = getattr(client, method)(PERP, "1h", since=start, limit=72)
        assert times(stored) == [row[0] for row in reference] == list(range(start, NOW, HOUR))
        np.testing.assert_array_equal(stored[["open", "high", "low", "close"]].to_numpy(),
                                      np.array([row[1:5] for row in reference], dtype=float))
        closes[schema.__name__] = stored["close"].to_numpy()
    assert not np.array_equal(closes["MarkPriceBar"], closes["IndexPriceBar"])


@pytest.fixture
def requests_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every HTTP request an async ccxt client tries, refused (a spy on ccxt's one network entry point)."""
    made: list[str] = []

    async def no_network(self: Any, url: str, *args: Any, **kwargs: Any) -> Any:
        made.append(url)
        raise AssertionError(f"unexpected request to {url}")

    monkeypatch.setattr(ccxt.async_support.Exchange, "fetch", no_network)
    return made


@pytest.mark.parametrize(("recorder", "options", "message"), [
    (FundingRateRecorder, {}, r"kraken does not offer funding rates through ccxt \(has\['fetchFundingRateHistory'\]"),
    (OpenInterestRecorder, {"level": "1h"}, r"kraken does not offer open interest .*fetchOpenInterestHistory"),
    (MarkPriceBarsRecorder, {"level": "1h"}, r"kraken does not offer mark-price bars .*fetchMarkOHLCV"),
    (IndexPriceBarsRecorder, {"level": "1h"}, r"kraken does not offer index-price bars .*fetchIndexOHLCV"),
])
def test_venue_without_the_capability_is_refused_before_any_request(
        sim_store: Store, sim_config: Config, requests_made: list[str], recorder: type[Recorder],
        options: dict[str, Any], message: str) -> None:
    with pytest.raises(UnsupportedDataError, match=message):
        recorder(sim_store, sim_config).record(exchange="kraken", symbols=["BTC/USD:USD"], show_progress=False,
                                               **options)
    assert requests_made == []


def test_the_request_spy_sees_requests(sim_store: Store, sim_config: Config, requests_made: list[str]) -> None:
    """The control of the test above: a kind kraken offers (trades) does reach the network."""
    with pytest.raises(AssertionError, match="unexpected request"):
        TradesRecorder(sim_store, sim_config).record(exchange="kraken", symbols=["BTC/USD"], show_progress=False)
    assert requests_made and "kraken" in requests_made[0]


@pytest.mark.parametrize(("recorder", "options"), [(FundingRateRecorder, {}), (OpenInterestRecorder, {"level": "1h"}),
                                                   (MarkPriceBarsRecorder, {"level": "1h"}),
                                                   (IndexPriceBarsRecorder, {"level": "1h"})])
def test_a_spot_symbol_is_refused_for_a_derivatives_kind(sim: SimulatedExchange, sim_store: Store,
                                                         sim_config: Config, recorder: type[Recorder],
                                                         options: dict[str, Any]) -> None:
    """ccxt's spot client would answer with the perpetual's series, stored under the spot pair."""
    with pytest.raises(InvalidInputError, match=r"exist for perpetuals and futures only; BTC/USDT on binance is a "
                                                r"spot market: use a perpetual on binanceusdm, e.g. --exchange "
                                                r"binanceusdm --symbol BTC/USDT:USDT"):
        recorder(sim_store, sim_config).record(exchange="binance", symbols=["BTC/USDT"], show_progress=False,
                                               start=NOW - DAY_MS, **options)
    assert [r.path for r in sim.requests] == ["/api/v3/exchangeInfo"]  # nothing asked beyond the markets
    level = {"level": options["level"]} if "level" in options else {}
    assert len(recorder.schema.query_data(store=sim_store, index=None, **level)) == 0


def test_spot_funding_from_python_and_from_the_cli(sim: SimulatedExchange, sim_store: Store, sim_config: Config,
                                                   tmp_path: Any) -> None:
    with pytest.raises(InvalidInputError, match="BTC/USDT on binance is a spot market"):
        FundingRate.record_data(exchange="binance", symbols=["BTC/USDT"], store=sim_store, show_progress=False)
    result = run_cli("--config", str(sim_config.source), "record", "funding", "--exchange", "binance", "--symbol",
                     "BTC/USDT", "--quiet", home=tmp_path / "cli_home")
    assert result.returncode == 1
    assert result.stderr == ("error: funding rates exist for perpetuals and futures only; BTC/USDT on binance is a "
                             "spot market: use a perpetual on binanceusdm, e.g. --exchange binanceusdm --symbol "
                             "BTC/USDT:USDT\n")
    assert len(FundingRate.query_data(store=Store(sim_config), index=None)) == 0
