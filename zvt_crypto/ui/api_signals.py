"""The signal webhook: ``POST /api/v1/signals/{account}`` takes a trading signal for a paper account, ``GET
/api/v1/signals`` shows the audit of every signal received.

A signal needs both a token with the ``trade`` scope (who may trade) and the HMAC signature of
:mod:`zvt_crypto.contract.signing` under ``[serve] signal_secret`` (that this body, at this time, came from the
holder of the secret: a token alone, leaked into a proxy log, cannot forge or replay a signal). What is checked
and audited is :func:`zvt_crypto.trader.signal_intake.receive_signal`'s; this module maps its verdict to HTTP:
202 accepted, 401 bad signature or stale timestamp, 409 a client id accepted before, 404 an unknown account,
422 an invalid body or a risk limit, 403 while no signal secret is configured."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from zvt_crypto.contract.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, check_signature
from zvt_crypto.domain.signals import ACCEPTED, REJECTED
from zvt_crypto.ui.api_auth import require_scope
from zvt_crypto.ui.api_read import plain
from zvt_crypto.ui.context import UiContext
from zvt_crypto.ui.settings import ENV_SIGNAL_SECRET, ApiToken

logger = logging.getLogger(__name__)

Trader = Annotated[ApiToken | None, Depends(require_scope("trade"))]
Reader = Annotated[Any, Depends(require_scope("read"))]
_STATUS = {None: 202, "auth": 401, "duplicate": 409, "account": 404, "invalid": 422, "risk": 422, "off": 403}
_EXAMPLE = {"client_id": "tv-42", "symbol": "BTC/USDT", "side": "buy", "size": 0.1, "price": 64000.0}


def signals_router() -> APIRouter:
    router = APIRouter()

    @router.post("/signals/{account}", status_code=202, summary="Receive a signed trading signal for a paper account",
                 openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"type": "object"}, "example": _EXAMPLE}}}})
    async def receive(request: Request, account: str, caller: Trader,
                      signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
                      timestamp: Annotated[str | None, Header(alias=TIMESTAMP_HEADER)] = None) -> JSONResponse:
        from starlette.concurrency import run_in_threadpool

        from zvt_crypto.trader.signal_intake import receive_signal

        context: UiContext = request.app.state.ui
        settings = request.app.state.api_guard.settings
        body = await request.body()  # the raw bytes: the signature is over them, not over re-encoded JSON
        off = settings.signal_secret is None
        if off:
            refused: str | None = f"the signal webhook is off: set {ENV_SIGNAL_SECRET} (or [serve] signal_secret)"
        else:
            refused = check_signature(settings.signal_secret, body, signature, timestamp,
                                      window_seconds=settings.signal_window_seconds)
        outcome = await run_in_threadpool(receive_signal, context.store, account, body,
                                          token=caller.name if caller else None, refused=refused)
        status = _STATUS["off" if off else outcome.kind]
        if outcome.status != ACCEPTED:
            logger.warning("signal %d for %s refused: %s", outcome.id, account, outcome.reason)
        answer = {"id": outcome.id, "status": outcome.status, "reason": outcome.reason}
        return JSONResponse(answer, status_code=status,
                            headers={"WWW-Authenticate": "ZVT-HMAC"} if status == 401 else None)

    @router.get("/signals", summary="The audit of received signals, newest first: accepted or rejected, and why")
    def signals(request: Request, _caller: Reader, account: str | None = None,
                status: Annotated[str | None, Query(pattern=f"^({ACCEPTED}|{REJECTED})$")] = None,
                limit: Annotated[int, Query(ge=1, le=100_000)] = 1000) -> JSONResponse:
        from zvt_crypto.trader.signal_intake import signal_rows

        context: UiContext = request.app.state.ui
        return JSONResponse(plain(signal_rows(context.store, account=account, status=status, limit=limit)))

    return router
