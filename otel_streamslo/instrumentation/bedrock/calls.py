"""The streaming Bedrock operations: which calls to observe, and where their stream is.

botocore generates client methods at runtime; every one calls ``BaseClient._make_api_call
(operation_name, api_params)``, which is patched. Only ``ConverseStream`` and
``InvokeModelWithResponseStream`` of ``bedrock-runtime`` are observed (everything else passes
straight through, after one set lookup). The stream comes back inside the response dict
(``response["stream"]`` / ``response["body"]``, a ``botocore.eventstream.EventStream``); it is
replaced there by :class:`~.stream.EventStreamProxy`.

aiobotocore's ``AioBaseClient._make_api_call`` is a coroutine function of its own (it does not
call botocore's); it is patched the same way, and its ``AioEventStream`` is replaced by
:class:`~.stream.AsyncEventStreamProxy`.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from otel_streamslo.core.calls import (
    Wrapper,
    async_call_wrapper,
    attach_span,
    detach_span,
    new_record,
    sync_call_wrapper,
)
from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.proxy import Adapter
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.core.telemetry import Telemetry
from otel_streamslo.instrumentation.bedrock.converse import ConverseAdapter
from otel_streamslo.instrumentation.bedrock.errors import status_of
from otel_streamslo.instrumentation.bedrock.invoke import INVOKE_ADAPTERS, model_family
from otel_streamslo.instrumentation.bedrock.stream import AsyncEventStreamProxy, EventStreamProxy

logger = logging.getLogger(__name__)

PROVIDER = "aws.bedrock"
SERVICE = "bedrock-runtime"
CONVERSE_STREAM = "ConverseStream"
INVOKE_STREAM = "InvokeModelWithResponseStream"
#: Streaming operation -> the key of its event stream in the response dict.
STREAM_KEYS = {CONVERSE_STREAM: "stream", INVOKE_STREAM: "body"}
#: The event stream's class name (botocore / aiobotocore) -> its proxy.
PROXIES = {False: ("EventStream", EventStreamProxy), True: ("AioEventStream", AsyncEventStreamProxy)}


def server_of(client: Any) -> tuple[Optional[str], Optional[int]]:
    """``server.address`` / ``server.port`` from the client's endpoint URL (default ports filled in)."""
    try:
        url = urlsplit(client.meta.endpoint_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        return url.hostname, port
    except Exception:
        return None, None


def _service(client: Any) -> Any:
    try:
        return client.meta.service_model.service_name
    except Exception:
        return None


def _input(tel: Telemetry, operation: str, params: dict[str, Any]) -> Any:
    """The prompt, only when content capture is opted in."""
    if not tel.settings.capture_content:
        return None
    if operation == CONVERSE_STREAM:
        return params.get("messages")
    try:
        body = json.loads(params.get("body") or b"{}")
        return body.get("messages") or body.get("prompt")
    except Exception:
        return None


class BedrockCall:
    """One streaming call while its request is in flight (the ``Call`` protocol of core.calls)."""

    __slots__ = ("adapter", "asynchronous", "key", "rec", "request_id")

    def __init__(
        self,
        rec: StreamRecord,
        key: str,
        adapter: Callable[[], Adapter],
        request_id: bool,
        asynchronous: bool,
    ) -> None:
        self.rec = rec
        self.key = key
        self.adapter = adapter
        self.request_id = request_id  # the stream carries no response id: the AWS request id stands for it
        self.asynchronous = asynchronous  # aiobotocore

    def enter(self) -> Any:
        return attach_span(self.rec)

    def leave(self, token: Any) -> None:
        detach_span(token)

    def failed(self, exc: BaseException) -> None:
        self.rec.request_failed(exc, status_of(exc))

    def opened(self, result: Any) -> Any:
        try:
            self._open(result)
        except Exception:
            logger.debug("otel_streamslo: wrapping the event stream failed", exc_info=True)
            self.rec.end(Event.EOF)
        return result

    def _open(self, result: Any) -> None:
        meta = result.get("ResponseMetadata") or {}
        status = meta.get("HTTPStatusCode")
        self.rec.opened(status if isinstance(status, int) else 200)
        if self.request_id:
            self.rec.response_info(response_id=meta.get("RequestId"))
        stream = result.get(self.key)
        name, proxy = PROXIES[self.asynchronous]
        if type(stream).__name__ != name:
            logger.debug("otel_streamslo: unexpected %s body %r", self.key, type(stream))
            self.rec.end(Event.EOF)
            return
        adapter = self.adapter()
        result[self.key] = proxy(stream, self.rec, adapter)


def make_begin(
    tel: Telemetry, asynchronous: bool = False
) -> Callable[[Any, tuple[Any, ...], dict[str, Any]], Optional[BedrockCall]]:
    """The begin hook of ``_make_api_call``: a :class:`BedrockCall` for the streaming operations."""

    def begin(client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Optional[BedrockCall]:
        operation = args[0] if args else kwargs.get("operation_name")
        params = args[1] if len(args) > 1 else kwargs.get("api_params")
        if not isinstance(operation, str) or operation not in STREAM_KEYS:
            return None
        if _service(client) != SERVICE or not isinstance(params, dict):
            return None
        model = params.get("modelId")
        family = None
        if operation == CONVERSE_STREAM:
            adapter: Callable[[], Adapter] = ConverseAdapter
        else:
            family = model_family(model)
            if family is None:  # a model family this package cannot read: not observed
                return None
            adapter = INVOKE_ADAPTERS[family]
        rec = new_record(tel, PROVIDER, model, server_of(client), _input(tel, operation, params))
        if rec is None:
            return None
        return BedrockCall(rec, STREAM_KEYS[operation], adapter, family != "anthropic", asynchronous)

    return begin


def _streaming_only(observed: Wrapper) -> Wrapper:
    """A ``_make_api_call`` wrapper that hands the streaming operations to ``observed``.

    Every other operation gets exactly what ``wrapped`` returns (for aiobotocore: the original
    coroutine, no extra coroutine layer).
    """

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        operation = args[0] if args else kwargs.get("operation_name")
        if operation not in STREAM_KEYS:
            return wrapped(*args, **kwargs)
        return observed(wrapped, instance, args, kwargs)

    return wrapper


def make_api_call_wrapper(tel: Telemetry) -> Wrapper:
    """wrapt wrapper of ``BaseClient._make_api_call``: observes the streaming operations only."""
    return _streaming_only(sync_call_wrapper(make_begin(tel)))


def make_async_api_call_wrapper(tel: Telemetry) -> Wrapper:
    """wrapt wrapper of aiobotocore's ``AioBaseClient._make_api_call`` (a coroutine function)."""
    return _streaming_only(async_call_wrapper(make_begin(tel, asynchronous=True)))
