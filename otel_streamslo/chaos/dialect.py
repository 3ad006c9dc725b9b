"""What one wire dialect tells the shared request handling: how to read a request, how to answer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from otel_streamslo.chaos.plan import Step, StreamPlan

__all__ = ["Dialect", "ErrorBody", "any_model", "no_headers"]

#: ``(status, message or None, param or None) -> provider-shaped error body``.
ErrorBody = Callable[[int, Optional[str], Optional[str]], dict[str, Any]]


def no_headers(status: int) -> dict[str, str]:
    """Extra headers of an error response: none."""
    return {}


def any_model(model: str) -> Optional[str]:
    """Every model id is served (no error message)."""
    return None


@dataclass(frozen=True)
class Dialect:
    """One endpoint's wire dialect; the handler in :mod:`.respond` does the rest."""

    #: Name in the request log (``chat.completions``, ``messages``, ``converse_stream``, ...).
    endpoint: str
    #: Validates the dialect's prompt fields; the result sizes the input-token count.
    prompt: Callable[[Mapping[str, Any]], Any]
    #: Token limits the request asks for (the smallest caps the scripted tokens).
    limits: Callable[[Mapping[str, Any]], list[int]]
    #: Steps of a streamed answer.
    stream: Callable[[StreamPlan], Iterator[Step]]
    #: Body of a non-streamed answer and its output tokens (None: the route always streams).
    body: Optional[Callable[[StreamPlan], tuple[dict[str, Any], int]]]
    #: Provider-shaped error body.
    error: ErrorBody
    #: Extra headers of an error response (e.g. Bedrock's ``x-amzn-errortype``).
    error_headers: Callable[[int], dict[str, str]] = no_headers
    #: Status a non-streamed request gets for ``error_frame`` (there is no stream to break).
    error_frame_status: int = 500
    #: Headers that repeat the request id besides ``x-request-id``.
    request_id_headers: tuple[str, ...] = ()
    #: Content type of a streamed answer.
    media_type: str = "text/event-stream"
    #: Path parameter naming the model; None: the body's ``model`` field.
    model_param: Optional[str] = None
    #: Whether the route streams; None: the body's ``stream`` field decides.
    streamed: Optional[bool] = None
    #: Values ``x-chaos-error-type`` accepts (in-stream error kinds); empty: the header is ignored.
    error_types: tuple[str, ...] = field(default=())
    #: Why a (base) model id is not served, or None when it is.
    model_error: Callable[[str], Optional[str]] = any_model
