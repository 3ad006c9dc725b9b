"""Assembly of the chaos provider's Starlette app: every dialect's routes, health and the request log."""

from __future__ import annotations

from typing import Optional

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from otel_streamslo.chaos import (
    anthropic_messages,
    bedrock_converse,
    bedrock_invoke,
    gemini,
    openai_chat,
    openai_responses,
)
from otel_streamslo.chaos.dialect import Dialect
from otel_streamslo.chaos.playback import ChaosReset, install_log_filter
from otel_streamslo.chaos.state import ChaosSettings, ChaosState

__all__ = ["ChaosReset", "ChaosSettings", "ChaosState", "build_app", "install_log_filter"]

#: Error shape of unknown paths and methods, by path prefix (first match; else OpenAI's).
_ERROR_DIALECTS: tuple[tuple[str, Dialect], ...] = (
    ("/v1/messages", anthropic_messages.MESSAGES),
    ("/v1beta/", gemini.GEMINI_STREAM),
    ("/v1/models/", gemini.GEMINI_STREAM),
    ("/model/", bedrock_converse.CONVERSE_STREAM),
)


async def healthz(request: Request) -> Response:
    """``GET /healthz``."""
    return JSONResponse({"status": "ok"})


async def chaos_log(request: Request) -> Response:
    """``GET /_chaos/log`` lists served requests; ``DELETE`` clears the list."""
    state: ChaosState = request.app.state.chaos
    if request.method == "DELETE":
        state.reset_log()
        return Response(status_code=204)
    return JSONResponse(state.snapshot())


async def _http_error(request: Request, exc: Exception) -> Response:
    """404 / 405 in the error shape of the dialect the path belongs to."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "Internal server error"
    message = f"{detail}: {request.method} {request.url.path}"
    path = request.url.path
    dialect = next((d for prefix, d in _ERROR_DIALECTS if path.startswith(prefix)), openai_chat.CHAT)
    headers = dialect.error_headers(status)
    return JSONResponse(dialect.error(status, message, None), status, headers=headers)


def routes() -> list[BaseRoute]:
    """Every route of the chaos provider."""
    return [
        *openai_chat.ROUTES,
        *openai_responses.ROUTES,
        *anthropic_messages.ROUTES,
        *gemini.ROUTES,
        *bedrock_converse.ROUTES,
        *bedrock_invoke.ROUTES,
        Route("/healthz", healthz, methods=["GET"]),
        Route("/_chaos/log", chaos_log, methods=["GET", "DELETE"]),
    ]


def build_app(settings: Optional[ChaosSettings] = None, state: Optional[ChaosState] = None) -> Starlette:
    """The chaos provider ASGI app; its :class:`ChaosState` is ``app.state.chaos``."""
    app = Starlette(routes=routes(), exception_handlers={404: _http_error, 405: _http_error})
    app.state.chaos = state or ChaosState(settings)
    return app
