"""API security against ``zvt-crypto serve`` as a real process: tokens with scopes, expiry, rate limits, the body
size limit, CORS off unless configured, and no secret in an answer, a log line or the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.apiclient import call
from tests.ui.conftest import Served, make_site, serve_process
from zvt_crypto.contract.config import load_config
from zvt_crypto.contract.errors import ConfigError

pytestmark = pytest.mark.slow

SERVE = "serve-token-0123456789abcdef"
READER = "reader-token-0123456789abcd"
WRITER = "writer-token-0123456789abcd"
EXPIRED = "expired-token-0123456789abc"
LIMITED = "limited-token-0123456789abc"
ENV_TRADER = "env-trader-token-0123456789"
SECRETS = (SERVE, READER, WRITER, EXPIRED, LIMITED, ENV_TRADER)
TOKENS_TOML = f"""
[serve]
max_request_bytes = 1000

[serve.tokens.grafana]
token = "{READER}"
scopes = ["read"]

[serve.tokens.loader]
token = "{WRITER}"
scopes = ["write"]

[serve.tokens.old]
token = "{EXPIRED}"
scopes = ["read"]
expires = "2020-01-01T00:00:00Z"

[serve.tokens.slow]
token = "{LIMITED}"
scopes = ["read"]
rate = 0.01
burst = 2
"""
OPENAPI = "/api/v1/openapi.json"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, list[str]]]:
    """Beyond loopback with a serve token and four scoped tokens (one from the environment); request logs on.
    Yields the server and, once the module's tests ran, nothing more: the output is checked by the last test."""
    site = make_site(tmp_path_factory.mktemp("guarded"), filled=False, extra_toml=TOKENS_TOML)
    env = {"ZVT_CRYPTO_SERVE_TOKEN": SERVE, "ZVT_CRYPTO_API_TOKEN_BOT": f"trade:{ENV_TRADER}"}
    output: list[str] = []
    with serve_process(site, "--host", "0.0.0.0", "--debug", env=env) as served:
        yield served, output


def test_missing_token_is_refused_with_how_to_send_one(guarded: tuple[Served, list[str]]) -> None:
    served, _ = guarded
    answer = call(served.url + OPENAPI)
    assert answer.status == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer <token>" in answer.json()["detail"]
    assert call(served.url + "/healthz").status == 200  # the one public path


def test_a_wrong_token_is_refused_and_not_echoed(guarded: tuple[Served, list[str]]) -> None:
    served, _ = guarded
    for wrong in ("nope", READER[:-1], READER + "x"):
        answer = call(served.url + OPENAPI, wrong)
        assert answer.status == 401 and "wrong access token" in answer.json()["detail"]
        assert wrong not in answer.text
    assert call(served.url + OPENAPI, headers={"Authorization": f"Basic {READER}"}).status == 401
    assert call(f"{served.url}{OPENAPI}?token={READER}").status == 401  # never from a URL


def test_scopes(guarded: tuple[Served, list[str]]) -> None:
    served, _ = guarded
    assert call(served.url + OPENAPI, READER).status == 200
    assert call(served.url + OPENAPI, SERVE).status == 200  # the serve token has every scope
    for token, name, has in ((WRITER, "loader", "write"), (ENV_TRADER, "bot", "trade")):
        answer = call(served.url + OPENAPI, token)
        assert answer.status == 403
        assert answer.json()["detail"] == (f"the access token {name!r} lacks the 'read' scope (it has {has}); add it "
                                           f"to scopes under [serve.tokens.{name}]")


def test_the_dashboard_cookie_opens_the_docs_page_but_not_the_data(guarded: tuple[Served, list[str]]) -> None:
    """A signed-in browser may read the docs; data calls need a Bearer token (a cookie would invite CSRF)."""
    from zvt_crypto.ui.auth import COOKIE, session_value

    served, _ = guarded
    signed_in = {"Cookie": f"{COOKIE}={session_value(SERVE)}"}
    assert call(served.url + "/api/v1/docs", headers=signed_in).status == 200
    assert call(served.url + OPENAPI, headers=signed_in).status == 200
    assert call(served.url + "/api/v1/runs", headers=signed_in).status == 401
    assert call(served.url + "/api/v1/docs", headers={"Cookie": f"{COOKIE}=forged"}).status == 401


def test_other_api_paths_stay_behind_the_dashboard_guard(guarded: tuple[Served, list[str]]) -> None:
    """Only /api/v1/ routes check their own callers; /api/v2/… must not reach Dash's catch-all page unguarded."""
    served, _ = guarded
    answer = call(served.url + "/api/v2/bars", headers={"Accept": "text/html"})
    assert answer.status == 401 and answer.headers["www-authenticate"] == "Bearer"


