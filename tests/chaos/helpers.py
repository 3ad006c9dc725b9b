"""Drive the real SDKs against the chaos provider and record what their user observes."""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Optional

import anthropic
import httpx2
import openai

from otel_streamslo.chaos import ChaosServer

TOKENS = 8
MESSAGES: Any = [{"role": "user", "content": "Say hello to the chaos provider."}]
PROMPT = "Say hello to the chaos provider."
MODELS = {"chat": "gpt-4o-mini", "responses": "gpt-4o-mini", "messages": "claude-sonnet-4-5"}
APIS = ("chat", "responses", "messages")
PARIS = '{"city": "Paris"}'
TOKYO = '{"city": "Tokyo"}'

#: Observed finish per API for each normalised finish.
FINISH = {
    "chat": {"stop": "stop", "length": "length", "content_filter": "content_filter", "tool": "tool_calls"},
    "responses": {
        "stop": "completed",
        "length": "max_output_tokens",
        "content_filter": "content_filter",
        "tool": "completed",
    },
    "messages": {"stop": "end_turn", "length": "max_tokens", "content_filter": "refusal", "tool": "tool_use"},
}


def text_of(count: int) -> str:
    """Text of the first ``count`` scripted tokens."""
    return "".join(f"tok{i} " for i in range(count))


@dataclass
class Seen:
    """What the SDK user observed while consuming one stream."""

    started: float = field(default_factory=time.monotonic)
    items: list[Any] = field(default_factory=list)
    text: str = ""
    max_delta: int = 0
    finish: Optional[str] = None
    output_tokens: Optional[int] = None
    tools: dict[int, str] = field(default_factory=dict)
    error: Optional[BaseException] = None
    t_first_item: Optional[float] = None
    t_first_content: Optional[float] = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def types(self) -> list[str]:
        """Event types (Responses / Anthropic)."""
        return [getattr(item, "type", "?") for item in self.items]

    def _mark(self, content: bool) -> None:
        now = time.monotonic() - self.started
        if self.t_first_item is None:
            self.t_first_item = now
        if content and self.t_first_content is None:
            self.t_first_content = now

    def _text(self, delta: Optional[str]) -> None:
        if delta:
            self.text += delta
            self.max_delta = max(self.max_delta, len(delta))

    def _tool(self, index: int, fragment: Optional[str]) -> None:
        self.tools[index] = self.tools.get(index, "") + (fragment or "")

    def chat(self, chunk: Any) -> None:
        """Record one ``ChatCompletionChunk``."""
        self.items.append(chunk)
        content = False
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.output_tokens = usage.completion_tokens
        for choice in getattr(chunk, "choices", None) or []:
            delta = choice.delta
            self._text(delta.content)
            content = content or bool(delta.content) or bool(delta.tool_calls)
            for call in delta.tool_calls or []:
                self._tool(call.index, call.function.arguments if call.function else None)
            if choice.finish_reason:
                self.finish = choice.finish_reason
        self._mark(content)

    def responses(self, event: Any) -> None:
        """Record one Responses API stream event."""
        self.items.append(event)
        kind = getattr(event, "type", None)
        content = kind in {"response.output_text.delta", "response.function_call_arguments.delta"}
        if kind == "response.output_text.delta":
            self._text(getattr(event, "delta", None))
        elif kind == "response.function_call_arguments.delta":
            self._tool(event.output_index, event.delta)
        elif kind in {"response.completed", "response.incomplete"}:
            response = event.response
            details = response.incomplete_details
            self.finish = details.reason if details else response.status
            self.output_tokens = response.usage.output_tokens
        self._mark(content)

    def messages(self, event: Any) -> None:
        """Record one Anthropic raw stream event."""
        self.items.append(event)
        kind = getattr(event, "type", None)
        content = False
        if kind == "content_block_delta" and getattr(event, "delta", None) is not None:
            content = True
            if event.delta.type == "text_delta":
                self._text(event.delta.text)
            elif event.delta.type == "input_json_delta":
                self._tool(event.index, event.delta.partial_json)
        elif kind == "message_delta":
            self.finish = event.delta.stop_reason
            self.output_tokens = event.usage.output_tokens
        self._mark(content)


def model_for(api: str, fault: Optional[str]) -> str:
    """Model name with the ``+<fault>`` suffix convention."""
    return MODELS[api] if fault is None else f"{MODELS[api]}+{fault}"


