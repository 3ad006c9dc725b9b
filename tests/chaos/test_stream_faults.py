"""Every fault x {chat, responses, messages} x {sync, async}, through the real SDKs over HTTP."""

from __future__ import annotations

import json
from typing import Any, Callable

import anthropic
import httpx2
import openai
import pytest

from otel_streamslo.chaos import ChaosServer

from .helpers import (
    APIS,
    FINISH,
    HTTP_ERRORS,
    PARIS,
    TOKENS,
    TOKYO,
    Seen,
    async_client,
    consume_async,
    consume_sync,
    is_connection_drop,
    is_timeout,
    provider,
    text_of,
)

STALL_HEADERS = {"x-chaos-stall-seconds": "0.5"}
STALL_CLIENT_TIMEOUT = 0.2

Entry = dict[str, Any]


def _done(seen: Seen) -> None:
    assert seen.error is None, repr(seen.error)


def _entry(entry: Entry, outcome: str, tokens: int, status: int = 200) -> None:
    assert entry["outcome"] == outcome
    assert entry["tokens_sent"] == tokens
    assert entry["status"] == status
    assert entry["stream"] is True


def check_none(api: str, seen: Seen, entry: Entry) -> None:
    _done(seen)
    assert seen.text == text_of(TOKENS)
    assert seen.finish == FINISH[api]["stop"]
    assert seen.output_tokens == TOKENS
    _entry(entry, "completed", TOKENS)
    if api == "chat":
        first = seen.items[0].choices[0]
        assert (first.delta.role, first.delta.content, first.finish_reason) == ("assistant", "", None)
        assert seen.items[-1].choices == []
        assert seen.items[-1].usage.prompt_tokens > 0
    elif api == "responses":
        assert [item.sequence_number for item in seen.items] == list(range(len(seen.items)))
        deltas = ["response.output_text.delta"] * TOKENS
        assert seen.types == [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            *deltas,
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
        assert seen.items[-1].response.output_text == text_of(TOKENS)
    else:
        deltas = ["content_block_delta"] * TOKENS
        assert seen.types == [
            "message_start",
            "content_block_start",
            *deltas,
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
        assert seen.items[0].message.usage.output_tokens == 1
        assert seen.items[0].message.usage.input_tokens > 0


def check_tool_calls(api: str, seen: Seen, entry: Entry) -> None:
    _done(seen)
    assert seen.finish == FINISH[api]["tool"]
    if api == "messages":
        assert seen.tools == {1: PARIS}
        assert seen.text == text_of(2)
        assert seen.output_tokens == 6
        start = next(item for item in seen.items if getattr(item, "index", 0) == 1)
        assert (start.content_block.type, start.content_block.name) == ("tool_use", "get_weather")
    else:
        assert seen.tools == {0: PARIS}
        assert seen.text == ""
        assert seen.output_tokens == 4
    _entry(entry, "completed", seen.output_tokens or 0)
    if api == "chat":
        head = seen.items[1].choices[0].delta.tool_calls[0]
        assert (head.index, head.type, head.function.name, head.function.arguments) == (
            0,
            "function",
            "get_weather",
            "",
        )
        assert head.id


def check_tool_calls_reset(api: str, seen: Seen, entry: Entry) -> None:
    assert is_connection_drop(api, seen.error), repr(seen.error)
    first, second = (1, 2) if api == "messages" else (0, 1)
    assert seen.tools[first] == PARIS
    assert TOKYO.startswith(seen.tools[second]) and seen.tools[second] != TOKYO
    assert seen.finish is None
    assert entry["outcome"] == "reset"


def check_error_frame(api: str, seen: Seen, entry: Entry) -> None:
    assert seen.text == text_of(3)
    _entry(entry, "error_frame", 3)
    if api == "chat":
        assert type(seen.error) is openai.APIError
        assert seen.error.message == "The server had an error while processing your request."
        assert seen.error.body == {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
            "code": "server_error",
        }
    elif api == "responses":  # openai surfaces a Responses error frame as an event, not an exception
        _done(seen)
        last = seen.items[-1]
        assert (last.type, last.code, last.sequence_number) == ("error", "server_error", len(seen.items) - 1)
        assert seen.finish is None
    else:  # anthropic raises a status error carrying the 200 of the stream
        assert type(seen.error) is anthropic.APIStatusError
        assert seen.error.status_code == 200
        assert seen.error.type == "overloaded_error"


def check_reset(api: str, seen: Seen, entry: Entry) -> None:
    assert is_connection_drop(api, seen.error), repr(seen.error)
    assert seen.text == text_of(3)
    assert seen.finish is None
    _entry(entry, "reset", 3)


def check_stall(api: str, seen: Seen, entry: Entry) -> None:
    assert is_timeout(api, seen.error), repr(seen.error)
    assert seen.text == text_of(2)
    _entry(entry, "client_disconnected", 2)


def check_eof(api: str, seen: Seen, entry: Entry) -> None:
    _done(seen)
    assert seen.text == text_of(3)
    assert seen.finish is None
    assert seen.output_tokens is None
    _entry(entry, "eof", 3)
    terminal = {"message_delta", "message_stop", "response.completed", "response.incomplete"}
    assert not terminal & set(seen.types)


def check_length(api: str, seen: Seen, entry: Entry) -> None:
    _done(seen)
    assert seen.text == text_of(TOKENS)
    assert seen.finish == FINISH[api]["length"]
    assert seen.output_tokens == TOKENS
    _entry(entry, "length", TOKENS)
    if api == "responses":
        assert seen.items[-1].type == "response.incomplete"


def check_content_filter(api: str, seen: Seen, entry: Entry) -> None:
    _done(seen)
    assert seen.text == text_of(2)
    assert seen.finish == FINISH[api]["content_filter"]
    assert seen.output_tokens == 2
    _entry(entry, "content_filter", 2)


def check_http(api: str, seen: Seen, entry: Entry) -> None:
    status = int(entry["fault"].removeprefix("http_"))
    assert type(seen.error) is HTTP_ERRORS[provider(api)][status]
    assert not seen.items
    assert isinstance(seen.error, (openai.APIStatusError, anthropic.APIStatusError))
    assert seen.error.status_code == status
    headers = seen.error.response.headers
    assert headers["x-chaos-fault"] == entry["fault"]
    assert headers["x-request-id"] == entry["id"]
    assert headers.get("retry-after") == ("0" if status in {429, 503, 529} else None)
    body = seen.error.response.json()
    assert body["error"]["message"]
    if api == "messages":
        assert body["type"] == "error"
    assert entry["outcome"] == "http_error"
    assert entry["status"] == status


def check_slow_ttft(api: str, seen: Seen, entry: Entry) -> None:
    _done(seen)
    assert seen.text == text_of(TOKENS)
    assert seen.t_first_item is not None and seen.t_first_content is not None
    assert seen.t_first_item < seen.t_first_content  # role chunk / message_start come first
    assert seen.t_first_content >= 0.28  # the session server's ttft is 0.3 s
    _entry(entry, "completed", TOKENS)


def check_malformed_json(api: str, seen: Seen, entry: Entry) -> None:
    assert isinstance(seen.error, json.JSONDecodeError)
    assert seen.text == text_of(2)
    assert entry["outcome"] in {"completed", "client_disconnected"}


def check_unknown_event(api: str, seen: Seen, entry: Entry) -> None:
    _done(seen)
    assert seen.text == text_of(TOKENS)
    assert seen.finish == FINISH[api]["stop"]
    if api == "chat":
        unknown = [item for item in seen.items if getattr(item, "chaos_unknown_field", None)]
        assert len(unknown) == 1
    else:
        assert ("response.chaos_mystery" if api == "responses" else "mystery") in seen.types
    _entry(entry, "completed", TOKENS)


def check_missing_fields(api: str, seen: Seen, entry: Entry) -> None:
    _done(seen)
    assert seen.text == text_of(TOKENS)
    if api == "chat":
        assert sum(getattr(item, "choices", None) is None for item in seen.items) == 1
    else:
        kind = "response.output_text.delta" if api == "responses" else "content_block_delta"
        assert (
            sum(t == kind and getattr(i, "delta", None) is None for t, i in zip(seen.types, seen.items)) == 1
        )
    _entry(entry, "completed", TOKENS)


def check_huge_chunk(api: str, seen: Seen, entry: Entry) -> None:
    _done(seen)
    assert seen.max_delta == 1024 * 1024
    assert len(seen.text) == len(text_of(TOKENS)) - len("tok1 ") + 1024 * 1024
    assert seen.output_tokens == TOKENS
    _entry(entry, "completed", TOKENS)


CASES: dict[str, Callable[[str, Seen, Entry], None]] = {
    "none": check_none,
    "tool_calls": check_tool_calls,
    "tool_calls_reset": check_tool_calls_reset,
    "error_frame@3": check_error_frame,
    "reset@3": check_reset,
    "stall@2": check_stall,
    "eof@3": check_eof,
    "length": check_length,
    "content_filter@2": check_content_filter,
    "http_400": check_http,
    "http_429": check_http,
    "http_500": check_http,
    "http_503": check_http,
    "http_529": check_http,
    "slow_ttft": check_slow_ttft,
    "malformed_json@2": check_malformed_json,
    "unknown_event@2": check_unknown_event,
    "missing_fields@2": check_missing_fields,
    "huge_chunk@1": check_huge_chunk,
}


def _call_options(fault: str) -> tuple[dict[str, str], float]:
    if fault.startswith("stall"):
        return STALL_HEADERS, STALL_CLIENT_TIMEOUT
    return {}, 10.0


def _verify(server: ChaosServer, api: str, fault: str, seen: Seen) -> None:
    assert server.wait_idle()
    log = server.log
    assert len(log) == 1
    entry = log[0]
    assert (
        entry["endpoint"]
        == {"chat": "chat.completions", "responses": "responses", "messages": "messages"}[api]
    )
    assert entry["model"] == ("claude-sonnet-4-5" if api == "messages" else "gpt-4o-mini")
    assert entry["fault_source"] == "model"
    if seen.headers:
        assert seen.headers["x-chaos-fault"] == entry["fault"]
        assert seen.headers["x-request-id"] == entry["id"]
        assert seen.headers["content-type"].startswith("text/event-stream")
    CASES[fault](api, seen, entry)


def _client(api: str, openai_client: Any, anthropic_client: Any) -> Any:
    return anthropic_client if api == "messages" else openai_client


@pytest.mark.parametrize("fault", list(CASES))
@pytest.mark.parametrize("api", APIS)
def test_fault_sync(server: ChaosServer, oai: Any, claude: Any, api: str, fault: str) -> None:
    headers, timeout = _call_options(fault)
    seen = consume_sync(api, _client(api, oai, claude), fault, headers, timeout)
    _verify(server, api, fault, seen)


@pytest.mark.parametrize("fault", list(CASES))
@pytest.mark.parametrize("api", APIS)
async def test_fault_async(server: ChaosServer, api: str, fault: str) -> None:
    headers, timeout = _call_options(fault)
    async with async_client(api, server) as client:
        seen = await consume_async(api, client, fault, headers, timeout)
    _verify(server, api, fault, seen)


@pytest.mark.parametrize("api", APIS)
def test_stall_then_continue(server: ChaosServer, oai: Any, claude: Any, api: str) -> None:
    """A stall shorter than the client timeout delays the stream, which then completes."""
    seen = consume_sync(api, _client(api, oai, claude), "stall@4", {"x-chaos-stall-seconds": "0.3"}, 5.0)
    _done(seen)
    assert seen.text == text_of(TOKENS)
    assert seen.finish == FINISH[api]["stop"]
    assert server.wait_idle()
    assert server.log[0]["outcome"] == "completed"
    assert server.log[0]["duration"] >= 0.3


def test_anthropic_raw_transport_errors(server: ChaosServer, claude: Any) -> None:
    """Documents anthropic 2.x: transport errors while iterating are NOT wrapped in APIConnectionError."""
    reset = consume_sync("messages", claude, "reset@1")
    assert type(reset.error) is httpx2.RemoteProtocolError
    stall = consume_sync("messages", claude, "stall@1", STALL_HEADERS, STALL_CLIENT_TIMEOUT)
    assert type(stall.error) is httpx2.ReadTimeout


def test_openai_wraps_transport_errors(server: ChaosServer, oai: Any) -> None:
    """openai 3.x wraps mid-stream transport errors; the httpx2 error is the cause."""
    reset = consume_sync("chat", oai, "reset@1")
    assert type(reset.error) is openai.APIConnectionError
    assert isinstance(reset.error.__cause__, httpx2.RemoteProtocolError)
    stall = consume_sync("responses", oai, "stall@1", STALL_HEADERS, STALL_CLIENT_TIMEOUT)
    assert type(stall.error) is openai.APITimeoutError
    assert isinstance(stall.error.__cause__, httpx2.ReadTimeout)
