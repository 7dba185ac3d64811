"""Calling a venue without trusting it: retries, a request budget and a circuit breaker.

* Retries (tenacity): on ccxt ``OperationFailed`` — every transient failure: ``NetworkError`` and its
  subclasses (Binance's HTTP 429/418 arrive as ``DDoSProtection``, not ``RateLimitExceeded``; 5xx as
  ``ExchangeNotAvailable``; slow responses as ``RequestTimeout``) and 5xx with a JSON error body, which ccxt
  raises as plain ``OperationFailed``; and a truncated body, which async ccxt raises as a plain ``ExchangeError``
  caused by aiohttp's ``ClientPayloadError``. Exponential backoff with jitter, never shorter than the venue's
  ``Retry-After``. Any other ``ExchangeError`` (bad symbol, bad request) is not retried: it would fail the same way.
* A venue's ``Retry-After`` holds for the whole client: no task sends a request before it ends (on Binance a
  request during a 418 ban lengthens the ban). One longer than ``retry_after_max_seconds`` is not waited out: the
  call, and every later call of the run, fails with :class:`VenueBannedError` naming the time the ban ends.
* A request budget per exchange that we control, on top of ccxt's own rate limiter: never more than
  ``requests_per_minute`` in any rolling minute, paced rather than bursting. It is applied to every HTTP request
  as it leaves, after ccxt's throttle: ccxt's queue can release requests in a bunch that ours then spaces out, and
  a unified call that makes several requests (``load_markets``) counts each.
* A circuit breaker per exchange: after repeated failures calls fail fast for a cool-down, so one broken
  venue never stalls the others.

All three are configured per exchange in the TOML file (``[exchanges.<id>]``, see :data:`VENUE_DEFAULTS` and
:func:`venue_client`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from zvt_crypto.contract.config import Config, check_client_settings
from zvt_crypto.contract.errors import InvalidInputError, ZvtCryptoError, exception_chain
from zvt_crypto.contract.timeutil import iso, now_ms

log = logging.getLogger(__name__)
T = TypeVar("T")


class CircuitOpenError(ZvtCryptoError):
    """The exchange failed repeatedly; calls are refused until its cool-down ends."""


class VenueBannedError(ZvtCryptoError):
    """The venue asked us (``Retry-After``) to stop requesting for longer than the run may wait: no request is sent
    to it until then."""


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
    # the longest Retry-After waited out; a longer one is a ban the run does not wait for (VenueBannedError)
    retry_after_max: float = 120.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """The back-off before retry ``attempt``, never shorter than the venue's ``retry_after`` (the caller
        refuses one above :attr:`retry_after_max` before asking)."""
        backoff = min(self.maximum, self.initial * 2 ** (attempt - 1)) + random.uniform(0, self.jitter)
        return backoff if retry_after is None else max(backoff, retry_after)


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
    """At most ``max_requests`` in any ``period`` seconds, at most ``burst`` of them back to back: a token bucket
    shared by all tasks of one exchange.

    Why not a bucket of ``max_requests`` tokens that starts full: it lets ``max_requests`` go at once and as many
    again within the period — twice the budget in the first minute, which a venue's rolling limit punishes with
    429s. Here the bucket holds ``burst`` tokens (and starts with them) and refills at
    ``(max_requests - burst + 1) / period`` per second less a :attr:`MARGIN`. Any window of T seconds then holds at
    most ``floor(burst + rate * T)`` requests: ``max_requests`` per ``period``, and with the default ``burst=1``
    no more than the pro-rata share (``max_requests * T / period``, rounded up) in any shorter window.
    """

    #: The pace stays 2 % below the budget. Latency varies, so the venue can see two requests closer together than
    #: we sent them; 2 % leaves 20 ms of slack in a 1-second window and 1.2 s in a minute.
    MARGIN = 0.02

    def __init__(self, max_requests: int = 1200, period: float = 60.0, burst: int = 1, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if max_requests < 1 or period <= 0 or not 1 <= burst <= max_requests:
            raise InvalidInputError(f"a request budget needs max_requests >= 1, period > 0 and 1 <= burst <= "
                                    f"max_requests, not {max_requests}, {period}, {burst}")
        self.max_requests, self.period, self.burst = max_requests, period, burst
        self.capacity = float(burst)
        self.rate = (max_requests - burst + 1) * (1 - self.MARGIN) / period
        self.tokens = float(burst)
        self._clock, self._sleep = clock, sleep
        self.updated = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for a token; callers are served in arrival order (the lock is held while waiting)."""
        async with self._lock:
            while True:
                now = self._clock()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1 - 1e-9:  # rounding of now - updated must not leave a sleep of 0 s forever
                    self.tokens -= 1
                    return
                await self._sleep((1 - self.tokens) / self.rate)