def create_sync(api: str, client: Any, model: str, headers: dict[str, str], timeout: float) -> Any:
    """Start a streamed call with a sync client."""
    if api == "chat":
        return client.chat.completions.create(
            model=model,
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=headers,
            timeout=timeout,
        )
    if api == "responses":
        return client.responses.create(
            model=model, input=PROMPT, stream=True, extra_headers=headers, timeout=timeout
        )
    return client.messages.create(
        model=model, max_tokens=1024, messages=MESSAGES, stream=True, extra_headers=headers, timeout=timeout
    )


async def create_async(api: str, client: Any, model: str, headers: dict[str, str], timeout: float) -> Any:
    """Start a streamed call with an async client."""
    if api == "chat":
        return await client.chat.completions.create(
            model=model,
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=headers,
            timeout=timeout,
        )
    if api == "responses":
        return await client.responses.create(
            model=model, input=PROMPT, stream=True, extra_headers=headers, timeout=timeout
        )
    return await client.messages.create(
        model=model, max_tokens=1024, messages=MESSAGES, stream=True, extra_headers=headers, timeout=timeout
    )


def consume_sync(
    api: str, client: Any, fault: Optional[str], headers: Optional[dict[str, str]] = None, timeout: float = 10
) -> Seen:
    """Stream one call with a sync client; record items and the exception, if any."""
    seen = Seen()
    record = getattr(seen, api)
    try:
        stream = create_sync(api, client, model_for(api, fault), headers or {}, timeout)
        seen.headers = dict(stream.response.headers)
        with stream:
            for item in stream:
                record(item)
    except Exception as exc:
        seen.error = exc
    return seen


async def consume_async(
    api: str, client: Any, fault: Optional[str], headers: Optional[dict[str, str]] = None, timeout: float = 10
) -> Seen:
    """Stream one call with an async client; record items and the exception, if any."""
    seen = Seen()
    record = getattr(seen, api)
    try:
        stream = await create_async(api, client, model_for(api, fault), headers or {}, timeout)
        seen.headers = dict(stream.response.headers)
        async with stream:
            async for item in stream:
                record(item)
    except Exception as exc:
        seen.error = exc
    return seen


def is_connection_drop(api: str, error: Optional[BaseException]) -> bool:
    """A dropped connection as each SDK surfaces it mid-stream.

    openai wraps transport errors in ``APIConnectionError``; anthropic 2.x lets the raw
    ``httpx2`` transport error through while iterating (see test_anthropic_raw_transport_errors).
    """
    if api == "messages":
        drop = (anthropic.APIConnectionError, httpx2.TransportError)
        timeout = (anthropic.APITimeoutError, httpx2.TimeoutException)
        return isinstance(error, drop) and not isinstance(error, timeout)
    return isinstance(error, openai.APIConnectionError) and not isinstance(error, openai.APITimeoutError)


def is_timeout(api: str, error: Optional[BaseException]) -> bool:
    """A read timeout as each SDK surfaces it mid-stream."""
    if api == "messages":
        return isinstance(error, (anthropic.APITimeoutError, httpx2.TimeoutException))
    return isinstance(error, openai.APITimeoutError)


HTTP_ERRORS: dict[str, dict[int, type[Exception]]] = {
    "openai": {
        400: openai.BadRequestError,
        429: openai.RateLimitError,
        500: openai.InternalServerError,
        503: openai.InternalServerError,
        529: openai.InternalServerError,
    },
    "anthropic": {
        400: anthropic.BadRequestError,
        429: anthropic.RateLimitError,
        500: anthropic.InternalServerError,
        503: anthropic.ServiceUnavailableError,
        529: anthropic.OverloadedError,
    },
}


def provider(api: str) -> str:
    """SDK family of an API."""
    return "anthropic" if api == "messages" else "openai"


# Building an SDK client loads the CA bundle (~50 ms); async clients are per test (per event loop),
# so they share one SSL context.  The transport is the SDK's default one otherwise.
_SSL = ssl.create_default_context()


@contextlib.asynccontextmanager
async def async_client(api: str, server: ChaosServer, **options: Any) -> AsyncIterator[Any]:
    """An async SDK client for ``api`` against ``server`` (no retries), closed on exit."""
    options = {"api_key": "test", "max_retries": 0, "timeout": 10, **options}
    client: Any
    if api == "messages":
        http = anthropic.DefaultAsyncHttpxClient(verify=_SSL)
        client = anthropic.AsyncAnthropic(base_url=server.anthropic_base_url, http_client=http, **options)
    else:
        http = openai.DefaultAsyncHttpxClient(verify=_SSL)
        client = openai.AsyncOpenAI(base_url=server.openai_base_url, http_client=http, **options)
    try:
        yield client
    finally:
        await client.close()
