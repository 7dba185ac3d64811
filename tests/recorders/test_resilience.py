"""Retry, Retry-After, budget and circuit breaker of VenueClient.

The venue here is a tiny stand-in object whose methods raise real ccxt exception classes: it isolates the
policy logic (how many attempts, how long to wait). The real ccxt client against the simulated exchange is
exercised in test_bars.py and test_markets.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt
import pytest

from zvt_crypto.recorders.resilience import CircuitBreaker, CircuitOpenError, RequestBudget, RetryPolicy, VenueClient


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


def test_budget_spaces_requests() -> None:
    async def run() -> float:
        budget = RequestBudget(max_requests=2, period=0.2)  # 10 requests/s once the 2-token burst is spent
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(5):
            await budget.acquire()
        return loop.time() - start

    elapsed = asyncio.run(run())
    assert 0.25 <= elapsed < 2.0  # 3 tokens at 10/s after the burst ≈ 0.3 s
