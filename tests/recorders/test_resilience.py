"""Retry, Retry-After, budget and circuit breaker of VenueClient.

The venue here is a tiny stand-in object whose methods raise real ccxt exception classes: it isolates the
policy logic (how many attempts, how long to wait). The real ccxt client against the simulated exchange is
exercised in test_bars.py and test_markets.py.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import random
import textwrap
from pathlib import Path
from typing import Any

import ccxt
import pytest

from zvt_crypto.contract.config import Config, load_config
from zvt_crypto.contract.errors import ConfigError
from zvt_crypto.recorders.resilience import (
    CircuitBreaker,
    CircuitOpenError,
    ClientSettings,
    RequestBudget,
    RetryPolicy,
    VenueClient,
    client_settings,
    venue_client,
)
from zvt_crypto.sim import SimulatedExchange


class FlakyVenue:
    id = "flaky"

    def __init__(self, failures: list[BaseException], headers: dict[str, str] | None = None) -> None:
        self.failures = list(failures)
        self.last_response_headers = headers or {}
        self.calls = 0

    async def fetch_ohlcv(self, *args: Any) -> list[list[float]]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return [[0, 1.0, 1.0, 1.0, 1.0, 1.0]]


def client_for(venue: FlakyVenue, sleeps: list[float], **kwargs: Any) -> VenueClient:
    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return VenueClient(venue, retry=RetryPolicy(attempts=4, initial=0.1, maximum=1.0, jitter=0.0),
                       sleep=record_sleep, **kwargs)


def test_transient_failures_are_retried_with_backoff() -> None:
    venue = FlakyVenue([ccxt.ExchangeNotAvailable("503"), ccxt.RequestTimeout("slow"), ccxt.OperationFailed("-1001")])
    sleeps: list[float] = []
    client = client_for(venue, sleeps)
    assert asyncio.run(client.call("fetch_ohlcv")) == [[0, 1.0, 1.0, 1.0, 1.0, 1.0]]
    assert venue.calls == 4
    assert sleeps == [0.1, 0.2, 0.4]
    assert (client.stats.requests, client.stats.retries, client.stats.failures) == (4, 3, 0)


def test_retry_after_is_honoured() -> None:
    venue = FlakyVenue([ccxt.DDoSProtection("429")], headers={"Retry-After": "7"})
    sleeps: list[float] = []
    asyncio.run(client_for(venue, sleeps).call("fetch_ohlcv"))
    assert sleeps == [7.0]


def test_request_errors_are_not_retried_and_do_not_trip_the_breaker() -> None:
    venue = FlakyVenue([ccxt.BadSymbol("-1121 Invalid symbol")])
    sleeps: list[float] = []
    client = client_for(venue, sleeps)
    with pytest.raises(ccxt.BadSymbol):
        asyncio.run(client.call("fetch_ohlcv"))
    assert venue.calls == 1 and sleeps == []
    assert client.breaker is not None and client.breaker.failures == 0


def test_gives_up_after_the_last_attempt_and_opens_the_breaker() -> None:
    venue = FlakyVenue([ccxt.NetworkError("reset")] * 8)
    breaker = CircuitBreaker("flaky", threshold=2, cooldown=60)
    client = client_for(venue, [], breaker=breaker)
    for _ in range(2):
        with pytest.raises(ccxt.NetworkError):
            asyncio.run(client.call("fetch_ohlcv"))
    assert venue.calls == 8 and breaker.state == "open"
    with pytest.raises(CircuitOpenError, match="flaky: 2 failures in a row"):
        asyncio.run(client.call("fetch_ohlcv"))
    assert venue.calls == 8  # refused without a request
    breaker.opened_at = -1e9  # cool-down over: one trial call is let through and closes it
    assert breaker.state == "half-open"
    venue.failures.clear()
    asyncio.run(client.call("fetch_ohlcv"))
    assert breaker.state == "closed"


def test_junk_result_is_retried_through_check() -> None:
    rows = [[None, None, None, None, None, None]]

    class JunkOnce(FlakyVenue):
        async def fetch_ohlcv(self, *args: Any) -> list[list[Any]]:
            self.calls += 1
            return rows if self.calls == 1 else [[0, 1.0, 1.0, 1.0, 1.0, 1.0]]

    from zvt_crypto.recorders.bars import check_ohlcv

    venue = JunkOnce([])
    client = client_for(venue, [])
    assert asyncio.run(client.call("fetch_ohlcv", check=check_ohlcv))[0][1] == 1.0
    assert client.stats.retries == 1


class FakeClock:
    """Simulated time for the budget: ``sleep`` advances it, so pacing is checked on counts, never on wall time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def grant_times(budget: RequestBudget, clock: FakeClock, n: int) -> list[float]:
    async def run() -> list[float]:
        times = []
        for _ in range(n):
            await budget.acquire()
            times.append(clock.now - 1000.0)
        return times

    return asyncio.run(run())


