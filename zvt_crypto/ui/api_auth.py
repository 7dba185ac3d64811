"""Who may call the API: the ``require_scope(…)`` dependency every ``/api/v1`` route carries, per-token rate limits,
and the request-size limit.

A token is sent as ``Authorization: Bearer <token>`` (never in a query string: URLs land in logs). Reads need one
when the service binds beyond loopback or has a serve token; ``write`` and ``trade`` always do. Each known secret
is compared in constant time (:func:`zvt_crypto.ui.auth.same`), all of them every time, so the time taken does not
tell which token came close. No secret is ever put in a log line, an error body or the OpenAPI document: errors
and logs name a token by its configured name."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import JSONResponse

from zvt_crypto.contract.timeutil import iso, now_ms
from zvt_crypto.ui.auth import ASGIApp, Receive, Scope, Send, same, session_value, signed_in
from zvt_crypto.ui.settings import HOW_TO_SET, SCOPES, ApiToken, ServeSettings

logger = logging.getLogger(__name__)

#: the OpenAPI security scheme (the docs page's "Authorize" button); it never raises: require_scope answers
_bearer = HTTPBearer(auto_error=False, description="an API token: Authorization: Bearer <token>")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass
class TokenBucket:
    """``rate`` requests per second sustained, ``burst`` at once; :meth:`take` says how long to wait when empty."""

    rate: float
    burst: int
    level: float = field(init=False)
    stamp: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.level = float(max(self.burst, 1))

    def take(self, now: float | None = None) -> float:
        """0 when a request is admitted (one unit taken), else the seconds until the next unit."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self.lock:
            self.level = min(float(max(self.burst, 1)), self.level + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.level >= 1:
                self.level -= 1
                return 0.0
            return (1 - self.level) / self.rate


class ApiGuard:
    """The app's tokens and their buckets (one per app, on ``app.state.api_guard``: no global state)."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self._tokens = settings.all_api_tokens
        self._buckets = {api.name: TokenBucket(api.rate, api.burst) for api in self._tokens}

    def __repr__(self) -> str:
        return f"ApiGuard(tokens={[api.name for api in self._tokens]})"

    def find(self, given: str) -> ApiToken | None:
        """The token whose secret is ``given``; every secret is compared (no early exit)."""
        found = None
        for api in self._tokens:
            if same(given, api.secret):
                found = api
        return found

    def admit(self, given: str | None, scope: str, client: str) -> ApiToken | None:
        """The calling token (None: an anonymous read on loopback), or an :class:`HTTPException` saying why not."""
        needed = scope != "read" or self.settings.read_needs_token
        if given is None:
            if not needed:
                return None
            how = HOW_TO_SET if not self._tokens else "send 'Authorization: Bearer <token>'"
            raise HTTPException(401, f"missing access token (scope {scope!r} needed): {how}", headers=_CHALLENGE)
        api = self.find(given)
        if api is None:
            logger.warning("API call refused (unknown token) from %s", client)
            raise HTTPException(401, "wrong access token: send 'Authorization: Bearer <token>' with a configured "
                                     "token", headers=_CHALLENGE)
        if api.expires_ms is not None and now_ms() >= api.expires_ms:
            logger.warning("API call refused (token %r expired) from %s", api.name, client)
            raise HTTPException(401, f"the access token {api.name!r} expired at {iso(api.expires_ms)}; set a new "
                                     f"expires (or a new token) under [serve.tokens.{api.name}]", headers=_CHALLENGE)
        if scope not in api.scopes:
            raise HTTPException(403, f"the access token {api.name!r} lacks the {scope!r} scope (it has "
                                     f"{', '.join(sorted(api.scopes))}); add it to scopes under "
                                     f"[serve.tokens.{api.name}]")
        wait = self._buckets[api.name].take()
        if wait > 0:
            raise HTTPException(429, f"rate limit of token {api.name!r} ({api.rate:g}/s, burst {api.burst}) "
                                     f"reached: retry after the Retry-After seconds",
                                headers={"Retry-After": str(max(1, math.ceil(wait)))})
        return api


def require_scope(scope: str, *, or_signed_in: bool = False) -> Callable[..., Awaitable[ApiToken | None]]:
    """A FastAPI dependency admitting a caller with ``scope`` (see the module docstring); it returns the token.
    ``or_signed_in``: the dashboard's session cookie admits too (the docs page, opened in a signed-in browser)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; one of {', '.join(SCOPES)}")

    async def caller(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
                     ) -> ApiToken | None:
        guard: ApiGuard = request.app.state.api_guard
        client = request.client.host if request.client else "?"
        token = guard.settings.token
        if or_signed_in and credentials is None and token and signed_in(request, session_value(token)):
            return None
        return guard.admit(credentials.credentials if credentials else None, scope, client)

    caller.scope = scope  # type: ignore[attr-defined]  # what tests read to check every route is guarded
    return caller


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware refusing a request body above ``max_bytes`` with 413: at once from its Content-Length, or
    while it streams in (a chunked body has none)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted_receive() -> MutableMapping[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        async def watched_send(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": f"request body larger than {self.max_bytes} bytes: send less per "
                                           "request, or raise max_request_bytes under [serve]"}, status_code=413)
        await response(scope, receive, send)
