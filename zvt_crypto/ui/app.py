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
        yield
        store.dispose()  # at shutdown: the store's connections closed (SQLite checkpoints its WAL)

    server = FastAPI(title="zvt_crypto", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                     lifespan=lifespan)
    server.state.ui = context
    from zvt_crypto.ui.api import api_router
    from zvt_crypto.ui.routes import ui_router

    server.include_router(ui_router())  # before Dash: its catch-all route must come last
    server.include_router(api_router())
    _mount_dash(server, context)
    if settings.token:
        from zvt_crypto.ui.auth import TokenGuard

        server.add_middleware(TokenGuard, token=settings.token)  # outermost: checked before Dash sees a request
    return server


def _mount_dash(server: FastAPI, context: UiContext) -> None:
    import dash
    from dash import Dash, dcc, html

    from zvt_crypto.ui.pages import backtests, factors, jobs, overview, paper

    # Dash's annotation of ``server`` predates its FastAPI backend (a server instance is documented and works)
    app = Dash(__name__, server=server, use_pages=True, pages_folder="",  # type: ignore[arg-type]
               assets_folder=str(ASSETS), title="zvt_crypto", update_title="", suppress_callback_exceptions=True,
               serve_locally=True)
    pages = [
        overview,
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
    _run_first_request_setup(app)


def _run_first_request_setup(app: Any) -> None:
    """Dash's FastAPI backend sets the page router and its clientside script up in hooks it runs only before
    requests to ``/`` and ``/_dash-*``: a first visit straight to a deep link (``/factors?…``) would get a page
    without that script (a TypeError in the console, the page title never set). Run the hooks now, once."""
    for hook in list(app.backend._before_request_funcs):  # private to Dash: no public way to prime it
        hook()
