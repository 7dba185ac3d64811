"""The app factory and its routes, served by uvicorn in a thread: /healthz, the two routers, the token guard."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.ui.conftest import TOKEN, Site, serve_in_thread
from zvt_crypto import __version__
from zvt_crypto.contract.config import load_config
from zvt_crypto.ui.settings import ServeSettings


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is what the test looks at


_opener = urllib.request.build_opener(_NoRedirect)


def call(url: str, *, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
         ) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) of one request; an HTTP error status is an answer, not an exception."""
    body = urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with _opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def _app(site: Site, token: str | None = None, tmp_env: dict[str, str] | None = None) -> Any:
    from zvt_crypto.ui.app import create_app

    config = load_config(site.config_file, env=tmp_env or {})
    return create_app(config, ServeSettings(token=token))


@pytest.fixture
def open_url(site: Site) -> Iterator[str]:
    with serve_in_thread(_app(site)) as url:
        yield url


@pytest.fixture
def guarded_url(site: Site) -> Iterator[str]:
    with serve_in_thread(_app(site, TOKEN)) as url:
        yield url


def test_healthz_says_ok_with_the_version_and_the_store_password_hidden(site: Site) -> None:
    app = _app(site, tmp_env={"ZVT_CRYPTO_DB_URL": f"sqlite:///{site.home / 'zvt_crypto.db'}?password=pw"})
    with serve_in_thread(app) as url:
        status, _headers, body = call(f"{url}/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "version": __version__,
                                "store": f"sqlite:///{site.home / 'zvt_crypto.db'}?password=***"}


def test_ui_and_api_are_two_routers_on_one_app(open_url: str, site: Site) -> None:
    status, headers, body = call(f"{open_url}/jobs")
    assert status == 200 and headers["content-type"].startswith("text/html") and "_dash-renderer" in body
    status, _headers, body = call(f"{open_url}/api/v1/nothing-here")
    assert status == 404 and json.loads(body)["detail"].startswith("no API route /nothing-here")
    status, _headers, body = call(f"{open_url}/_dash-layout")
    assert status == 200 and '"Overview"' in body and '"Jobs"' in body


def test_without_a_token_everything_is_open_on_loopback(open_url: str) -> None:
    assert call(f"{open_url}/")[0] == 200


def test_the_app_factory_keeps_no_store_in_a_module(site: Site) -> None:
    import zvt_crypto.ui.app as app_module
    from zvt_crypto.contract.store import Store

    first, second = _app(site), _app(site)
    assert first.state.ui.store is not second.state.ui.store
    assert not [name for name, value in vars(app_module).items() if isinstance(value, Store)]


def test_the_graphs_get_the_finance_bundle_of_plotly_js(open_url: str) -> None:
    from plotly.offline import get_plotlyjs_version

    from zvt_crypto.ui.routes import DASH_PLOTLY_PATH

    status, headers, body = call(f"{open_url}{DASH_PLOTLY_PATH}")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert "plotly.js (finance - minified) v" + ".".join(get_plotlyjs_version().split(".")[:2]) in body[:200]
    assert 1_000_000 < len(body) < 2_000_000  # not Dash's full bundle (4.8 MB)


