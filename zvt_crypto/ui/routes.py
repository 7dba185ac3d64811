"""The UI router's plain HTTP routes (the Dash pages are mounted by :mod:`zvt_crypto.ui.app`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from zvt_crypto import __version__
from zvt_crypto.contract.config import redact_url

logger = logging.getLogger("zvt_crypto.ui")
#: plotly.js's finance bundle (bar, candlestick, ohlc, scatter, histogram, pie, … : every trace the pages draw),
#: from the npm package plotly.js-finance-dist-min (MIT, static/plotly-LICENSE.txt)
PLOTLY_BUNDLE = Path(__file__).parent / "static" / "plotly-finance-4.1.0.min.js"
#: where Dash's graphs load plotly.js from when it serves its files itself (dash-renderer's own constant)
DASH_PLOTLY_PATH = "/_dash-component-suites/plotly/package_data/plotly.min.js"


def ui_router() -> APIRouter:
    router = APIRouter(tags=["ui"])

    @router.get("/healthz")
    async def healthz(request: Request) -> dict[str, Any]:
        """Liveness for supervisors and load balancers: public, cheap (no query), the store's URL redacted."""
        context = request.app.state.ui
        return {"status": "ok", "version": __version__, "store": redact_url(context.config.db_url)}

    if plotly_bundle_fits():
        @router.get(DASH_PLOTLY_PATH, include_in_schema=False)
        async def plotly_js() -> FileResponse:
            """plotly.js for the pages' graphs: the finance bundle (1.3 MB) in place of Dash's full one (4.8 MB),
            whose evaluation in the browser was most of a chart's first-draw time (≈ 0.7 of 1.6 s on 1M bars)."""
            return FileResponse(PLOTLY_BUNDLE, media_type="text/javascript")

    return router


def plotly_bundle_fits() -> bool:
    """Whether the shipped bundle is the plotly.js line (major.minor) that the installed plotly writes figures
    for; otherwise Dash's own full bundle serves (a newer plotly's figures may use what 4.1 cannot draw)."""
    from plotly.offline import get_plotlyjs_version

    wanted = get_plotlyjs_version()
    shipped = PLOTLY_BUNDLE.name.removeprefix("plotly-finance-").removesuffix(".min.js")
    if wanted.split(".")[:2] == shipped.split(".")[:2]:
        return True
    logger.info("dashboard: plotly wants plotly.js %s, the shipped bundle is %s: serving Dash's full bundle",
                wanted, shipped)
    return False