def most_in_any_window(times: list[float], window: float) -> int:
    """As a venue's rolling limit counts: requests in (t - window, t] (``times`` ascending)."""
    return max(i + 1 - bisect.bisect_right(times, t - window) for i, t in enumerate(times))


@pytest.mark.parametrize(("per_minute", "burst"), [(600, 1), (600, 25), (60, 60), (7, 3)])
def test_budget_never_exceeds_the_budget_in_any_window(per_minute: int, burst: int) -> None:
    clock = FakeClock()
    budget = RequestBudget(per_minute, 60.0, burst, clock=clock, sleep=clock.sleep)
    times = grant_times(budget, clock, 3 * per_minute)
    assert times[:burst] == [0.0] * burst  # an idle bucket lets the burst go at once...
    assert times[burst] > 0.0  # ...and no more
    rate = (per_minute - burst + 1) * (1 - RequestBudget.MARGIN) / 60.0  # a burst is paid for by a slower pace
    most = most_in_any_window(times, 60.0)
    assert most <= per_minute  # never exceeded...
    assert most >= math.floor(burst + rate * 60.0) - 1  # ...and used, less the margin
    assert times[-1] == pytest.approx((3 * per_minute - burst) / rate, rel=1e-6)


def test_default_burst_of_one_paces_below_the_pro_rata_rate_despite_jitter() -> None:
    """The old bucket started with a whole minute of tokens: 2 × the budget in the first minute. Now the pace keeps
    every window of a second or more within its share, even when latency moves requests by up to 15 ms."""
    clock = FakeClock()
    budget = RequestBudget(600, 60.0, clock=clock, sleep=clock.sleep)
    times = grant_times(budget, clock, 1300)
    rng = random.Random(7)
    arrivals = sorted(t + rng.uniform(0.0, 0.015) for t in times)
    for seen in (times, arrivals):
        assert most_in_any_window(seen, 1.0) == 10
        assert 97 <= most_in_any_window(seen, 10.0) <= 100
        assert 585 <= most_in_any_window(seen, 60.0) <= 600


def test_budget_rejects_a_burst_larger_than_the_budget() -> None:
    with pytest.raises(ValueError, match="burst"):
        RequestBudget(10, 60.0, burst=11)


# -- venue_client: the configuration's [exchanges.<id>] keys ------------------------------------------------------
class Named:
    """A ccxt client as far as venue_client cares: its id."""

    def __init__(self, exchange_id: str) -> None:
        self.id = exchange_id


def config_file(tmp_path: Path, body: str) -> Config:
    path = tmp_path / "zvt.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return load_config(path, home=tmp_path / "home", env={})


@pytest.mark.paced  # asserts the default budgets
def test_venue_client_honours_the_config(tmp_path: Path) -> None:
    config = config_file(tmp_path, """
        [exchanges.binance]
        requests_per_minute = 300
        request_burst = 5
        max_retries = 2
        retry_initial_seconds = 0.25
        retry_max_seconds = 8
        breaker_threshold = 3
        breaker_cooldown_seconds = 90
        [exchanges.binance.ccxt]
        timeout = 5000
        """)
    client = venue_client(Named("binance"), config)
    assert client.budget is not None
    assert (client.budget.max_requests, client.budget.period, client.budget.burst) == (300, 60.0, 5)
    assert (client.retry.attempts, client.retry.initial, client.retry.maximum) == (3, 0.25, 8.0)
    assert client.breaker is not None
    assert (client.breaker.name, client.breaker.threshold, client.breaker.cooldown) == ("binance", 3, 90.0)
    other = venue_client(Named("binanceusdm"), config)  # a section applies to its exchange only
    assert other.budget is not None and other.budget.max_requests == 400