def pace_requests(exchange: Any, budget: RequestBudget) -> bool:
    """Make every HTTP request of a ccxt async client wait for ``budget`` first (its ``fetch``, which ccxt calls
    after its own throttle and for each request of a unified call). False if ``exchange`` has no async ``fetch``
    (a stand-in object): the caller then spends one token per call instead."""
    original = getattr(exchange, "fetch", None)
    if original is None or not asyncio.iscoroutinefunction(original):
        return False
    if getattr(original, "budget", None) is not None:  # already paced (by another VenueClient on this client)
        original = original.unpaced

    async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        await budget.acquire()
        return await original(url, method, headers, body)

    fetch.budget, fetch.unpaced = budget, original  # type: ignore[attr-defined]  # marks the pacing wrapper
    exchange.fetch = fetch
    return True


def retryable(exc: BaseException) -> bool:
    import ccxt

    return isinstance(exc, ccxt.OperationFailed) or (isinstance(exc, ccxt.ExchangeError) and _truncated(exc))


def _truncated(exc: BaseException) -> bool:
    """Whether aiohttp's ``ClientPayloadError`` (a body cut short: the connection closed before its
    ``Content-Length``) is in the exception's chain: async ccxt raises it as a plain ``ExchangeError``, which
    would otherwise look like a request the venue refused."""
    try:
        from aiohttp import ClientPayloadError
    except ImportError:  # no async ccxt transport installed
        return False
    return any(isinstance(link, ClientPayloadError) for link in exception_chain(exc))


def _answered_retry_after(exchange: Any, exc: BaseException) -> float | None:
    """The ``Retry-After`` of the response ``exc`` was raised for. ccxt raises an HTTP error without a cause
    (a failed connection is raised ``from`` aiohttp's error, and then the headers on the client are an older
    response's), so only an answered refusal is read."""
    import ccxt

    if exc.__cause__ is not None or not isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded,
                                                         ccxt.ExchangeNotAvailable)):
        return None
    return _retry_after_seconds(exchange)


