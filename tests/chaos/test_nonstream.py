"""Non-streamed calls: full bodies the SDKs parse, and the faults that apply to them."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import openai
import pytest

from otel_streamslo.chaos import ChaosServer

from .helpers import MESSAGES, PROMPT, TOKENS, async_client, text_of


def _chat(client: Any, model: str, **options: Any) -> Any:
    return client.chat.completions.create(model=model, messages=MESSAGES, **options)


def _responses(client: Any, model: str, **options: Any) -> Any:
    return client.responses.create(model=model, input=PROMPT, **options)


def _messages(client: Any, model: str, **options: Any) -> Any:
    return client.messages.create(model=model, max_tokens=1024, messages=MESSAGES, **options)


def _only_entry(server: ChaosServer) -> dict[str, Any]:
    assert server.wait_idle()
    (entry,) = server.log
    assert entry["stream"] is False
    return entry


def test_chat_completion(server: ChaosServer, oai: openai.OpenAI) -> None:
    raw = oai.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-mini"
    assert completion.choices[0].message.content == text_of(TOKENS)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == TOKENS
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + TOKENS
    assert raw.headers["content-type"] == "application/json"
    assert raw.headers["x-chaos-fault"] == "none"
    entry = _only_entry(server)
    assert (entry["outcome"], entry["tokens_sent"], entry["status"]) == ("completed", TOKENS, 200)
    assert raw.headers["x-request-id"] == entry["id"]


def test_response(server: ChaosServer, oai: openai.OpenAI) -> None:
    response = _responses(oai, "gpt-4o-mini")
    assert response.status == "completed"
    assert response.output_text == text_of(TOKENS)
    assert response.usage is not None
    assert response.usage.output_tokens == TOKENS
    assert _only_entry(server)["outcome"] == "completed"


def test_message(server: ChaosServer, claude: anthropic.Anthropic) -> None:
    message = _messages(claude, "claude-sonnet-4-5")
    assert message.model == "claude-sonnet-4-5"
    assert message.stop_reason == "end_turn"
    assert message.content[0].type == "text"
    assert message.content[0].text == text_of(TOKENS)
    assert message.usage.output_tokens == TOKENS
    assert _only_entry(server)["tokens_sent"] == TOKENS


def test_tool_calls(server: ChaosServer, oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    chat = _chat(oai, "gpt-4o-mini+tool_calls")
    call = chat.choices[0].message.tool_calls[0]
    assert chat.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city": "Paris"}')
    response = _responses(oai, "gpt-4o-mini+tool_calls")
    assert [(o.type, o.name, o.arguments) for o in response.output] == [
        ("function_call", "get_weather", '{"city": "Paris"}')
    ]
    message = _messages(claude, "claude-sonnet-4-5+tool_calls")
    assert message.stop_reason == "tool_use"
    tool = message.content[-1]
    assert (tool.type, tool.name, tool.input) == ("tool_use", "get_weather", {"city": "Paris"})


def test_length_and_content_filter(
    server: ChaosServer, oai: openai.OpenAI, claude: anthropic.Anthropic
) -> None:
    assert _chat(oai, "m+length@3").choices[0].finish_reason == "length"
    filtered = _chat(oai, "m+content_filter@2")
    assert (filtered.choices[0].finish_reason, filtered.choices[0].message.content) == (
        "content_filter",
        "tok0 tok1 ",
    )
    incomplete = _responses(oai, "m+length@3")
    assert incomplete.status == "incomplete"
    assert incomplete.incomplete_details is not None
    assert incomplete.incomplete_details.reason == "max_output_tokens"
    assert _messages(claude, "c+length").stop_reason == "max_tokens"
    assert _messages(claude, "c+content_filter").stop_reason == "refusal"
    assert server.wait_idle()
    assert [e["outcome"] for e in server.log] == [
        "length",
        "content_filter",
        "length",
        "length",
        "content_filter",
    ]


@pytest.mark.parametrize(
    ("fault", "openai_error", "anthropic_error"),
    [
        ("http_400", openai.BadRequestError, anthropic.BadRequestError),
        ("http_429", openai.RateLimitError, anthropic.RateLimitError),
        ("http_500", openai.InternalServerError, anthropic.InternalServerError),
        ("http_503", openai.InternalServerError, anthropic.ServiceUnavailableError),
        ("http_529", openai.InternalServerError, anthropic.OverloadedError),
        ("error_frame", openai.InternalServerError, anthropic.OverloadedError),
    ],
)
def test_http_faults(
    server: ChaosServer,
    oai: openai.OpenAI,
    claude: anthropic.Anthropic,
    fault: str,
    openai_error: type[Exception],
    anthropic_error: type[Exception],
) -> None:
    for call in (_chat, _responses):
        with pytest.raises(openai_error) as caught:
            call(oai, f"gpt-4o-mini+{fault}")
        assert type(caught.value) is openai_error
    with pytest.raises(anthropic_error) as anthropic_caught:
        _messages(claude, f"claude-sonnet-4-5+{fault}")
    assert type(anthropic_caught.value) is anthropic_error
    assert server.wait_idle()
    assert {e["outcome"] for e in server.log} == {"http_error"}


@pytest.mark.parametrize("fault", ["reset", "tool_calls_reset"])
def test_reset_drops_the_body(
    server: ChaosServer, oai: openai.OpenAI, claude: anthropic.Anthropic, fault: str
) -> None:
    with pytest.raises(openai.APIConnectionError) as caught:
        _chat(oai, f"m+{fault}")
    assert not isinstance(caught.value, openai.APITimeoutError)
    with pytest.raises(anthropic.APIConnectionError) as anthropic_caught:
        _messages(claude, f"c+{fault}")
    assert not isinstance(anthropic_caught.value, anthropic.APITimeoutError)
    assert server.wait_idle()
    assert [e["outcome"] for e in server.log] == ["reset", "reset"]


def test_stall_times_out(server: ChaosServer, oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    with pytest.raises(openai.APITimeoutError):
        _responses(oai, "m+stall", timeout=0.2)
    with pytest.raises(anthropic.APITimeoutError):
        _messages(claude, "c+stall", timeout=0.2)
    assert server.wait_idle()
    assert [e["outcome"] for e in server.log] == ["client_disconnected"] * 2


def test_slow_ttft_delays_the_body(server: ChaosServer, oai: openai.OpenAI) -> None:
    started = time.monotonic()
    completion = _chat(oai, "m+slow_ttft", extra_headers={"x-chaos-ttft-seconds": "0.3"})
    assert time.monotonic() - started >= 0.3
    assert completion.choices[0].finish_reason == "stop"


async def test_async_clients(server: ChaosServer) -> None:
    async with async_client("chat", server) as client:
        chat = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert chat.choices[0].message.content == text_of(TOKENS)
        with pytest.raises(openai.RateLimitError):
            await client.responses.create(model="gpt-4o-mini+http_429", input=PROMPT)
    async with async_client("messages", server) as aclient:
        message = await aclient.messages.create(model="c", max_tokens=10, messages=MESSAGES)
        assert message.usage.output_tokens == min(10, TOKENS)
        with pytest.raises(anthropic.APIConnectionError):
            await aclient.messages.create(model="c+reset", max_tokens=10, messages=MESSAGES)
