"""Request handling: validation errors, fault selection precedence, per-request headers, usage, log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from otel_streamslo.chaos import ChaosServer

from .helpers import MESSAGES, PROMPT, TOKENS, consume_sync, text_of

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
MESSAGES_PATH = "/v1/messages"
VALID: dict[str, dict[str, Any]] = {
    CHAT: {"model": "gpt-4o-mini", "messages": MESSAGES},
    RESPONSES: {"model": "gpt-4o-mini", "input": PROMPT},
    MESSAGES_PATH: {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": MESSAGES},
}


@pytest.fixture
def http(server: ChaosServer) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def _error_message(path: str, response: httpx2.Response) -> str:
    body = response.json()
    if path == MESSAGES_PATH:
        assert body["type"] == "error"
        assert body["error"]["type"] == "invalid_request_error"
        return str(body["error"]["message"])
    assert body["error"]["type"] == "invalid_request_error"
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return str(body["error"]["message"])


def _without(path: str, key: str) -> dict[str, Any]:
    return {k: v for k, v in VALID[path].items() if k != key}


BAD_BODIES: list[tuple[str, Any, str]] = [
    (CHAT, {**VALID[CHAT], "model": ""}, "'model' is required"),
    (CHAT, _without(CHAT, "model"), "'model' is required"),
    (CHAT, {**VALID[CHAT], "model": 42}, "'model' is required"),
    (CHAT, _without(CHAT, "messages"), "'messages' is required"),
    (CHAT, {**VALID[CHAT], "messages": "hi"}, "'messages' must be a non-empty array"),
    (CHAT, {**VALID[CHAT], "messages": []}, "'messages' must be a non-empty array"),
    (CHAT, {**VALID[CHAT], "messages": ["hi"]}, "must be an object"),
    (CHAT, {**VALID[CHAT], "stream": "yes"}, "'stream' must be a boolean"),
    (CHAT, {**VALID[CHAT], "max_tokens": 0}, "'max_tokens' must be an integer >= 1"),
    (CHAT, {**VALID[CHAT], "max_completion_tokens": True}, "'max_completion_tokens' must be an integer"),
    (CHAT, {**VALID[CHAT], "stream_options": "x"}, "'stream_options' must be an object"),
    (CHAT, {**VALID[CHAT], "model": "gpt-4o+bogus"}, "unknown fault 'bogus'"),
    (CHAT, {**VALID[CHAT], "model": "gpt-4o+reset@x"}, "non-negative integer"),
    (RESPONSES, _without(RESPONSES, "input"), "'input' is required"),
    (RESPONSES, {**VALID[RESPONSES], "input": 3}, "'input' must be a string or a non-empty array"),
    (RESPONSES, {**VALID[RESPONSES], "max_output_tokens": "9"}, "'max_output_tokens' must be an integer"),
    (RESPONSES, {**VALID[RESPONSES], "instructions": 1}, "'instructions' must be a string"),
    (MESSAGES_PATH, _without(MESSAGES_PATH, "messages"), "'messages' is required"),
    (MESSAGES_PATH, {**VALID[MESSAGES_PATH], "system": 5}, "'system' must be a string"),
    (MESSAGES_PATH, {**VALID[MESSAGES_PATH], "max_tokens": -3}, "'max_tokens' must be an integer >= 1"),
    (MESSAGES_PATH, [1, 2], "must be a JSON object"),
]


@pytest.mark.parametrize(("path", "body", "message"), BAD_BODIES)
def test_bad_bodies_get_400(
    server: ChaosServer, http: httpx2.Client, path: str, body: Any, message: str
) -> None:
    response = http.post(path, json=body)
    assert response.status_code == 400
    assert message in _error_message(path, response)
    assert server.wait_idle()
    (entry,) = server.log
    assert (entry["outcome"], entry["status"]) == ("rejected", 400)
    assert message in entry["error"]
    assert response.headers["x-request-id"] == entry["id"]


@pytest.mark.parametrize("path", [CHAT, RESPONSES, MESSAGES_PATH])
@pytest.mark.parametrize(
    ("content", "message"),
    [(b"{not json", "not valid JSON"), (b"", "body is empty"), (b"\xff\xfe", "not valid")],
)
def test_invalid_json_gets_400(http: httpx2.Client, path: str, content: bytes, message: str) -> None:
    response = http.post(path, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert message in _error_message(path, response)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"x-chaos-fault": "explode"}, "Header 'x-chaos-fault': unknown fault 'explode'"),
        ({"x-chaos-fault": "reset@-2"}, "non-negative integer"),
        ({"x-chaos-tokens": "many"}, "Header 'x-chaos-tokens' must be an integer"),
        ({"x-chaos-tokens": "-1"}, "Header 'x-chaos-tokens' must be in"),
        ({"x-chaos-chunk-delay": "nan"}, "Header 'x-chaos-chunk-delay' must be in"),
        ({"x-chaos-stall-seconds": "soon"}, "Header 'x-chaos-stall-seconds' must be a number"),
        ({"x-chaos-ttft-seconds": "1e9"}, "Header 'x-chaos-ttft-seconds' must be in"),
    ],
)
@pytest.mark.parametrize("path", [CHAT, MESSAGES_PATH])
def test_bad_headers_get_400(http: httpx2.Client, path: str, headers: dict[str, str], message: str) -> None:
    response = http.post(path, json=VALID[path], headers=headers)
    assert response.status_code == 400
    assert message in _error_message(path, response)


def test_sdks_raise_bad_request(server: ChaosServer, oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    with pytest.raises(openai.BadRequestError, match="unknown fault"):
        oai.chat.completions.create(model="gpt-4o-mini+nope", messages=MESSAGES)
    with pytest.raises(anthropic.BadRequestError, match="unknown fault"):
        claude.messages.create(model="claude+nope", max_tokens=5, messages=MESSAGES)


def test_unknown_routes(http: httpx2.Client) -> None:
    missing = http.post("/v1/embeddings", json={})
    assert missing.status_code == 404
    assert "/v1/embeddings" in missing.json()["error"]["message"]
    wrong_method = http.get(CHAT)
    assert wrong_method.status_code == 405
    assert http.get("/healthz").json() == {"status": "ok"}


def test_header_beats_model_suffix(server: ChaosServer, oai: openai.OpenAI) -> None:
    seen = consume_sync("chat", oai, "reset@1", {"x-chaos-fault": "length@2"})
    assert seen.error is None
    assert (seen.finish, seen.text) == ("length", text_of(2))
    assert seen.items[0].model == "gpt-4o-mini"
    assert seen.headers["x-chaos-fault"] == "length@2"
    assert server.wait_idle()
    assert server.log[0]["fault_source"] == "header"


def test_header_none_disables_faults(server: ChaosServer, claude: anthropic.Anthropic) -> None:
    seen = consume_sync("messages", claude, "http_500", {"x-chaos-fault": "none"})
    assert seen.error is None
    assert seen.finish == "end_turn"


def test_default_position_is_half_the_tokens(server: ChaosServer, oai: openai.OpenAI) -> None:
    seen = consume_sync("responses", oai, "eof", {"x-chaos-tokens": "10"})
    assert seen.text == text_of(5)
    assert seen.headers["x-chaos-fault"] == "eof@5"


def test_tokens_header_and_max_tokens_bound(
    server: ChaosServer, oai: openai.OpenAI, claude: anthropic.Anthropic
) -> None:
    many = consume_sync("chat", oai, None, {"x-chaos-tokens": "20"})
    assert (many.text, many.output_tokens) == (text_of(20), 20)
    capped = oai.chat.completions.create(model="m", messages=MESSAGES, max_completion_tokens=3)
    assert capped.choices[0].message.content == text_of(3)
    capped_response = oai.responses.create(model="m", input=PROMPT, max_output_tokens=4)
    assert capped_response.output_text == text_of(4)
    not_raised = claude.messages.create(model="c", max_tokens=1000, messages=MESSAGES)
    assert not_raised.usage.output_tokens == TOKENS
    zero = consume_sync("messages", claude, None, {"x-chaos-tokens": "0"})
    assert (zero.error, zero.text, zero.output_tokens) == (None, "", 0)


def test_chunk_delay(server: ChaosServer, oai: openai.OpenAI) -> None:
    seen = consume_sync("chat", oai, None, {"x-chaos-chunk-delay": "0.05", "x-chaos-tokens": "5"})
    assert seen.error is None
    assert server.wait_idle()
    assert server.log[0]["duration"] >= 0.2


def test_input_tokens_are_deterministic(server: ChaosServer, oai: openai.OpenAI) -> None:
    def prompt_tokens(text: str) -> int:
        usage = oai.chat.completions.create(model="m", messages=[{"role": "user", "content": text}]).usage
        assert usage is not None
        return usage.prompt_tokens

    short, again, long = prompt_tokens("hi"), prompt_tokens("hi"), prompt_tokens("hi " * 200)
    assert short == again
    assert long > short + 100


def test_usage_only_with_include_usage(server: ChaosServer, oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    chunks = list(stream)
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)


def test_anthropic_beta_query(server: ChaosServer, claude: anthropic.Anthropic, http: httpx2.Client) -> None:
    response = http.post(
        "/v1/messages?beta=true", json={**VALID[MESSAGES_PATH], "model": "claude-sonnet-4-5+length@2"}
    )
    assert response.status_code == 200
    assert response.json()["stop_reason"] == "max_tokens"
    assert response.headers["request-id"] == response.headers["x-request-id"]
    beta = claude.beta.messages.create(model="claude-sonnet-4-5", max_tokens=50, messages=MESSAGES)
    assert beta.stop_reason == "end_turn"


def test_log_endpoint(server: ChaosServer, oai: openai.OpenAI, http: httpx2.Client) -> None:
    consume_sync("chat", oai, "reset@2")
    assert server.wait_idle()
    entries = http.get("/_chaos/log").json()
    assert entries == server.log
    (entry,) = entries
    assert {"id", "endpoint", "model", "fault", "tokens_sent", "status", "outcome"} <= set(entry)
    assert (entry["endpoint"], entry["fault"], entry["tokens_sent"], entry["outcome"]) == (
        "chat.completions",
        "reset@2",
        2,
        "reset",
    )
    assert http.delete("/_chaos/log").status_code == 204
    assert http.get("/_chaos/log").json() == []
