"""Driver of the anthropic SDK: messages, raw ``create(stream=True)`` and the ``.stream()`` helper.

Variants (``native``) configure the SDK's own OpenTelemetry tracing where the installed SDK has
it (``open_telemetry=`` on the client): ``off`` (the default driver: SDK tracing off, our span),
``enrich`` (the SDK's span, enriched by us) and ``replace`` (our span only).
"""

from __future__ import annotations

import inspect
from typing import Any, Optional

from tests.contract.drivers.base import Driver, plain_http_client
from tests.contract.faults import Expect

PROMPT = "hello"  # module-level so a test can swap it (tests/reliability: privacy)
# anthropic does not wrap transport errors raised while iterating (chaos/README.md).
RAISES: dict[str, tuple[str, ...]] = {
    "server_error_event": ("APIStatusError",),
    "connection_dropped": ("RemoteProtocolError",),
    "idle_timeout": ("ReadTimeout",),
}
STATUS_ERRORS: dict[int, tuple[str, ...]] = {
    400: ("BadRequestError",),
    429: ("RateLimitError",),
    500: ("InternalServerError",),
    # anthropic 0.43 raises InternalServerError for both; later SDKs their own classes.
    503: ("ServiceUnavailableError", "InternalServerError"),
    529: ("OverloadedError", "InternalServerError"),
}
# Events the helper adds on top of the raw events.
DERIVED = frozenset({"text", "input_json", "citation", "thinking", "signature", "compaction"})


def has_native_tracing() -> bool:
    """Whether the installed anthropic SDK traces itself (``open_telemetry=`` on the client)."""
    import anthropic

    return "open_telemetry" in inspect.signature(anthropic.Anthropic.__init__).parameters


class AnthropicMessages(Driver):
    """``messages.create(stream=True)`` and ``messages.stream()``."""

    name = "anthropic.messages"
    sdk = "anthropic"
    provider = "anthropic"
    model = "claude-test"
    finish = {
        "none": "end_turn",
        "length": "max_tokens",
        "content_filter": "refusal",
        "tool_calls": "tool_use",
    }
    input_usage_at_start = True  # message_start carries the input usage

    def __init__(self, native: str = "off") -> None:
        self.native = native
        self.variant = "" if native == "off" else native

    def missing(self, mode: str) -> Optional[str]:
        if self.native != "off" and not has_native_tracing():
            import anthropic

            return f"anthropic {anthropic.__version__} has no native tracing"
        return None

    def instrumentor(self) -> Any:
        from otel_streamslo.instrumentation.anthropic import AnthropicStreamInstrumentor

        return AnthropicStreamInstrumentor()

    def instrument_kwargs(self) -> dict[str, Any]:
        if self.native == "off":
            return {}
        return {"anthropic_native_spans": self.native}

    def base_url(self, chaos: Any) -> str:
        return str(chaos.anthropic_base_url)

    def client(self, base_url: str, *, asynchronous: bool, read_timeout: float, tracer_provider: Any) -> Any:
        import anthropic

        cls: Any = anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic
        kw = plain_http_client(anthropic, asynchronous=asynchronous)
        if has_native_tracing():
            kw["open_telemetry"] = False if self.native == "off" else {"tracer_provider": tracer_provider}
        timeout = anthropic.Timeout(10, read=read_timeout)
        return cls(base_url=base_url, api_key="t", max_retries=0, timeout=timeout, **kw)

    def _kwargs(self, headers: dict[str, str]) -> dict[str, Any]:
        return {
            "model": self.model,
            "max_tokens": 64,
            "messages": [{"role": "user", "content": PROMPT}],
            "extra_headers": headers,
        }

    def start(self, client: Any, mode: str, headers: dict[str, str]) -> Any:
        if mode == "raw":
            return client.messages.create(stream=True, **self._kwargs(headers))
        return client.messages.stream(**self._kwargs(headers))

    async def astart(self, client: Any, mode: str, headers: dict[str, str]) -> Any:
        if mode == "raw":
            return await client.messages.create(stream=True, **self._kwargs(headers))
        return client.messages.stream(**self._kwargs(headers))

    def reason_override(self, fault: str, mode: str) -> Optional[Expect]:
        if mode == "helper" and fault.startswith("missing_fields"):
            return Expect("server_error_event")  # the helper cannot accumulate a delta without `delta`
        return None

    def exception_names(self, fault: str, mode: str) -> Optional[tuple[str, ...]]:
        expect = self.expect(fault, mode)
        if expect.status is not None and expect.status >= 400:
            return STATUS_ERRORS[expect.status]
        if fault.startswith("malformed_json"):
            return ("JSONDecodeError",)
        if mode == "helper" and fault.startswith("missing_fields"):
            return ("AttributeError",)
        return RAISES.get(expect.reason)

    def wire_chunks(self, items: list[Any], mode: str) -> int:
        return sum(1 for e in items if getattr(e, "type", None) not in DERIVED)

    def reported_usage(self, items: list[Any], mode: str) -> Optional[tuple[int, int]]:
        start = next((e for e in items if getattr(e, "type", None) == "message_start"), None)
        delta = next((e for e in reversed(items) if getattr(e, "type", None) == "message_delta"), None)
        if start is None or delta is None:
            return None
        usage = start.message.usage
        cached = (getattr(usage, "cache_read_input_tokens", 0) or 0) + (
            getattr(usage, "cache_creation_input_tokens", 0) or 0
        )
        return (usage.input_tokens + cached, delta.usage.output_tokens)

    def final(self, stream: Any) -> Any:
        return stream.get_final_message()

    async def afinal(self, stream: Any) -> Any:
        return await stream.get_final_message()

    def describe_exception(self, exc: BaseException) -> Any:
        status = getattr(exc, "status_code", None)
        if status is not None:
            return (type(exc).__qualname__, status, getattr(exc, "type", None))
        return super().describe_exception(exc)

    def span_name(self) -> str:
        return "anthropic.messages.create" if self.native == "enrich" else super().span_name()

    def span_scope(self) -> str:
        return "com.anthropic.sdk.python" if self.native == "enrich" else super().span_scope()

    def good_status_ok(self) -> bool:
        return self.native == "enrich"
