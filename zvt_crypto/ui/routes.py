"""The UI router's plain HTTP routes (the Dash pages are mounted by :mod:`zvt_crypto.ui.app`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from zvt_crypto import __version__
from zvt_crypto.contract.config import redact_url


def ui_router() -> APIRouter:
    router = APIRouter(tags=["ui"])

    @router.get("/healthz")
    async def healthz(request: Request) -> dict[str, Any]:
        """Liveness for supervisors and load balancers: public, cheap (no query), the store's URL redacted."""
        context = request.app.state.ui
        return {"status": "ok", "version": __version__, "store": redact_url(context.config.db_url)}

    return router