def forget_markets(exchange: Any) -> None:
    """Drop what ccxt cached of a ``load_markets`` (its markets and the finished loading task), so that the next
    ``load_markets`` sends requests again: after a junk answer ccxt keeps the empty result and would return it
    to every retry without asking the venue."""
    for name in ("markets", "markets_by_id", "markets_loading"):
        if hasattr(exchange, name):
            setattr(exchange, name, None)
    if hasattr(exchange, "reloading_markets"):
        exchange.reloading_markets = False


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
    """A ccxt async client wrapped with retries, a request budget (None: ccxt's rate limiter only) and a circuit
    breaker. Build it from the configuration with :func:`venue_client`."""

    exchange: Any
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    budget: RequestBudget | None = field(default_factory=RequestBudget)
    breaker: CircuitBreaker | None = None
    stats: CallStats = field(default_factory=CallStats)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __post_init__(self) -> None:
        if self.breaker is None:
            self.breaker = CircuitBreaker(self.exchange.id)
        self._paced_at_fetch = self.budget is not None and pace_requests(self.exchange, self.budget)
        # the venue's latest Retry-After, for every task of this client: when it ends (monotonic), when in UTC
        # (epoch ms, for messages) and for how long it was given
        self._banned_until: float = 0.0
        self._ban_end_ms: int = 0
        self._ban_seconds: float = 0.0

    def _ban(self, seconds: float, exc: BaseException) -> None:
        """Record the venue's ``Retry-After`` for every task; raise :class:`VenueBannedError` when it is longer
        than the run waits."""
        until = time.monotonic() + seconds
        if until > self._banned_until:
            self._banned_until, self._ban_end_ms, self._ban_seconds = until, now_ms() + round(seconds * 1000), seconds
        if seconds > self.retry.retry_after_max:
            raise self._banned_error() from exc

    def _banned_error(self) -> VenueBannedError:
        name, until = self.exchange.id, iso(self._ban_end_ms)
        return VenueBannedError(
            f"{name} refused requests until {until} (Retry-After: {self._ban_seconds:.0f} s, longer than the "
            f"{self.retry.retry_after_max:g} s a run waits); nothing more is sent to {name} in this run, because "
            f"requests during a ban lengthen it. Run again after {until} (or raise [exchanges.{name}] "
            "retry_after_max_seconds to wait it out)")

    async def _wait_out_ban(self, covered: float) -> None:
        """Before a request: wait for the end of the venue's Retry-After (unless this task's own back-off,
        ending at ``covered``, already did), or fail if that is longer than the run waits."""
        if self._banned_until <= covered:
            return
        remaining = self._banned_until - time.monotonic()
        if remaining > self.retry.retry_after_max:
            raise self._banned_error()
        if remaining > 0:
            await self.sleep(remaining)

    async def call(self, method: str, *args: Any, check: Callable[[Any], None] | None = None, **kwargs: Any) -> Any:
        """``await exchange.<method>(*args, **kwargs)`` with the policies above. ``check`` validates the result
        and raises ``ccxt.BadResponse`` for a body ccxt accepted but is not data (retried like a failure)."""
        assert self.breaker is not None
        self.breaker.check()
        function = getattr(self.exchange, method)
        retry_after: float | None = None  # of the last failed attempt's answer
        covered = 0.0  # when the back-off this task slept ends (monotonic)

        def wait(state: RetryCallState) -> float:
            nonlocal covered
            delay = self.retry.delay(state.attempt_number, retry_after)
            covered = time.monotonic() + delay
            return delay

        def before_sleep(state: RetryCallState) -> None:
            self.stats.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            log.warning("%s.%s failed (%s: %s); retry %d of %d", self.exchange.id, method,
                        type(exc).__name__, exc, state.attempt_number, self.retry.attempts - 1)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=wait,
            retry=retry_if_exception(retryable),
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._wait_out_ban(covered)
                    if method == "load_markets" and attempt.retry_state.attempt_number > 1:
                        forget_markets(self.exchange)  # else ccxt answers the retry from its failed load
                    if self.budget is not None and not self._paced_at_fetch:
                        await self.budget.acquire()
                    self.stats.requests += 1
                    try:
                        result = await function(*args, **kwargs)
                    except Exception as exc:
                        retry_after = _answered_retry_after(self.exchange, exc)
                        if retry_after is not None:
                            self._ban(retry_after, exc)
                        raise
                    retry_after = None
                    check_json_body(self.exchange)
                    if check is not None:
                        check(result)
        except Exception as exc:
            self.stats.failures += 1
            if retryable(exc):  # a bad symbol is the caller's error, not a sign the venue is down
                self.breaker.failure()
            raise
        self.breaker.success()
        return result


@dataclass(frozen=True)
class ClientSettings:
    """The ``[exchanges.<id>]`` keys that shape a :class:`VenueClient` (names as in the TOML file)."""

    requests_per_minute: int = 600  # 0: no budget of ours
    request_burst: int = 1
    max_retries: int = 5
    retry_initial_seconds: float = 0.5
    retry_max_seconds: float = 30.0
    breaker_threshold: int = 5
    breaker_cooldown_seconds: float = 60.0
    retry_after_max_seconds: float = 120.0  # a longer Retry-After (a ban) fails the run instead of being waited out


