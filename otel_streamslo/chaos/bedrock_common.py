"""What the two Bedrock runtime dialects share: error shapes, in-stream exceptions, odd frames."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Callable, Optional

from otel_streamslo.chaos.dialect import Dialect, any_model
from otel_streamslo.chaos.eventstream import event_message, exception_message
from otel_streamslo.chaos.plan import Frame, Step, StreamPlan

__all__ = [
    "MEDIA_TYPE",
    "STREAM_EXCEPTIONS",
    "BedrockFrames",
    "dialect",
    "error_body",
    "error_headers",
    "exception_frame",
    "invocation_metrics",
    "malformed_frame",
    "unknown_frame",
]

MEDIA_TYPE = "application/vnd.amazon.eventstream"

#: In-stream exception types ``x-chaos-error-type`` accepts (default ``modelStreamErrorException``).
STREAM_EXCEPTIONS: tuple[str, ...] = (
    "modelStreamErrorException",
    "internalServerException",
    "serviceUnavailableException",
    "throttlingException",
    "validationException",
    "modelTimeoutException",
)

_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("ValidationException", "chaos: injected bad request (http_400)."),
    404: ("ResourceNotFoundException", "Not found."),
    405: ("UnknownOperationException", "Method not allowed."),
    429: ("ThrottlingException", "Too many requests, please wait before trying again."),
    500: ("InternalServerException", "The server encountered an internal error."),
    503: ("ServiceUnavailableException", "The service is unavailable. Try again later."),
    529: ("ServiceUnavailableException", "The model is overloaded. Try again later."),
}


def error_body(status: int, message: Optional[str] = None, param: Optional[str] = None) -> dict[str, Any]:
    """Bedrock-shaped error body ``{"message": ...}`` (the type travels in a header)."""
    return {"message": message or _HTTP_ERRORS.get(status, ("", "Internal server error."))[1]}


def error_headers(status: int) -> dict[str, str]:
    """``x-amzn-errortype``: botocore reads the error code from it."""
    name = _HTTP_ERRORS.get(status, ("InternalServerException", ""))[0]
    return {"x-amzn-errortype": f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/"}


def exception_frame(plan: StreamPlan) -> Frame:
    """The in-stream exception of the plan (``x-chaos-error-type``)."""
    kind = plan.error_type or STREAM_EXCEPTIONS[0]
    payload: dict[str, Any] = {"message": f"chaos: injected {kind}."}
    if kind == "modelStreamErrorException":
        payload.update(originalStatusCode=500, originalMessage="The model stream failed.")
    return Frame(exception_message(kind, payload))


def malformed_frame(event_type: str) -> Frame:
    """A well-framed event whose payload is not JSON (botocore's parser fails on it)."""
    return Frame(event_message(event_type, b'{"delta":{"text":"tok'))


def unknown_frame() -> Frame:
    """An event of a type the service model does not define."""
    return Frame(event_message("chaosMystery", {"detail": "an event type the SDK does not know"}))


def invocation_metrics(plan: StreamPlan, sent: int) -> dict[str, int]:
    """``amazon-bedrock-invocationMetrics`` of InvokeModelWithResponseStream's last chunk."""
    return {
        "inputTokenCount": plan.input_tokens,
        "outputTokenCount": sent,
        "invocationLatency": 1,
        "firstByteLatency": 1,
    }


def dialect(
    *,
    endpoint: str,
    prompt: Callable[[Mapping[str, Any]], Any],
    limits: Callable[[Mapping[str, Any]], list[int]],
    stream: Callable[[StreamPlan], Iterator[Step]],
    model_error: Callable[[str], Optional[str]] = any_model,
) -> Dialect:
    """A Bedrock runtime route: always streamed, event-stream framed, model id in the path."""
    return Dialect(
        endpoint=endpoint,
        prompt=prompt,
        limits=limits,
        stream=stream,
        body=None,
        error=error_body,
        error_headers=error_headers,
        request_id_headers=("x-amzn-requestid",),
        media_type=MEDIA_TYPE,
        model_param="model_id",
        streamed=True,
        error_types=STREAM_EXCEPTIONS,
        model_error=model_error,
    )


class BedrockFrames:
    """``error`` and ``unknown`` frames of a Bedrock wire (mixed in before its :class:`TextWire` base)."""

    plan: StreamPlan

    def error(self) -> Frame:
        """The in-stream exception (``x-chaos-error-type``)."""
        return exception_frame(self.plan)

    def unknown(self) -> Frame:
        """An event of a type the service model does not define."""
        return unknown_frame()
