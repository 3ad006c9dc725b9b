"""Drivers of litellm: ``completion`` / ``acompletion(stream=True)`` routed to the chaos provider's
OpenAI and Anthropic dialects (``model="openai/..."`` / ``"anthropic/..."`` with ``api_base``).

Every cell runs with our openai and anthropic instrumentors instrumented too: the suite's "exactly one
span" then also proves that the SDK-level wrappers under litellm stay silent (suppression).
"""

from __future__ import annotations

import gc
import importlib
import os
from typing import Any, Optional

from tests.contract.drivers.base import Driver
from tests.contract.faults import Expect

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of the remote cost map at import

PROMPT = "hello"
STATUS_ERRORS: dict[int, tuple[str, ...]] = {
    400: ("BadRequestError",),
    429: ("RateLimitError",),
    500: ("InternalServerError",),
    503: ("ServiceUnavailableError",),
    529: ("APIError", "InternalServerError"),  # openai route: APIError; anthropic route: InternalServerError
}
# litellm raises MidStreamFallbackError for every mid-stream failure (a stall too, on some paths).
MIDSTREAM = ("MidStreamFallbackError",)
RAISES: dict[str, tuple[str, ...]] = {
    "server_error_event": MIDSTREAM,
    "connection_dropped": MIDSTREAM,
    "truncated": MIDSTREAM,
    "idle_timeout": ("MidStreamFallbackError", "Timeout"),
}


_LOADED: list[Any] = []


def _litellm() -> Any:
    """litellm, imported once; its large module graph then frozen so the suite's gc.collect() skips it."""
    if not _LOADED:
        _LOADED.append(importlib.import_module("litellm"))
        gc.collect()
        gc.freeze()  # as tests/contract/conftest.py does for the SDK modules it loads
    return _LOADED[0]


class _AllInstrumentors:
    """litellm's instrumentor plus openai's and anthropic's (which litellm must keep silent)."""

    def __init__(self) -> None:
        from otel_streamslo.instrumentation.anthropic import AnthropicStreamInstrumentor
        from otel_streamslo.instrumentation.litellm import LiteLLMStreamInstrumentor
        from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor

        self.insts = [LiteLLMStreamInstrumentor(), OpenAIStreamInstrumentor(), AnthropicStreamInstrumentor()]

    def instrument(self, **kwargs: Any) -> None:
        for inst in self.insts:
            inst.instrument(**kwargs)

    def uninstrument(self) -> None:
        for inst in self.insts:
            inst.uninstrument()


class Client:
    """What litellm needs per call to reach the chaos provider (litellm has no client object)."""

    def __init__(self, api_base: str, timeout: float) -> None:
        self.kwargs: dict[str, Any] = {"api_base": api_base, "timeout": timeout}

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _LiteLLM(Driver):
    sdk = "litellm"
    connect_error = "InternalServerError"  # litellm maps a refused connection to a 500-class error
    modes = ("raw",)
    route: str  # litellm's provider prefix
    finish = {
        "none": "stop",
        "length": "length",
        "content_filter": "content_filter",
        "tool_calls": "tool_calls",
    }

    def instrumentor(self) -> Any:
        _litellm()  # loaded before instrument(), so its targets exist
        return _AllInstrumentors()

    def client(self, base_url: str, *, asynchronous: bool, read_timeout: float, tracer_provider: Any) -> Any:
        return Client(base_url, read_timeout)

    def _kwargs(self, client: Client, headers: dict[str, str]) -> dict[str, Any]:
        return {
            "model": f"{self.route}/{self.model}",
            "messages": [{"role": "user", "content": PROMPT}],
            "api_key": "x",
            "stream": True,
            "stream_options": {"include_usage": True},
            "extra_headers": headers,
            "num_retries": 0,
            "max_retries": 0,
            "max_tokens": 100,
            **client.kwargs,
        }

    def start(self, client: Any, mode: str, headers: dict[str, str]) -> Any:
        return _litellm().completion(**self._kwargs(client, headers))

    async def astart(self, client: Any, mode: str, headers: dict[str, str]) -> Any:
        return await _litellm().acompletion(**self._kwargs(client, headers))

    async def aclose(self, stream: Any) -> None:
        await stream.aclose()  # CustomStreamWrapper: close() is sync, aclose() async

    def exception_names(self, fault: str, mode: str) -> Optional[tuple[str, ...]]:
        expect = self.expect(fault, mode)
        if expect.status is not None and expect.status >= 400:
            return STATUS_ERRORS[expect.status]
        return RAISES.get(expect.reason)

    def reported_usage(self, items: list[Any], mode: str) -> Optional[tuple[int, int]]:
        for chunk in reversed(items):
            usage = getattr(chunk, "usage", None)
            if usage is not None:
                return (usage.prompt_tokens, usage.completion_tokens)
        return None


class LiteLLMOpenAI(_LiteLLM):
    """litellm over the OpenAI dialect (openai SDK underneath; httpx sync, aiohttp async)."""

    name = "litellm.openai"
    provider = "openai"
    route = "openai"
    model = "gpt-4o-mini"

    def base_url(self, chaos: Any) -> str:
        return str(chaos.openai_base_url)


class LiteLLMAnthropic(_LiteLLM):
    """litellm over the Anthropic dialect (litellm's own HTTP handler: httpx sync, aiohttp async)."""

    name = "litellm.anthropic"
    provider = "anthropic"
    route = "anthropic"
    model = "claude-sonnet-4-5"

    def base_url(self, chaos: Any) -> str:
        return str(chaos.anthropic_base_url)

    def reason_override(self, fault: str, mode: str) -> Optional[Expect]:
        if fault.startswith("malformed_json"):
            # litellm's Anthropic handler keeps an unparsable line as a partial JSON fragment, then the
            # stream ends without message_delta: it raises "Stream ended before ..." (StopIteration cause).
            return Expect("truncated")
        if fault.startswith("missing_fields"):
            return Expect("server_error_event")  # litellm fails on the malformed event (KeyError)
        return None
