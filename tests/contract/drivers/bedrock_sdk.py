"""Drivers of Bedrock runtime: ``converse_stream``, ``invoke_model_with_response_stream``.

Sync on boto3 / botocore, async on aiobotocore (when installed: it pins an older botocore, so the
nox ``bedrock`` session runs the newest botocore sync only). The app gets a dict and iterates
``response["stream"]`` (Converse) or ``response["body"]`` (Invoke), a botocore ``EventStream`` /
aiobotocore ``AioEventStream``: only ``raw`` mode, and no ``with`` (neither stream is a (async)
context manager, so neither the ``with`` nor the ``raise`` ending exists). Chaos headers travel
through a ``before-sign`` handler.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from typing import Any, ClassVar, Optional

from tests.contract.drivers.base import Driver, scrub
from tests.contract.faults import FAULTS, Expect

PROMPT = "hello"
# botocore lets urllib3's errors through while a stream is read, aiobotocore aiohttp's (the
# suite does not tell the driver sync from async: either client's class is accepted).
RAISES: dict[str, tuple[str, ...]] = {
    "server_error_event": ("EventStreamError",),
    "connection_dropped": ("ProtocolError", "ClientPayloadError"),
    "idle_timeout": ("ReadTimeoutError", "SocketTimeoutError"),
}
#: aiobotocore installed: the async clients run too.
HAS_AIOBOTOCORE = importlib.util.find_spec("aiobotocore") is not None
STATUS_ERRORS = {
    400: "ValidationException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
    529: "ServiceUnavailableException",
}


@functools.cache
def model_knows(shape: str) -> bool:
    """Whether the installed botocore's bedrock-runtime model defines ``shape``.

    Older models lack ``ServiceUnavailableException``: botocore then raises a plain ``ClientError``
    for an HTTP 503, and an in-stream ``serviceUnavailableException`` gets an empty error code.
    """
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return shape in model.shape_names


def client_kwargs(endpoint_url: str, read_timeout: float) -> dict[str, Any]:
    """``create_client`` kwargs: the chaos endpoint, dummy credentials, no retries."""
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": 1}, read_timeout=read_timeout, connect_timeout=10)
    return {
        "endpoint_url": endpoint_url,
        "region_name": "us-east-1",
        "aws_access_key_id": "x",
        "aws_secret_access_key": "x",
        "config": config,
    }


class Client:
    """A ``bedrock-runtime`` client plus the chaos headers of the next call (a ``with`` closes it)."""

    def __init__(self, endpoint_url: str, read_timeout: float) -> None:
        import boto3

        self.headers: dict[str, str] = {}
        self.raw = boto3.client("bedrock-runtime", **client_kwargs(endpoint_url, read_timeout))
        self.raw.meta.events.register("before-sign.bedrock-runtime.*", self._add_headers)

    def _add_headers(self, request: Any, **kwargs: Any) -> None:
        for name, value in self.headers.items():
            request.headers[name] = value

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.raw.close()


class AsyncClient:
    """An aiobotocore ``bedrock-runtime`` client (``async with`` creates and closes it), headers as above."""

    def __init__(self, endpoint_url: str, read_timeout: float) -> None:
        from aiobotocore.session import get_session

        self.headers: dict[str, str] = {}
        self._creator = get_session().create_client(
            "bedrock-runtime", **client_kwargs(endpoint_url, read_timeout)
        )
        self.raw: Any = None

    def _add_headers(self, request: Any, **kwargs: Any) -> None:
        for name, value in self.headers.items():
            request.headers[name] = value

    async def __aenter__(self) -> AsyncClient:
        self.raw = await self._creator.__aenter__()
        self.raw.meta.events.register("before-sign.bedrock-runtime.*", self._add_headers)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._creator.__aexit__(*exc)


class _Bedrock(Driver):
    """What both operations share."""

    sdk = "botocore"
    provider = "aws.bedrock"
    modes = ("raw",)
    asyncs = (False, True) if HAS_AIOBOTOCORE else (False,)
    endings = ("consume", "close", "break", "drop", "cancel")
    connect_error = "EndpointConnectionError"
    key: ClassVar[str]

    def instrumentor(self) -> Any:
        from otel_streamslo.instrumentation.bedrock import BedrockStreamInstrumentor

        return BedrockStreamInstrumentor()

    def base_url(self, chaos: Any) -> str:
        return str(chaos.base_url)

    def client(self, base_url: str, *, asynchronous: bool, read_timeout: float, tracer_provider: Any) -> Any:
        return (AsyncClient if asynchronous else Client)(base_url, read_timeout)

    def call(self, client: Any) -> Any:
        """The operation on ``client.raw`` (a coroutine on an aiobotocore client)."""
        raise NotImplementedError

    def start(self, client: Any, mode: str, headers: dict[str, str]) -> Any:
        client.headers = headers
        return self.call(client)[self.key]

    async def astart(self, client: Any, mode: str, headers: dict[str, str]) -> Any:
        client.headers = headers
        return (await self.call(client))[self.key]

    async def aclose(self, stream: Any) -> None:
        stream.close()  # AioEventStream.close() is synchronous, as botocore's

    def reason_override(self, fault: str, mode: str) -> Optional[Expect]:
        if fault.startswith("malformed_json"):  # botocore yields the odd event, the body is whole
            return Expect("completed")
        return None

    def exception_names(self, fault: str, mode: str) -> Optional[tuple[str, ...]]:
        expect = self.expect(fault, mode)
        if expect.status is not None and expect.status >= 400:
            name = STATUS_ERRORS[expect.status]
            return (name,) if model_knows(name) else ("ClientError",)
        return RAISES.get(expect.reason)


class BedrockConverse(_Bedrock):
    """``converse_stream()``: the same events for every model."""

    name = "bedrock.converse"
    model = "anthropic.claude-3-haiku-20240307-v1:0"
    key = "stream"
    finish = {
        "none": "end_turn",
        "length": "max_tokens",
        "content_filter": "content_filtered",
        "tool_calls": "tool_use",
    }

    def call(self, client: Any) -> Any:
        return client.raw.converse_stream(
            modelId=self.model,
            messages=[{"role": "user", "content": [{"text": PROMPT}]}],
            inferenceConfig={"maxTokens": 64},
        )

    def reported_usage(self, items: list[Any], mode: str) -> Optional[tuple[int, int]]:
        meta = next((e["metadata"] for e in items if "metadata" in e), None)
        if meta is None:
            return None
        return (meta["usage"]["inputTokens"], meta["usage"]["outputTokens"])

    def response_model(self) -> Optional[str]:
        return None  # Converse reports no model


def payload(item: Any) -> Any:
    """The decoded JSON of an invoke ``chunk`` event (the raw bytes if they are not JSON)."""
    data = item.get("chunk", {}).get("bytes")
    try:
        return json.loads(data)
    except (TypeError, ValueError):
        return data


class _Invoke(_Bedrock):
    key = "body"

    def body(self) -> dict[str, Any]:
        raise NotImplementedError

    def call(self, client: Any) -> Any:
        return client.raw.invoke_model_with_response_stream(modelId=self.model, body=json.dumps(self.body()))

    def dump(self, item: Any) -> Any:
        return scrub(payload(item)) if "chunk" in item else scrub(item)


class BedrockInvokeAnthropic(_Invoke):
    """``invoke_model_with_response_stream()`` on an ``anthropic.*`` model: Anthropic Messages events."""

    name = "bedrock.invoke-anthropic"
    model = "anthropic.claude-3-5-sonnet-20240620-v1:0"
    finish = {
        "none": "end_turn",
        "length": "max_tokens",
        "content_filter": "refusal",
        "tool_calls": "tool_use",
    }
    input_usage_at_start = True  # message_start

    def body(self) -> dict[str, Any]:
        return {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": PROMPT}],
        }

    def reported_usage(self, items: list[Any], mode: str) -> Optional[tuple[int, int]]:
        events = [payload(i) for i in items]
        start = next((e for e in events if isinstance(e, dict) and e.get("type") == "message_start"), None)
        delta = next(
            (e for e in reversed(events) if isinstance(e, dict) and e.get("type") == "message_delta"), None
        )
        if start is None or delta is None:
            return None
        return (start["message"]["usage"]["input_tokens"], delta["usage"]["output_tokens"])


class BedrockInvokeLlama(_Invoke):
    """``invoke_model_with_response_stream()`` on a ``meta.*`` model: Llama generation chunks."""

    name = "bedrock.invoke-meta"
    model = "meta.llama3-1-8b-instruct-v1:0"
    # Llama streams no tool calls (the chaos provider sends a plain completion / a drop at half)
    faults = tuple(f for f in FAULTS if not f.startswith("tool_calls"))
    finish = {"none": "stop", "length": "length", "content_filter": "guardrail_intervened"}
    input_usage_at_start = True  # prompt_token_count on the first chunk

    def body(self) -> dict[str, Any]:
        return {"prompt": PROMPT, "max_gen_len": 64}

    def reported_usage(self, items: list[Any], mode: str) -> Optional[tuple[int, int]]:
        events = [p for p in (payload(i) for i in items) if isinstance(p, dict)]
        first = next((e for e in events if e.get("prompt_token_count") is not None), None)
        last = next((e for e in reversed(events) if e.get("stop_reason")), None)
        if first is None or last is None:
            return None
        return (first["prompt_token_count"], last["generation_token_count"])

    def response_model(self) -> Optional[str]:
        return None  # Llama chunks carry no model
