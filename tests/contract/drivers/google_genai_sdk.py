"""Driver of the google-genai SDK: ``models.generate_content_stream`` (sync) and ``aio`` (async).

There is no helper and no context manager: the call returns a lazy generator whose first ``next()``
sends the request. So the endings ``with`` / ``raise`` (a ``with`` block) do not exist, and ``drop``
(never iterated) makes no span at all (tests/instrumentation/google_genai checks that); ``close``
on the async generator is ``aclose()``.

Variants (``transport``) pick the HTTP client: ``""`` the SDK's default (httpx2 sync; aiohttp async
when installed, as in the test extra), ``httpx2`` (async on httpx2), ``httpx`` (sync and async on
httpx). With aiohttp the SDK's timeout is a deadline for the whole call, not a read timeout, so the
driver gives aiohttp a longer one (still shorter than the chaos stall).
"""

from __future__ import annotations

from typing import Any, Optional

from tests.contract.drivers.base import Driver, scrub
from tests.contract.faults import Expect

PROMPT = "hello"
RAISES: dict[str, tuple[str, ...]] = {
    "server_error_event": ("ServerError",),  # in-stream {"error": ...}: same class as an HTTP 5xx
    "connection_dropped": ("RemoteProtocolError", "ClientPayloadError"),  # httpx / httpx2, aiohttp
    "idle_timeout": ("ReadTimeout", "TimeoutError"),
}
AIOHTTP_DEADLINE_S = 1.5  # the whole call; the chaos stall lasts 2 s
VOLATILE = {"sdk_http_response", "response_id", "create_time"}


def aiohttp_installed() -> bool:
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return False
    return True


class GeminiGenerate(Driver):
    """``client.models.generate_content_stream`` / ``client.aio.models.generate_content_stream``."""

    name = "google_genai.generate"
    sdk = "google.genai"
    provider = "gcp.gemini"
    operation = "generate_content"
    model = "gemini-test"
    modes = ("raw",)
    endings = ("consume", "close", "break", "cancel")
    connect_error = "ConnectError"  # httpx2's, unwrapped
    finish = {"none": "stop", "length": "max_tokens", "content_filter": "safety", "tool_calls": "stop"}
    input_usage_at_start = True  # every chunk carries the running usage, input tokens included

    def __init__(self, transport: str = "") -> None:
        self.transport = transport
        self.variant = transport

    def instrumentor(self) -> Any:
        from otel_streamslo.instrumentation.google_genai import GoogleGenAIStreamInstrumentor

        return GoogleGenAIStreamInstrumentor()

    def base_url(self, chaos: Any) -> str:
        return str(getattr(chaos, "gemini_base_url", None) or chaos.base_url)  # (a connect-error stand-in)

    def _transport_args(self) -> dict[str, Any]:
        if self.transport == "httpx2":
            import httpx2

            return {"async_client_args": {"transport": httpx2.AsyncHTTPTransport()}}
        if self.transport == "httpx":
            import httpx

            return {
                "client_args": {"transport": httpx.HTTPTransport()},
                "async_client_args": {"transport": httpx.AsyncHTTPTransport()},
            }
        return {}

    def uses_aiohttp(self, asynchronous: bool) -> bool:
        return asynchronous and not self.transport and aiohttp_installed()

    def client(self, base_url: str, *, asynchronous: bool, read_timeout: float, tracer_provider: Any) -> Any:
        from google import genai
        from google.genai import types

        from otel_streamslo.demo.gemini import no_retries

        timeout = AIOHTTP_DEADLINE_S if self.uses_aiohttp(asynchronous) else read_timeout
        options = types.HttpOptions(
            base_url=base_url,
            timeout=int(timeout * 1000),
            **no_retries(types),
            **self._transport_args(),
        )
        client = genai.Client(api_key="test", http_options=options)
        if not asynchronous:
            return client
        aio = client.aio
        aio._streamslo_owner = client  # type: ignore[attr-defined]  # a collected Client closes its HTTP clients
        return aio

    def _kwargs(self, headers: dict[str, str]) -> dict[str, Any]:
        from google.genai import types

        config = types.GenerateContentConfig(http_options=types.HttpOptions(headers=headers))
        return {"model": self.model, "contents": PROMPT, "config": config}

    def start(self, client: Any, mode: str, headers: dict[str, str]) -> Any:
        return client.models.generate_content_stream(**self._kwargs(headers))

    async def astart(self, client: Any, mode: str, headers: dict[str, str]) -> Any:
        return await client.models.generate_content_stream(**self._kwargs(headers))

    async def aclose(self, stream: Any) -> None:
        await stream.aclose()

    def exception_names(self, fault: str, mode: str) -> Optional[tuple[str, ...]]:
        expect = self.expect(fault, mode)
        if expect.status is not None and expect.status >= 400:
            return ("ClientError",) if expect.status < 500 else ("ServerError",)
        if fault.startswith("malformed_json"):
            return ("UnknownApiResponseError",)
        return RAISES.get(expect.reason)

    def reason_override(self, fault: str, mode: str) -> Optional[Expect]:
        return None

    def reported_usage(self, items: list[Any], mode: str) -> Optional[tuple[int, int]]:
        last = next((c for c in reversed(items) if c.usage_metadata is not None), None)
        if last is None:
            return None
        usage = last.usage_metadata
        out = (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
        return (usage.prompt_token_count, out)

    def dump(self, item: Any) -> Any:
        return (type(item).__name__, scrub(item.model_dump(exclude=VOLATILE)))
