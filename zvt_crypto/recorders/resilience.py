"""Calling a venue without trusting it: retries, a request budget and a circuit breaker.

* Retries (tenacity): on ccxt ``OperationFailed`` — every transient failure: ``NetworkError`` and its
  subclasses (Binance's HTTP 429/418 arrive as ``DDoSProtection``, not ``RateLimitExceeded``; 5xx as
  ``ExchangeNotAvailable``; slow responses as ``RequestTimeout``) and 5xx with a JSON error body, which ccxt
  raises as plain ``OperationFailed``. Exponential backoff with jitter, never shorter than the venue's
  ``Retry-After``. ``ExchangeError`` (bad symbol, bad request) is not retried: it would fail the same way.
* A request budget per exchange that we control, on top of ccxt's own rate limiter.
* A circuit breaker per exchange: after repeated failures calls fail fast for a cool-down, so one broken
  venue never stalls the others.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from zvt_crypto.contract.errors import ZvtCryptoError

log = logging.getLogger(__name__)
T = TypeVar("T")


class CircuitOpenError(ZvtCryptoError):
    """The exchange failed repeatedly; calls are refused until its cool-down ends."""


@dataclass
class CallStats:
    """What one venue client did: shown in the recording summary."""

    requests: int = 0
    retries: int = 0
    failures: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    initial: float = 0.5
    maximum: float = 30.0
    jitter: float = 0.5
    retry_after_cap: float = 120.0  # never sleep longer than this, whatever the venue says

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(self.maximum, self.initial * 2 ** (attempt - 1)) + random.uniform(0, self.jitter)
        if retry_after is not None:
            return max(backoff, min(retry_after, self.retry_after_cap))
        return backoff


class CircuitBreaker:
    """Closed → open after ``threshold`` consecutive failures → half-open after ``cooldown`` s (one trial call)."""

    def __init__(self, name: str, threshold: int = 5, cooldown: float = 60.0) -> None:
        self.name = name
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0
        self.opened_at: float | None = None

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if time.monotonic() - self.opened_at >= self.cooldown else "open"

    def check(self) -> None:
        if self.state == "open":
            remaining = self.cooldown - (time.monotonic() - (self.opened_at or 0))
            raise CircuitOpenError(
                f"{self.name}: {self.failures} failures in a row; requests paused for {remaining:.0f} s more. "
                "Check the venue's status page or your network, then run again"
            )

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()


class RequestBudget:
    """At most ``max_requests`` per ``period`` seconds (a token bucket shared by all tasks of one exchange)."""

    def __init__(self, max_requests: int = 1200, period: float = 60.0) -> None:
        self.capacity = float(max_requests)
        self.rate = max_requests / period
        self.tokens = float(max_requests)
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


def _retryable(exc: BaseException) -> bool:
    import ccxt

    return isinstance(exc, ccxt.OperationFailed)


def check_json_body(exchange: Any) -> None:
    """A 200 whose body is not JSON (an HTML error page from a proxy or CDN) is not data: ccxt turns it into
    empty lists or rows of ``None`` without raising, which would look like "no more data". Raise instead."""
    import ccxt

    body = getattr(exchange, "last_http_response", None)
    if isinstance(body, str) and body.strip() and body.lstrip()[0] not in "[{":
        raise ccxt.BadResponse(f"{exchange.id} answered with a non-JSON body: {body.strip()[:80]!r}")


def _retry_after_seconds(exchange: Any) -> float | None:
    """The ``Retry-After`` header of the last response (ccxt keeps it on the client), in seconds."""
    headers = getattr(exchange, "last_response_headers", None) or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class VenueClient:
    """A ccxt async client wrapped with retries, a request budget and a circuit breaker."""

    exchange: Any
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    budget: RequestBudget = field(default_factory=RequestBudget)
    breaker: CircuitBreaker | None = None
    stats: CallStats = field(default_factory=CallStats)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __post_init__(self) -> None:
        if self.breaker is None:
            self.breaker = CircuitBreaker(self.exchange.id)

    async def call(self, method: str, *args: Any, check: Callable[[Any], None] | None = None, **kwargs: Any) -> Any:
        """``await exchange.<method>(*args, **kwargs)`` with the policies above. ``check`` validates the result
        and raises ``ccxt.BadResponse`` for a body ccxt accepted but is not data (retried like a failure)."""
        assert self.breaker is not None
        self.breaker.check()
        function = getattr(self.exchange, method)

        def wait(state: RetryCallState) -> float:
            return self.retry.delay(state.attempt_number, _retry_after_seconds(self.exchange))

        def before_sleep(state: RetryCallState) -> None:
            self.stats.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            log.warning("%s.%s failed (%s: %s); retry %d of %d", self.exchange.id, method,
                        type(exc).__name__, exc, state.attempt_number, self.retry.attempts - 1)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=wait,
            retry=retry_if_exception(_retryable),
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self.budget.acquire()
                    self.stats.requests += 1
                    result = await function(*args, **kwargs)
                    check_json_body(self.exchange)
                    if check is not None:
                        check(result)
        except Exception as exc:
            self.stats.failures += 1
            if _retryable(exc):  # a bad symbol is the caller's error, not a sign the venue is down
                self.breaker.failure()
            raise
        self.breaker.success()
        return result
