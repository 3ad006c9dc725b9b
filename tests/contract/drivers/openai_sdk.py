"""Drivers of the openai SDK: chat completions and responses, raw and helper."""

from __future__ import annotations

from typing import Any, Optional

from tests.contract.drivers.base import Driver, has_attr, plain_http_client
from tests.contract.faults import Expect

PROMPT = "hello"  # module-level so a test can swap it (tests/reliability: privacy)
# What the app sees raised, by the reason a consumed stream ends with (chaos/README.md).
# Transport errors: openai wraps them while iterating (newer SDKs) or lets httpx's through.
RAISES: dict[str, tuple[str, ...]] = {
    "server_error_event": ("APIError",),
    "connection_dropped": ("APIConnectionError", "RemoteProtocolError"),
    "idle_timeout": ("APITimeoutError", "ReadTimeout"),
}
STATUS_ERRORS = {400: "BadRequestError", 429: "RateLimitError", 500: "InternalServerError"}
STATUS_ERRORS.update({503: "InternalServerError", 529: "InternalServerError"})


class _OpenAI(Driver):
    sdk = "openai"
    provider = "openai"
    model = "gpt-4o-mini"

    def instrumentor(self) -> Any:
        from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor

        return OpenAIStreamInstrumentor()

    def base_url(self, chaos: Any) -> str:
        return str(chaos.openai_base_url)

    def client(self, base_url: str, *, asynchronous: bool, read_timeout: float, tracer_provider: Any) -> Any:
        import openai

        cls: Any = openai.AsyncOpenAI if asynchronous else openai.OpenAI
        timeout = openai.Timeout(10, read=read_timeout)
        http = plain_http_client(openai, asynchronous=asynchronous)
        return cls(base_url=base_url, api_key="t", max_retries=0, timeout=timeout, **http)

    def exception_names(self, fault: str, mode: str) -> Optional[tuple[str, ...]]:
        expect = self.expect(fault, mode)
        if expect.status is not None and expect.status >= 400:
            return (STATUS_ERRORS[expect.status],)
        if fault.startswith("malformed_json"):
            return ("JSONDecodeError",)
        return RAISES.get(expect.reason)


class OpenAIChat(_OpenAI):
    """``chat.completions.create(stream=True)`` and ``chat.completions.stream()``."""

    name = "openai.chat"
    finish = {
        "none": "stop",
        "length": "length",
        "content_filter": "content_filter",
        "tool_calls": "tool_calls",
    }

    def _helper_owner(self, client: Any) -> Any:
        # The helper left `client.beta` in openai 1.9x; older SDKs only have the beta one.
        chat = client.chat.completions
        return chat if hasattr(chat, "stream") else client.beta.chat.completions

    def missing(self, mode: str) -> Optional[str]:
        import openai

        if mode == "helper" and not (
            has_attr("openai.resources.chat", "Completions", "stream")
            or has_attr("openai.resources.beta.chat", "Completions", "stream")
        ):
            return f"openai {openai.__version__} has no chat.completions.stream() helper"
        return None

    def _kwargs(self, headers: dict[str, str]) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [{"role": "user", "content": PROMPT}],
            "stream_options": {"include_usage": True},
            "extra_headers": headers,
        }

    def start(self, client: Any, mode: str, headers: dict[str, str]) -> Any:
        if mode == "raw":
            return client.chat.completions.create(stream=True, **self._kwargs(headers))
        return self._helper_owner(client).stream(**self._kwargs(headers))

    async def astart(self, client: Any, mode: str, headers: dict[str, str]) -> Any:
        if mode == "raw":
            return await client.chat.completions.create(stream=True, **self._kwargs(headers))
        return self._helper_owner(client).stream(**self._kwargs(headers))

    def reason_override(self, fault: str, mode: str) -> Optional[Expect]:
        if mode == "helper" and fault.startswith("missing_fields"):
            return Expect("server_error_event")  # the helper cannot accumulate a chunk without choices
        return None

    def exception_names(self, fault: str, mode: str) -> Optional[tuple[str, ...]]:
        if mode == "helper" and fault.startswith("missing_fields"):
            return ("TypeError", "AttributeError", "KeyError")
        return super().exception_names(fault, mode)

    def _chunks(self, items: list[Any], mode: str) -> list[Any]:
        if mode == "raw":
            return items
        return [e.chunk for e in items if getattr(e, "type", None) == "chunk"]

    def wire_chunks(self, items: list[Any], mode: str) -> int:
        return len(self._chunks(items, mode))

    def reported_usage(self, items: list[Any], mode: str) -> Optional[tuple[int, int]]:
        for chunk in reversed(self._chunks(items, mode)):
            usage = getattr(chunk, "usage", None)
            if usage is not None:
                return (usage.prompt_tokens, usage.completion_tokens)
        return None

    def final(self, stream: Any) -> Any:
        return stream.get_final_completion()

    async def afinal(self, stream: Any) -> Any:
        return await stream.get_final_completion()


class OpenAIResponses(_OpenAI):
    """``responses.create(stream=True)`` and ``responses.stream()`` (openai >= 1.66)."""

    name = "openai.responses"
    finish = {"none": "stop", "length": "max_output_tokens", "content_filter": "content_filter"}
    # The Responses dialect of the chaos provider has no second tool call to cut.
    faults = tuple(f for f in _OpenAI.faults if f != "tool_calls_reset")

    def missing(self, mode: str) -> Optional[str]:
        import openai

        if not has_attr("openai.resources.responses", "Responses", "create"):
            return f"openai {openai.__version__} has no Responses API"
        if mode == "helper" and not has_attr("openai.resources.responses", "Responses", "stream"):
            return f"openai {openai.__version__} has no responses.stream() helper"
        return None

    def _kwargs(self, headers: dict[str, str]) -> dict[str, Any]:
        return {"model": self.model, "input": PROMPT, "extra_headers": headers}

    def start(self, client: Any, mode: str, headers: dict[str, str]) -> Any:
        if mode == "raw":
            return client.responses.create(stream=True, **self._kwargs(headers))
        return client.responses.stream(**self._kwargs(headers))

    async def astart(self, client: Any, mode: str, headers: dict[str, str]) -> Any:
        if mode == "raw":
            return await client.responses.create(stream=True, **self._kwargs(headers))
        return client.responses.stream(**self._kwargs(headers))

    def reason_override(self, fault: str, mode: str) -> Optional[Expect]:
        if mode == "helper" and fault.startswith("missing_fields"):
            return Expect("server_error_event")  # the helper cannot accumulate an event without its fields
        return None

    def exception_names(self, fault: str, mode: str) -> Optional[tuple[str, ...]]:
        if fault.startswith("error_frame"):
            return None  # an `error` event the app receives as an item, then the stream ends
        if mode == "helper" and fault.startswith("missing_fields"):
            return ("TypeError", "AttributeError", "KeyError")
        return super().exception_names(fault, mode)

    def reported_usage(self, items: list[Any], mode: str) -> Optional[tuple[int, int]]:
        for event in reversed(items):
            response = getattr(event, "response", None)
            usage = getattr(response, "usage", None)
            if usage is not None:
                return (usage.input_tokens, usage.output_tokens)
        return None

    def final(self, stream: Any) -> Any:
        return stream.get_final_response()

    async def afinal(self, stream: Any) -> Any:
        return await stream.get_final_response()
