"""The access-token guard of the dashboard: a login form and an HTTP-only cookie for browsers. API paths pass on to
the API's own check (:func:`zvt_crypto.ui.api_auth.require_scope`: a Bearer token with scopes on every route).

Why the cookie holds an HMAC of the token rather than the token: a cookie that leaks (a shared browser profile, a
proxy's log) then lets its holder into this dashboard but never reveals the token itself. Every comparison is
constant-time (:func:`hmac.compare_digest`). ``/healthz`` stays public so a supervisor can probe the service."""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

logger = logging.getLogger(__name__)

COOKIE = "zvt_crypto_session"
PUBLIC_PATHS = frozenset({"/healthz", "/login", "/favicon.ico"})
API_PREFIX = "/api/v1/"  # each route there checks its caller (require_scope); any other path needs the cookie
_COOKIE_DAYS = 30
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def session_value(token: str) -> str:
    """What the cookie holds: an HMAC of the token (see the module docstring)."""
    return hmac.new(token.encode(), b"zvt-crypto dashboard session", hashlib.sha256).hexdigest()


def same(given: str | None, expected: str) -> bool:
    """Constant-time equality of two secrets (a missing one is never equal)."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def signed_in(connection: HTTPConnection, session: str) -> bool:
    """Whether the request carries the dashboard's session cookie (the HMAC of the serve token)."""
    return same(connection.cookies.get(COOKIE), session)


def safe_next(target: str | None) -> str:
    """A local path to return to after the login (never another site: ``//host`` or a scheme is refused)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_page(next_path: str, failed: bool = False) -> HTMLResponse:
    message = '<p class="error" role="alert">That token is not right; try again.</p>' if failed else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>zvt_crypto — sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;background:#f5f6f8;display:flex;justify-content:center;
padding-top:12vh}} form{{background:#fff;padding:2em 2.5em;border-radius:8px;box-shadow:0 1px 4px #0002;
width:22em}} h1{{font-size:1.3em;margin-top:0}} input[type=password]{{width:100%;padding:.5em;margin:.5em 0 1em;
box-sizing:border-box}} button{{padding:.5em 1.5em}} .error{{color:#b00020}} p.hint{{color:#555;font-size:.9em}}
</style></head><body>
<form method="post" action="/login">
<h1>zvt_crypto dashboard</h1>{message}
<label for="token">Access token</label>
<input type="password" id="token" name="token" autocomplete="current-password" autofocus required>
<input type="hidden" name="next" value="{html.escape(next_path, quote=True)}">
<button type="submit">Sign in</button>
<p class="hint">The token is ZVT_CRYPTO_SERVE_TOKEN, or token under [serve] in the server's config file.</p>
</form></body></html>"""
    return HTMLResponse(body, status_code=401 if failed else 200)


class TokenGuard:
    """ASGI middleware admitting a request with the session cookie; API paths are checked by their routes."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token
        self._session = session_value(token)

    def __repr__(self) -> str:
        return "TokenGuard(token=***)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        path = scope["path"]
        if scope["type"] == "http" and path == "/login":
            await self._login(Request(scope, receive))(scope, receive, send)
            return
        if scope["type"] == "http" and path == "/logout":
            response: Response = RedirectResponse("/login", status_code=303)
            response.delete_cookie(COOKIE, path="/")
            await response(scope, receive, send)
            return
        if path in PUBLIC_PATHS or path.startswith(API_PREFIX) or self._admitted(connection):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":  # refused before the handshake completes
            await send({"type": "websocket.close", "code": 4401})
            return
        await self._refusal(Request(scope, receive))(scope, receive, send)

    def _admitted(self, connection: HTTPConnection) -> bool:
        return signed_in(connection, self._session)

    def _refusal(self, request: Request) -> Response:
        path = request.url.path
        if path.startswith("/api/"):  # not a page: no redirect to the login form
            return JSONResponse({"detail": "not signed in: the API is under /api/v1/ with 'Authorization: Bearer "
                                           "<token>'"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return JSONResponse({"detail": "not signed in: open /login"}, status_code=401)

    def _login(self, request: Request) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        async def respond(scope: Scope, receive: Receive, send: Send) -> None:
            if request.method != "POST":
                await login_page(safe_next(request.query_params.get("next")))(scope, receive, send)
                return
            form = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
            given = (form.get("token") or [""])[0]
            target = safe_next((form.get("next") or ["/"])[0])
            if not same(given, self._token):
                logger.warning("dashboard sign-in refused (wrong token) from %s",
                               request.client.host if request.client else "?")
                await login_page(target, failed=True)(scope, receive, send)
                return
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, self._session, max_age=_COOKIE_DAYS * 86_400, path="/", httponly=True,
                                samesite="strict", secure=request.url.scheme == "https")
            await response(scope, receive, send)

        return respond
