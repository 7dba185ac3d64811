"""The app factory: one FastAPI app carrying two routers (the UI and the REST API under ``/api/v1``) and the Dash
pages mounted on it (``Dash(server=FastAPI())``, Dash's FastAPI backend).

No I/O happens at import time and nothing global holds the store: :func:`create_app` builds it from the config and
hands it to the pages (closures) and routes (``app.state.ui``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from zvt_crypto import __version__
from zvt_crypto.contract.config import Config
from zvt_crypto.contract.store import Store
from zvt_crypto.ui.context import UiContext
from zvt_crypto.ui.settings import ServeSettings

ASSETS = Path(__file__).parent / "assets"


def create_app(config: Config, settings: ServeSettings | None = None, *, create_store: bool = False) -> FastAPI:
    """The dashboard app over ``config``'s store. ``create_store``: create a SQLite store that does not exist yet
    (the default store under the data home is always created, as the CLI does)."""
    settings = settings or ServeSettings()
    store = Store(config, create=create_store or config.db_url_origin == "default")
    context = UiContext(config=config, store=store, settings=settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await _set_up_dash(dash_app)
        yield
        store.dispose()  # at shutdown: the store's connections closed (SQLite checkpoints its WAL)

    server = FastAPI(title="zvt_crypto", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                     lifespan=lifespan)
    server.state.ui = context
    from zvt_crypto.ui.api_auth import ApiGuard, BodyLimit

    server.state.api_guard = ApiGuard(settings)
    from zvt_crypto.ui.api import api_router, install_api_errors
    from zvt_crypto.ui.routes import ui_router

    server.include_router(ui_router())  # before Dash: its catch-all route must come last
    server.include_router(api_router())
    install_api_errors(server)
    dash_app = _mount_dash(server, context)
    if settings.token:
        from zvt_crypto.ui.auth import TokenGuard

        server.add_middleware(TokenGuard, token=settings.token)  # checked before Dash sees a request
    if settings.cors_origins:  # off unless configured; outside the guard so a preflight (no token) is answered
        from fastapi.middleware.cors import CORSMiddleware

        server.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
                              allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type",
                                                                             "X-ZVT-Signature", "X-ZVT-Timestamp"])
    server.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)  # outermost
    return server


def _mount_dash(server: FastAPI, context: UiContext) -> Any:
    import dash
    from dash import Dash, dcc, html

    from zvt_crypto.ui.pages import backtests, factors, jobs, overview, paper
    from zvt_crypto.ui.pages import data as data_page

    # Dash's annotation of ``server`` predates its FastAPI backend (a server instance is documented and works)
    app = Dash(__name__, server=server, use_pages=True, pages_folder="",  # type: ignore[arg-type]
               assets_folder=str(ASSETS), title="zvt_crypto", update_title="", suppress_callback_exceptions=True,
               serve_locally=True)
    pages = [
        overview,
        data_page,
        factors,
        backtests,
        paper,
        jobs,
    ]
    for page in pages:
        page.register(app, context)
    nav = [dcc.Link(entry["name"], href=entry["path"], className="nav-link", id=f"nav-{entry['name'].lower()}")
           for entry in dash.page_registry.values() if entry["module"] in {page.__name__ for page in pages}]
    app.layout = html.Div([
        html.Header([
            html.Span("zvt_crypto", className="brand"),
            html.Nav(nav),
            html.Span("all times UTC", className="utc-label", title="Every time on these pages is UTC"),
        ], className="top"),
        html.Main(dash.page_container),
    ])
    if context.settings.debug:
        app.enable_dev_tools(debug=True, dev_tools_hot_reload=False)
    return app


async def _set_up_dash(app: Any) -> None:
    """Run Dash's set-up hooks (assets, inline scripts, the pages router) at start-up. Its FastAPI backend runs them
    before a request to "/" or /_dash-* only, so a deep link such as /data as the first request got a page without
    its scripts (a console error, a dead clientside callback). The hooks run once; later calls return at once."""
    import inspect

    for hook in getattr(app.backend, "_before_request_funcs", []):  # Dash 4.4's FastAPI backend (private)
        result = hook()
        if inspect.isawaitable(result):
            await result
