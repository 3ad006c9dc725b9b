"""The Gemini dialect through the real google-genai SDK (httpx2 transport) over loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

import httpx2
import pytest
from google import genai
from google.genai import errors, types

from otel_streamslo.chaos import ChaosServer

from .helpers import TOKENS, text_of

MODEL = "gemini-2.5-flash"
NO_RETRY = types.HttpRetryOptions(attempts=1)


@pytest.fixture(scope="module")
def _client(chaos: ChaosServer) -> Iterator[genai.Client]:
    http = types.HttpOptions(base_url=chaos.gemini_base_url, retry_options=NO_RETRY, timeout=10_000)
    client = genai.Client(api_key="test", http_options=http)
    yield client  # kept referenced: a collected Client closes its HTTP client under live generators
    client.close()


@pytest.fixture
def client(server: ChaosServer, _client: genai.Client) -> genai.Client:
    """google-genai client without retries, on a clean request log."""
    return _client


@dataclass
class Got:
    """What a google-genai user observed while consuming one stream."""

    chunks: list[types.GenerateContentResponse] = field(default_factory=list)
    error: Optional[BaseException] = None

    @property
    def text(self) -> str:
        return "".join(part.text or "" for part in self.parts)

    @property
    def parts(self) -> list[types.Part]:
        return [p for c in self.chunks for cand in c.candidates or [] for p in cand.content.parts or []]

    @property
    def finish(self) -> Optional[types.FinishReason]:
        last = self.chunks[-1].candidates if self.chunks else None
        return last[0].finish_reason if last else None

    @property
    def usage(self) -> types.GenerateContentResponseUsageMetadata:
        usage = self.chunks[-1].usage_metadata
        assert usage is not None
        return usage


def stream(client: genai.Client, fault: Optional[str], **headers: str) -> Got:
    """Consume one ``generate_content_stream`` call; record chunks and the exception, if any."""
    got = Got()
    model = MODEL if fault is None else f"{MODEL}+{fault}"
    config = types.GenerateContentConfig(http_options=types.HttpOptions(headers=headers)) if headers else None
    try:
        for chunk in client.models.generate_content_stream(model=model, contents="hi", config=config):
            got.chunks.append(chunk)
    except Exception as exc:
        got.error = exc
    return got


def _entry(server: ChaosServer, outcome: str, tokens: int) -> dict[str, Any]:
    (entry,) = server.log
    assert (entry["endpoint"], entry["model"], entry["stream"]) == (
        "gemini.stream_generate_content",
        MODEL,
        True,
    )
    assert (entry["outcome"], entry["tokens_sent"]) == (outcome, tokens)
    return entry


def test_completed_stream_has_running_usage(client: genai.Client, server: ChaosServer) -> None:
    got = stream(client, None)
    assert got.error is None
    assert got.text == text_of(TOKENS)
    assert got.finish == types.FinishReason.STOP
    running = [c.usage_metadata.candidates_token_count for c in got.chunks if c.usage_metadata]
    assert running == [*range(1, TOKENS + 1), TOKENS]  # running totals: the last one is the answer
    assert got.usage.total_token_count == got.usage.prompt_token_count + TOKENS
    assert all(c.model_version == MODEL for c in got.chunks)  # the +fault suffix is not echoed
    _entry(server, "completed", TOKENS)


@pytest.mark.parametrize(
    ("fault", "finish", "tokens"),
    [
        ("length@3", types.FinishReason.MAX_TOKENS, 3),
        ("content_filter@2", types.FinishReason.SAFETY, 2),
        ("eof@2", None, 2),
    ],
)
def test_finish_reasons(
    client: genai.Client, server: ChaosServer, fault: str, finish: Optional[types.FinishReason], tokens: int
) -> None:
    got = stream(client, fault)
    assert got.error is None
    assert got.text == text_of(tokens)
    assert got.finish == finish  # eof: a clean end whose last candidate has no finish reason
    assert got.usage.candidates_token_count == tokens
    _entry(server, fault.split("@")[0], tokens)


def test_blocked_prompt(client: genai.Client, server: ChaosServer) -> None:
    got = stream(client, "content_filter@0")
    assert got.error is None
    (chunk,) = got.chunks
    assert not chunk.candidates
    assert chunk.prompt_feedback is not None
    assert chunk.prompt_feedback.block_reason == types.BlockedReason.SAFETY


@pytest.mark.parametrize(
    ("kind", "code", "exc_type"),
    [
        (None, 500, errors.ServerError),
        ("UNAVAILABLE", 503, errors.ServerError),
        ("RESOURCE_EXHAUSTED", 429, errors.ClientError),
    ],
)
def test_in_stream_error_frame(
    client: genai.Client, server: ChaosServer, kind: Optional[str], code: int, exc_type: type[Exception]
) -> None:
    headers = {"x-chaos-error-type": kind} if kind else {}
    got = stream(client, "error_frame@2", **headers)
    assert type(got.error) is exc_type
    assert isinstance(got.error, errors.APIError)
    assert got.error.code == code
    assert got.error.status == (kind or "INTERNAL")
    assert got.error.response.status_code == 200  # in-stream: the HTTP status was already 200
    assert got.text == text_of(2)
    _entry(server, "error_frame", 2)


@pytest.mark.parametrize(
    ("fault", "code"), [("http_400", 400), ("http_429", 429), ("http_500", 500), ("http_503", 503)]
)
def test_http_errors_before_stream(client: genai.Client, server: ChaosServer, fault: str, code: int) -> None:
    got = stream(client, fault)
    assert isinstance(got.error, errors.ClientError if code < 500 else errors.ServerError)
    assert got.error.code == code
    assert got.error.response.status_code == code
    assert got.chunks == []
    (entry,) = server.log
    assert (entry["outcome"], entry["status"]) == ("http_error", code)


@pytest.mark.parametrize("fault", ["reset@2", "tool_calls_reset"])
def test_connection_drop_is_raw_httpx2(client: genai.Client, server: ChaosServer, fault: str) -> None:
    got = stream(client, fault)
    assert isinstance(got.error, httpx2.RemoteProtocolError)  # google-genai does not wrap transport errors
    assert len(got.chunks) == (2 if fault == "reset@2" else 1)


def test_stall_times_out(client: genai.Client, server: ChaosServer) -> None:
    config = types.GenerateContentConfig(
        http_options=types.HttpOptions(timeout=1000, headers={"x-chaos-stall-seconds": "4"})
    )
    chunks = []
    with pytest.raises(httpx2.ReadTimeout):
        for chunk in client.models.generate_content_stream(
            model=f"{MODEL}+stall@1", contents="hi", config=config
        ):
            chunks.append(chunk)
    assert len(chunks) == 1


def test_malformed_json(client: genai.Client, server: ChaosServer) -> None:
    got = stream(client, "malformed_json@1")
    assert isinstance(got.error, errors.UnknownApiResponseError)
    assert isinstance(got.error.__cause__, json.JSONDecodeError)
    assert got.text == text_of(1)


@pytest.mark.parametrize("fault", ["unknown_event@1", "missing_fields@1"])
def test_odd_chunks_pass_through(client: genai.Client, server: ChaosServer, fault: str) -> None:
    got = stream(client, fault)
    assert got.error is None
    assert len(got.chunks) == TOKENS + 2  # the odd chunk, the tokens, the finish chunk
    assert got.text == text_of(TOKENS)
    assert got.finish == types.FinishReason.STOP


def test_tool_call(client: genai.Client, server: ChaosServer) -> None:
    got = stream(client, "tool_calls")
    calls = [p.function_call for p in got.parts if p.function_call]
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert got.finish == types.FinishReason.STOP


def test_non_streamed_generate_content(client: genai.Client, server: ChaosServer) -> None:
    reply = client.models.generate_content(model=f"{MODEL}+length@3", contents="hi")
    assert reply.text == text_of(3)
    assert reply.candidates and reply.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert reply.usage_metadata and reply.usage_metadata.candidates_token_count == 3
    with pytest.raises(errors.ServerError) as caught:
        client.models.generate_content(model=f"{MODEL}+error_frame", contents="hi")
    assert caught.value.code == 500
    assert [e["endpoint"] for e in server.log] == ["gemini.generate_content"] * 2


def test_max_output_tokens_caps_the_stream(client: genai.Client, server: ChaosServer) -> None:
    config = types.GenerateContentConfig(max_output_tokens=3)
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="hi", config=config))
    assert "".join(c.text or "" for c in chunks) == text_of(3)


def test_bad_error_type_header_is_rejected(client: genai.Client, server: ChaosServer) -> None:
    got = stream(client, "error_frame@1", **{"x-chaos-error-type": "NOPE"})
    assert isinstance(got.error, errors.ClientError)
    assert got.error.code == 400
    assert "x-chaos-error-type" in str(got.error)


async def test_async_stream_and_error_frame(server: ChaosServer) -> None:
    http = types.HttpOptions(base_url=server.base_url, retry_options=NO_RETRY, timeout=10_000)
    client = genai.Client(api_key="test", http_options=http)
    texts = [
        c.text async for c in await client.aio.models.generate_content_stream(model=MODEL, contents="hi")
    ]
    assert "".join(t or "" for t in texts) == text_of(TOKENS)
    seen = 0
    with pytest.raises(errors.ServerError) as caught:
        async for _ in await client.aio.models.generate_content_stream(
            model=f"{MODEL}+error_frame@2", contents="hi"
        ):
            seen += 1
    assert (seen, caught.value.code) == (2, 500)
    await client.aio.aclose()
    client.close()


def test_slow_ttft_and_huge_chunk(client: genai.Client, server: ChaosServer) -> None:
    started = time.monotonic()
    first: Optional[float] = None
    for chunk in client.models.generate_content_stream(model=f"{MODEL}+slow_ttft", contents="hi"):
        if chunk.text and first is None:
            first = time.monotonic() - started
    assert first is not None and first >= 0.3  # the session server's ttft_seconds
    huge = stream(client, "huge_chunk@1")
    assert huge.error is None
    assert max(len(p.text or "") for p in huge.parts) == 1024 * 1024


def test_request_validation_and_unknown_paths(server: ChaosServer) -> None:
    url = f"{server.base_url}/v1beta/models/{MODEL}"
    reply = httpx2.post(f"{url}:streamGenerateContent?alt=sse", json={"contents": []})  # the SDK refuses []
    assert reply.status_code == 400
    assert reply.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert server.log[0]["outcome"] == "rejected"
    reply = httpx2.post(f"{url}:countTokens", json={})
    assert reply.status_code == 404
    assert reply.json()["error"]["status"] == "NOT_FOUND"


def test_v1_api_version_and_request_id(server: ChaosServer) -> None:
    http = types.HttpOptions(base_url=server.gemini_base_url, api_version="v1", retry_options=NO_RETRY)
    client = genai.Client(api_key="test", http_options=http)
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="hi"))
    assert "".join(c.text or "" for c in chunks) == text_of(TOKENS)
    response = chunks[0].sdk_http_response
    assert response is not None and response.headers is not None
    (entry,) = server.log
    assert response.headers["x-request-id"] == entry["id"]
    client.close()


def test_error_as_the_very_first_event(client: genai.Client, server: ChaosServer) -> None:
    got = stream(client, "error_frame@0")
    assert isinstance(got.error, errors.ServerError)
    assert got.chunks == []
    assert got.error.response.status_code == 200  # same class as an HTTP 500; the 200 tells it apart
    _entry(server, "error_frame", 0)