@pytest.mark.paced  # asserts the default budgets
def test_venue_defaults_without_a_config() -> None:
    assert client_settings("binance").requests_per_minute == 1200
    assert client_settings("binanceusdm").requests_per_minute == 400
    assert client_settings("some-venue") == ClientSettings()
    client = venue_client(Named("some-venue"))
    assert client.budget is not None and (client.budget.max_requests, client.budget.burst) == (600, 1)
    assert client.retry.attempts == 6 and client.breaker is not None and client.breaker.threshold == 5


def test_zero_budget_leaves_pacing_to_ccxt(tmp_path: Path) -> None:
    config = config_file(tmp_path, """
        [exchanges.flaky]
        requests_per_minute = 0
        """)
    client = venue_client(FlakyVenue([]), config)
    assert client.budget is None
    assert asyncio.run(client.call("fetch_ohlcv")) == [[0, 1.0, 1.0, 1.0, 1.0, 1.0]]


def test_configured_retries_and_breaker_take_effect(tmp_path: Path) -> None:
    config = config_file(tmp_path, """
        [exchanges.flaky]
        max_retries = 2
        retry_initial_seconds = 0
        retry_max_seconds = 0
        breaker_threshold = 1
        """)
    venue = FlakyVenue([ccxt.ExchangeNotAvailable("503")] * 5)
    client = venue_client(venue, config)
    sleeps: list[float] = []

    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    client.sleep = record_sleep
    with pytest.raises(ccxt.ExchangeNotAvailable):
        asyncio.run(client.call("fetch_ohlcv"))
    assert venue.calls == 3 and len(sleeps) == 2  # 1 try + max_retries
    with pytest.raises(CircuitOpenError):  # one failed call opened the breaker
        asyncio.run(client.call("fetch_ohlcv"))
    assert venue.calls == 3


@pytest.mark.paced  # asserts the default budgets
def test_a_burst_above_the_default_budget_is_refused_after_the_merge(tmp_path: Path) -> None:
    config = config_file(tmp_path, """
        [exchanges.binanceusdm]
        request_burst = 500
        """)
    with pytest.raises(ConfigError, match=r"zvt\.toml: \[exchanges\.binanceusdm\] with the defaults of binanceusdm: "
                                          r"request_burst \(500\) exceeds requests_per_minute \(400\)"):
        venue_client(Named("binanceusdm"), config)


def test_a_programmatic_config_is_checked_too(tmp_path: Path) -> None:
    config = Config(home=tmp_path, db_url="sqlite:///x.db", exchanges={"okx": {"max_retries": -1}})
    with pytest.raises(ConfigError, match=r"configuration: \[exchanges\.okx\].*max_retries must be an integer"):
        venue_client(Named("okx"), config)


class CountingBudget(RequestBudget):
    def __init__(self) -> None:
        super().__init__(1_000_000, 60.0)
        self.acquired = 0

    async def acquire(self) -> None:
        self.acquired += 1
        await super().acquire()


def test_budget_paces_every_http_request_of_a_ccxt_client(sim: SimulatedExchange) -> None:
    """The budget sits at ccxt's ``fetch``: after ccxt's own throttle, once per HTTP request (not per call)."""
    import ccxt.async_support as ccxt_async

    async def run() -> tuple[int, int]:
        exchange = ccxt_async.binance(sim.ccxt_options("binance") | {"enableRateLimit": False})
        first, budget = CountingBudget(), CountingBudget()
        try:
            venue_client(exchange)  # a client wrapped twice is paced by the newest budget only
            VenueClient(exchange, budget=first)
            client = VenueClient(exchange, budget=budget)
            await client.call("load_markets")
            await client.call("fetch_ohlcv", "BTC/USDT", "1m", None, 5)
            await client.call("fetch_time")
        finally:
            await exchange.close()
        return first.acquired, budget.acquired

    assert asyncio.run(run()) == (0, len(sim.requests)) == (0, 3)
