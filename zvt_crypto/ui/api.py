"""The REST API under ``/api/v1``. Like the pages, each route calls a library function (``zvt_crypto.domain``,
``zvt_crypto.schedule.status``, …) with the app's store (``request.app.state.ui``); the UI never calls this API over
HTTP. Each group of routes lives in its own module (``api_read``, …) and every route carries a
:func:`zvt_crypto.ui.api_auth.require_scope` dependency."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import iter_route_contexts

from zvt_crypto import __version__
from zvt_crypto.ui.api_auth import require_scope

PREFIX = "/api/v1"
OPENAPI_PATH = f"{PREFIX}/openapi.json"
DOCS_PATH = f"{PREFIX}/docs"


def api_router() -> APIRouter:
    """The API's routes. New groups are included above the catch-all, which must stay last."""
    from zvt_crypto.ui.api_ingest import ingest_router
    from zvt_crypto.ui.api_read import read_router
    from zvt_crypto.ui.api_signals import signals_router

    router = APIRouter(prefix=PREFIX)
    router.include_router(read_router())
    router.include_router(ingest_router())
    router.include_router(signals_router())

    reader_or_signed_in = [Depends(require_scope("read", or_signed_in=True))]

    @router.get("/openapi.json", include_in_schema=False, dependencies=reader_or_signed_in)
    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(api_schema(request.app))

    @router.get("/docs", include_in_schema=False, dependencies=reader_or_signed_in)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_PATH, title="zvt_crypto API")

    @router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False,
                      dependencies=[Depends(require_scope("read"))])
    async def not_found(path: str) -> JSONResponse:
        # without it Dash's catch-all would answer an unknown API path with the dashboard's HTML and a 200
        raise HTTPException(404, f"no API route /{path}: see {DOCS_PATH}")

    return router


def api_schema(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of the ``/api/v1`` routes only (not Dash's nor the pages'), built once per app."""
    cached = getattr(app.state, "api_schema", None)
    if cached is None:
        routes = [route for route in iter_route_contexts(app.routes) if (route.path or "").startswith(PREFIX)]
        cached = get_openapi(title="zvt_crypto API", version=__version__, routes=routes,
                             description="The store of zvt_crypto over HTTP. Send 'Authorization: Bearer <token>'.")
        app.state.api_schema = cached
    return cached


def install_api_errors(app: FastAPI) -> None:
    """A bad parameter of an API call answers 422 with one line saying what to send (FastAPI's own answer, a list
    of pydantic errors, stays for the other paths)."""
    from fastapi.exception_handlers import request_validation_exception_handler
    from fastapi.exceptions import RequestValidationError

    async def one_line(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        if not request.url.path.startswith(PREFIX):
            return await request_validation_exception_handler(request, exc)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("query", "path", "body"))
        message = str(first.get("msg", "invalid input")).rstrip(".")
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        return JSONResponse({"detail": f"{where or 'request'}: {message}{more}; see {DOCS_PATH}"}, status_code=422)

    app.add_exception_handler(RequestValidationError, one_line)