#: Per-venue defaults under the user's ``[exchanges.<id>]`` keys; any other exchange gets :class:`ClientSettings`'
#: (600 requests a minute). Budgets stay well below each venue's published public limits (2024), because the venue
#: counts every client on the IP and some count weight, not requests.
VENUE_DEFAULTS: dict[str, dict[str, Any]] = {
    # spot: 6000 weight a minute; klines cost 2, so 1200 requests use at most 2400 (exchangeInfo costs 20)
    "binance": {"requests_per_minute": 1200},
    # USDⓈ-M: 2400 weight a minute; klines of 500-1000 bars cost 5 → 400 requests ≤ 2000 weight
    "binanceusdm": {"requests_per_minute": 400},
    "bybit": {"requests_per_minute": 1200},  # 600 requests per 5 s per IP
    "okx": {"requests_per_minute": 480},  # history-candles: 20 requests per 2 s
    "coinbase": {"requests_per_minute": 480},  # public endpoints: 10 requests/s
    "kraken": {"requests_per_minute": 50},  # public calls: about 1 a second
    "upbit": {"requests_per_minute": 480},  # quotation API: 10 requests/s
}


def client_settings(exchange_id: str, config: Config | None = None) -> ClientSettings:
    """Defaults, then :data:`VENUE_DEFAULTS`, then the user's ``[exchanges.<exchange_id>]`` keys; validated again
    after the merge (a ``request_burst`` may contradict a default budget)."""
    values = {**asdict(ClientSettings()), **VENUE_DEFAULTS.get(exchange_id, {})}
    where = f"the defaults of {exchange_id}"
    if config is not None:
        values.update(config.client_settings(exchange_id))
        where = f"{config.source or 'configuration'}: [exchanges.{exchange_id}] with {where}"
    check_client_settings(values, where)
    return ClientSettings(**values)


def venue_client(exchange: Any, config: Config | None = None) -> VenueClient:
    """The :class:`VenueClient` for a ccxt client, with the budget, retry policy and circuit breaker its exchange
    is configured with (:func:`client_settings`). The recorders build every client through this."""
    settings = client_settings(exchange.id, config)
    budget = None
    if settings.requests_per_minute:
        budget = RequestBudget(settings.requests_per_minute, 60.0, settings.request_burst)
    # the jitter never exceeds the first back-off: a policy of 10 ms retries must not wait half a second each
    retry = RetryPolicy(attempts=settings.max_retries + 1, initial=settings.retry_initial_seconds,
                        maximum=settings.retry_max_seconds,
                        jitter=min(RetryPolicy.jitter, settings.retry_initial_seconds),
                        retry_after_max=settings.retry_after_max_seconds)
    breaker = CircuitBreaker(exchange.id, settings.breaker_threshold, settings.breaker_cooldown_seconds)
    return VenueClient(exchange, retry=retry, budget=budget, breaker=breaker)


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception of ``exc``'s chain (:func:`exception_chain`)."""
    return list(exception_chain(exc))[-1]


def venue_failure_advice(exchange_id: str | None, exc: BaseException) -> str:
    """What to do after a venue kept failing, by the kind of failure: one wording for the recorders' summaries
    and the CLI's error lines (a 429 is not an outage, a DNS failure is not the venue's). ``exchange_id``:
    ``None`` when unknown (the advice then names the config section generically)."""
    import ccxt

    cause = root_cause(exc)
    exchange, section = (exchange_id, exchange_id) if exchange_id else ("the venue", "<id>")
    where = f"the urls or proxy in [exchanges.{section}.ccxt]"
    if isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded)):
        return (f"{exchange} kept refusing requests for their rate; lower [exchanges.{section}] "
                "requests_per_minute (or wait for its ban to lift), then run again")
    if isinstance(exc, ccxt.InvalidNonce):
        return f"{exchange} refused the request's nonce or timestamp; check this machine's clock, then run again"
    if isinstance(exc, ccxt.AuthenticationError):
        return (f"{exchange} refused the credentials; check ZVT_CRYPTO_{section.upper()}_API_KEY / _SECRET "
                "(or the config file)")
    if isinstance(cause, socket.gaierror) or "Name or service not known" in str(cause):
        return (f"{exchange}'s host name does not resolve; check {where} and this machine's DNS, then run again")
    if isinstance(exc, ccxt.NetworkError) or retryable(exc):
        reason = f": {type(cause).__name__}: {cause}" if cause is not exc and str(cause) else ""
        return (f"{exchange} is down or unreachable (the venue did not answer{reason}); check its status page, your "
                f"network and {where}, then run again (a rerun resumes after the stored data)")
    return f"{exchange} refused the request; check the symbol and options, then run again"