def test_an_expired_token_is_refused(guarded: tuple[Served, list[str]]) -> None:
    served, _ = guarded
    answer = call(served.url + OPENAPI, EXPIRED)
    assert answer.status == 401
    assert answer.json()["detail"].startswith("the access token 'old' expired at 2020-01-01T00:00:00")


def test_a_token_over_its_rate_gets_429_with_retry_after(guarded: tuple[Served, list[str]]) -> None:
    served, _ = guarded
    statuses = [call(served.url + OPENAPI, LIMITED) for _ in range(3)]
    assert [answer.status for answer in statuses] == [200, 200, 429]
    assert int(statuses[-1].headers["retry-after"]) >= 1 and "rate limit of token 'slow'" in statuses[-1].text
    assert call(served.url + OPENAPI, READER).status == 200  # the bucket is per token


def test_a_body_over_the_limit_gets_413(guarded: tuple[Served, list[str]]) -> None:
    served, _ = guarded
    answer = call(served.url + "/api/v1/anything", SERVE, method="POST", data=b"x" * 1001)
    assert answer.status == 413 and "max_request_bytes" in answer.json()["detail"]
    assert call(served.url + "/api/v1/anything", SERVE, method="POST", data=b"x" * 1000).status == 404


def test_a_chunked_body_over_the_limit_gets_413_when_read() -> None:
    """A body without Content-Length is counted as the route reads it (the guard's own ASGI app here)."""
    import asyncio

    from starlette.requests import Request
    from starlette.responses import PlainTextResponse

    from zvt_crypto.ui.api_auth import BodyLimit

    async def reading_app(scope: Any, receive: Any, send: Any) -> None:
        body = await Request(scope, receive).body()
        await PlainTextResponse(f"read {len(body)}")(scope, receive, send)

    async def post(chunks: list[bytes]) -> list[Any]:
        messages = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
                    for i, chunk in enumerate(chunks)]
        sent: list[Any] = []

        async def receive() -> Any:
            return messages.pop(0)

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/api/v1/x", "headers": [], "query_string": b""}
        await BodyLimit(reading_app, max_bytes=1000)(scope, receive, send)
        return sent

    refused = asyncio.run(post([b"x" * 600, b"x" * 600]))
    assert refused[0]["status"] == 413 and b"max_request_bytes" in refused[1]["body"]
    admitted = asyncio.run(post([b"x" * 500, b"x" * 500]))
    assert admitted[0]["status"] == 200 and admitted[1]["body"] == b"read 1000"


