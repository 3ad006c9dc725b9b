"""The SDKs' own stream accumulators (``.stream()`` helpers) accept the chaos provider's output."""

from __future__ import annotations

import anthropic
import openai
import pytest

from otel_streamslo.chaos import ChaosServer

from .helpers import MESSAGES, PROMPT, TOKENS, async_client, text_of


def test_chat_stream_helper(server: ChaosServer, oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(
        model="gpt-4o-mini", messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert deltas == ["", *(f"tok{i} " for i in range(TOKENS))]  # the role chunk carries content ""
    assert final.choices[0].message.content == text_of(TOKENS)
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None and final.usage.completion_tokens == TOKENS


def test_chat_stream_helper_tool_calls(server: ChaosServer, oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(model="gpt-4o-mini+tool_calls", messages=MESSAGES) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_completion()
    assert "tool_calls.function.arguments.done" in events
    calls = final.choices[0].message.tool_calls
    assert calls is not None
    call = calls[0]
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city": "Paris"}')


@pytest.mark.parametrize("fault", ["none", "tool_calls", "length"])
def test_responses_stream_helper(server: ChaosServer, oai: openai.OpenAI, fault: str) -> None:
    with oai.responses.stream(model=f"gpt-4o-mini+{fault}", input=PROMPT) as stream:
        events = [event.type for event in stream]
    if fault == "length":
        assert events[-1] == "response.incomplete"
        return
    final = stream.get_final_response()
    assert events[-1] == "response.completed"
    if fault == "tool_calls":
        assert final.output[0].type == "function_call"
        assert final.output[0].arguments == '{"city": "Paris"}'
    else:
        assert final.output_text == text_of(TOKENS)
        assert final.usage is not None and final.usage.output_tokens == TOKENS


def test_responses_stream_helper_error_frame(server: ChaosServer, oai: openai.OpenAI) -> None:
    with oai.responses.stream(model="gpt-4o-mini+error_frame@2", input=PROMPT) as stream:
        events = [event.type for event in stream]
        assert events[-1] == "error"
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            stream.get_final_response()


@pytest.mark.parametrize("fault", ["none", "tool_calls"])
def test_anthropic_stream_helper(server: ChaosServer, claude: anthropic.Anthropic, fault: str) -> None:
    with claude.messages.stream(
        model=f"claude-sonnet-4-5+{fault}", max_tokens=100, messages=MESSAGES
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    if fault == "tool_calls":
        assert text == text_of(2)
        assert final.stop_reason == "tool_use"
        tool = final.content[1]
        assert isinstance(tool, anthropic.types.ToolUseBlock)
        assert (tool.type, tool.name, tool.input) == ("tool_use", "get_weather", {"city": "Paris"})
    else:
        assert text == text_of(TOKENS)
        assert final.stop_reason == "end_turn"
        assert final.usage.output_tokens == TOKENS
        assert final.usage.input_tokens > 0


async def test_async_stream_helpers(server: ChaosServer) -> None:
    async with async_client("messages", server) as claude:
        async with claude.messages.stream(model="claude-x", max_tokens=100, messages=MESSAGES) as stream:
            final = await stream.get_final_message()
        assert final.content[0].text == text_of(TOKENS)
    async with async_client("chat", server) as oai:
        async with oai.responses.stream(model="gpt-4o-mini", input=PROMPT) as rstream:
            response = await rstream.get_final_response()
        assert response.output_text == text_of(TOKENS)