def test_a_plotly_of_another_line_gets_dashs_full_bundle(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    import plotly.offline

    from zvt_crypto.ui.routes import DASH_PLOTLY_PATH

    monkeypatch.setattr(plotly.offline, "get_plotlyjs_version", lambda: "9.0.0")
    with serve_in_thread(_app(site)) as url:
        status, _headers, body = call(f"{url}{DASH_PLOTLY_PATH}")
    assert status == 200 and "(finance" not in body[:200] and len(body) > 4_000_000


# -- the token ---------------------------------------------------------------------------------------------------
def test_a_browser_without_the_cookie_is_sent_to_the_login_form(guarded_url: str) -> None:
    status, headers, _body = call(f"{guarded_url}/jobs?job=btc-1h", headers={"Accept": "text/html"})
    assert status == 303 and headers["location"] == "/login?next=%2Fjobs%3Fjob%3Dbtc-1h"
    status, _headers, body = call(f"{guarded_url}/login?next=%2Fjobs")
    assert status == 200 and 'type="password"' in body and 'value="/jobs"' in body
    assert call(f"{guarded_url}/_dash-layout")[0] == 401  # Dash's own requests are refused too


def test_healthz_stays_public(guarded_url: str) -> None:
    assert call(f"{guarded_url}/healthz")[0] == 200


def test_login_sets_an_http_only_same_site_cookie_that_opens_the_pages(guarded_url: str) -> None:
    status, _headers, body = call(f"{guarded_url}/login", data={"token": "wrong-token-0123456789", "next": "/jobs"})
    assert status == 401 and "not right" in body
    status, headers, _body = call(f"{guarded_url}/login", data={"token": TOKEN, "next": "/jobs"})
    assert status == 303 and headers["location"] == "/jobs"
    cookie = SimpleCookie(headers["set-cookie"])["zvt_crypto_session"]
    assert cookie["httponly"] and cookie["samesite"].lower() == "strict"
    assert TOKEN not in headers["set-cookie"]  # an HMAC of the token, never the token
    sent = {"Cookie": f"zvt_crypto_session={cookie.value}", "Accept": "text/html"}
    assert call(f"{guarded_url}/jobs", headers=sent)[0] == 200
    assert call(f"{guarded_url}/_dash-layout", headers=sent)[0] == 200
    assert call(f"{guarded_url}/jobs", headers={"Cookie": "zvt_crypto_session=forged", "Accept": "text/html"}
                )[0] == 303


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_login_never_redirects_to_another_site(guarded_url: str, target: str) -> None:
    status, headers, _body = call(f"{guarded_url}/login", data={"token": TOKEN, "next": target})
    assert status == 303 and headers["location"] == "/"


def test_the_api_needs_a_bearer_token(guarded_url: str) -> None:
    status, headers, body = call(f"{guarded_url}/api/v1/ping")
    assert status == 401 and headers["www-authenticate"] == "Bearer" and "Authorization: Bearer" in body
    assert call(f"{guarded_url}/api/v1/ping", headers={"Authorization": "Bearer nope"})[0] == 401
    assert call(f"{guarded_url}/api/v1/ping", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 404  # reached


def test_tokens_are_compared_in_constant_time(guarded_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    import zvt_crypto.ui.auth as auth

    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(given: bytes, expected: bytes) -> bool:
        compared.append((given, expected))
        return original(given, expected)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    call(f"{guarded_url}/api/v1/ping", headers={"Authorization": "Bearer nope"})
    call(f"{guarded_url}/login", data={"token": "x", "next": "/"})
    call(f"{guarded_url}/", headers={"Cookie": "zvt_crypto_session=forged"})
    assert [given for given, _expected in compared] == [b"nope", b"x", b"forged"]


@pytest.mark.parametrize("debug", [False, True])
def test_dash_debug_mode_only_when_asked(site: Site, debug: bool) -> None:
    from zvt_crypto.ui.app import create_app

    app = create_app(load_config(site.config_file, env={}), ServeSettings(debug=debug))
    with serve_in_thread(app) as url:
        body = call(f"{url}/")[2]
    shown = re.search(r'"ui":\s*(true|false)', body)  # Dash's dev-tools switch in the page's config
    assert shown is not None and shown.group(1) == str(debug).lower()


def test_shutdown_disposes_the_store(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(site)
    store = app.state.ui.store
    disposed: list[bool] = []
    monkeypatch.setattr(store, "dispose", lambda: disposed.append(True))
    with serve_in_thread(app) as url:
        assert call(f"{url}/healthz")[0] == 200
        assert disposed == []
    assert disposed == [True]
