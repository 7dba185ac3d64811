"""The REST API under ``/api/v1`` (its routes arrive with issue 16). Like the pages, each route calls a library
function (``zvt_crypto.domain.inventory``, ``zvt_crypto.schedule.status``, …) with the app's store; the UI never
calls this API over HTTP."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

PREFIX = "/api/v1"


def api_router() -> APIRouter:
    """The API's routes; each reads ``request.app.state.ui`` (:class:`zvt_crypto.ui.context.UiContext`) for the
    store, as the pages do. New routes go above the catch-all, which must stay last."""
    router = APIRouter(prefix=PREFIX, tags=["api"])

    @router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def not_found(path: str) -> JSONResponse:
        # without it Dash's catch-all would answer an unknown API path with the dashboard's HTML and a 200
        return JSONResponse({"detail": f"no API route /{path} (see {PREFIX}/docs once the API exists)"},
                            status_code=404)

    return router