def test_cors_is_off_unless_configured(guarded: tuple[Served, list[str]]) -> None:
    served, _ = guarded
    origin = {"Origin": "https://evil.example"}
    answer = call(served.url + OPENAPI, READER, headers=origin)
    assert answer.status == 200 and "access-control-allow-origin" not in answer.headers
    preflight = call(served.url + OPENAPI, method="OPTIONS",
                     headers={**origin, "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers


def test_the_openapi_document_and_docs_page(guarded: tuple[Served, list[str]]) -> None:
    served, _ = guarded
    answer = call(served.url + OPENAPI, READER)
    document = answer.json()
    assert document["info"]["title"] == "zvt_crypto API"
    assert all(path.startswith("/api/v1/") for path in document["paths"])
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert not any(secret in answer.text for secret in SECRETS)
    docs = call(served.url + "/api/v1/docs", READER)
    assert docs.status == 200 and "swagger-ui" in docs.text and OPENAPI in docs.text


def test_zz_no_secret_in_the_logs(guarded: tuple[Served, list[str]]) -> None:
    """Last in the module: stops the server (request logs on) and reads all it printed."""
    served, _ = guarded
    call(served.url + OPENAPI, "wrong-token-0123456789")
    status, stdout, stderr = served.stop()
    assert status == 0
    assert "GET /api/v1/openapi.json" in stderr + stdout  # the access log was on
    assert "unknown token" in stderr
    assert not [secret for secret in SECRETS if secret in stdout + stderr]


# -- loopback, CORS configured, and what needs a token where ------------------------------------------------------
def test_on_loopback_without_a_serve_token_reads_are_open_and_cors_when_configured(tmp_path: Path) -> None:
    toml = f'[serve]\ncors_origins = ["https://grafana.example"]\n[serve.tokens.grafana]\ntoken = "{READER}"\n' \
           'scopes = ["read"]\n'
    site = make_site(tmp_path, filled=False, extra_toml=toml)
    with serve_process(site) as served:
        assert call(served.url + OPENAPI).status == 200
        assert call(served.url + OPENAPI, "wrong-token-0123456789").status == 401  # a token sent must be right
        answer = call(served.url + OPENAPI, headers={"Origin": "https://grafana.example"})
        assert answer.headers["access-control-allow-origin"] == "https://grafana.example"
        assert "access-control-allow-origin" not in call(served.url + OPENAPI,
                                                         headers={"Origin": "https://evil.example"}).headers
        preflight = call(served.url + OPENAPI, method="OPTIONS", headers={
            "Origin": "https://grafana.example", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
        assert preflight.status == 200 and preflight.headers["access-control-allow-origin"] == "https://grafana.example"
        served.stop()


def test_write_and_trade_always_need_a_token() -> None:
    from fastapi import HTTPException

    from zvt_crypto.ui.api_auth import ApiGuard
    from zvt_crypto.ui.settings import ServeSettings

    guard = ApiGuard(ServeSettings())  # loopback, no token at all
    assert guard.admit(None, "read", "127.0.0.1") is None
    for scope in ("write", "trade"):
        with pytest.raises(HTTPException) as caught:
            guard.admit(None, scope, "127.0.0.1")
        assert caught.value.status_code == 401 and "ZVT_CRYPTO_SERVE_TOKEN" in caught.value.detail


def test_every_api_route_requires_a_scope(tmp_path: Path) -> None:
    """A route added without require_scope(…) would be open to anyone who reaches the service."""
    from fastapi.routing import iter_route_contexts

    from zvt_crypto.ui.app import create_app

    site = make_site(tmp_path, filled=False)
    app = create_app(load_config(site.config_file, env={}))
    api_routes = [route for route in iter_route_contexts(app.routes) if (route.path or "").startswith("/api/")]
    assert len(api_routes) >= 17  # the read routes, the OpenAPI document, its page and the catch-all
    unguarded = [route.path for route in api_routes if not any(
        getattr(dependency.call, "scope", None) for dependency in route.dependant.dependencies)]
    assert unguarded == []
    app.state.ui.store.dispose()


# -- settings ----------------------------------------------------------------------------------------------------
def _settings(tmp_path: Path, toml: str, env: dict[str, str] | None = None) -> Any:
    from zvt_crypto.ui.settings import load_serve_settings

    config_file = tmp_path / "zvt.toml"
    config_file.write_text(toml, encoding="utf-8")
    return load_serve_settings(load_config(config_file, env=env or {}))


def test_tokens_from_the_file_and_the_environment_never_in_a_repr(tmp_path: Path) -> None:
    settings = _settings(tmp_path, TOKENS_TOML, {"ZVT_CRYPTO_API_TOKEN_GRAFANA": f"read,write:{ENV_TRADER}",
                                                 "ZVT_CRYPTO_SERVE_TOKEN": SERVE})
    tokens = {api.name: api for api in settings.all_api_tokens}
    assert sorted(tokens) == ["grafana", "loader", "old", "serve", "slow"]
    assert tokens["grafana"].secret == ENV_TRADER and tokens["grafana"].scopes == {"read", "write"}  # env wins
    assert tokens["serve"].scopes == {"read", "write", "trade"}
    assert tokens["slow"].rate == 0.01 and tokens["slow"].burst == 2 and tokens["old"].expires_ms == 1577836800000
    shown = repr(settings) + str(list(tokens.values()))
    assert not [secret for secret in SECRETS if secret in shown] and "'grafana'" in shown


@pytest.mark.parametrize(("toml", "env", "error"), [
    (f'[serve.tokens.a]\ntoken = "{READER}"\nscopes = ["admin"]\n', {}, "unknown scope(s) admin"),
    (f'[serve.tokens.a]\ntoken = "{READER}"\n', {}, "scopes must be a non-empty list of read, write, trade"),
    ('[serve.tokens.a]\ntoken = "short"\nscopes = ["read"]\n', {}, "shorter than 16 characters"),
    (f'[serve.tokens.a]\ntoken = "{READER}"\nscopes = ["read"]\nexpires = "soon"\n', {}, "is not a time"),
    (f'[serve.tokens.a]\ntoken = "{READER}"\nscopes = ["read"]\nrate = -1\n', {}, "rate must be a number ≥ 0"),
    (f'[serve.tokens.a]\ntoken = "{READER}"\nscopes = ["read"]\nscope = 1\n', {}, "unknown key(s) scope"),
    ("[serve]\ncors_origins = \"*\"\n", {}, "cors_origins must be a list of origins"),
    ("", {"ZVT_CRYPTO_API_TOKEN_X": READER}, "must be <scope>[,<scope>…]:<token>"),
    ("", {"ZVT_CRYPTO_API_TOKEN_X": f"read:{SERVE}", "ZVT_CRYPTO_SERVE_TOKEN": SERVE}, "the serve token's secret"),
])
def test_bad_token_settings_say_what_to_fix(tmp_path: Path, toml: str, env: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _settings(tmp_path, toml, env)
    assert error in str(caught.value) and not [secret for secret in SECRETS if secret in str(caught.value)]
