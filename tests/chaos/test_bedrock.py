"""The Bedrock dialects through real boto3/botocore (urllib3 transport) over loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from otel_streamslo.chaos import ChaosServer

from .helpers import PARIS, TOKENS, text_of

CLAUDE = "anthropic.claude-3-5-haiku-20241022-v1:0"
LLAMA = "meta.llama3-1-8b-instruct-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "hi"}]}]
IN_STREAM = [
    "modelStreamErrorException",
    "internalServerException",
    "serviceUnavailableException",
    "throttlingException",
]


def _client(base_url: str, read_timeout: float = 10) -> Any:
    config = Config(retries={"total_max_attempts": 1}, read_timeout=read_timeout, connect_timeout=5)
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=base_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=config,
    )


@pytest.fixture(scope="module")
def _bedrock(chaos: ChaosServer) -> Iterator[Any]:
    client = _client(chaos.bedrock_endpoint_url)
    yield client
    client.close()


@pytest.fixture
def bedrock(server: ChaosServer, _bedrock: Any) -> Any:
    """bedrock-runtime client without retries, on a clean request log."""
    return _bedrock


def _with_headers(client: Any, headers: dict[str, str]) -> None:
    def add(request: Any, **_: Any) -> None:
        for name, value in headers.items():
            request.headers[name] = value

    client.meta.events.register_first("before-sign.bedrock-runtime.*", add, unique_id="chaos-headers")


@dataclass
class Events:
    """What a boto3 user observed while iterating one ``converse_stream``."""

    items: list[dict[str, Any]] = field(default_factory=list)
    error: Optional[BaseException] = None

    @property
    def names(self) -> list[str]:
        return [next(iter(item)) for item in self.items]

    @property
    def text(self) -> str:
        deltas = (i["contentBlockDelta"].get("delta", {}) for i in self.items if "contentBlockDelta" in i)
        return "".join(d.get("text", "") for d in deltas)

    def one(self, name: str) -> dict[str, Any]:
        (found,) = (item[name] for item in self.items if name in item)
        return found


def converse(client: Any, fault: Optional[str], model: str = CLAUDE, **request: Any) -> Events:
    got = Events()
    model_id = model if fault is None else f"{model}+{fault}"
    try:
        response = client.converse_stream(modelId=model_id, messages=MESSAGES, **request)
        for event in response["stream"]:
            got.items.append(event)
    except Exception as exc:
        got.error = exc
    return got


def _entry(server: ChaosServer, outcome: str, tokens: int) -> dict[str, Any]:
    (entry,) = server.log
    assert (entry["outcome"], entry["tokens_sent"], entry["status"]) == (outcome, tokens, 200)
    return entry


def test_completed_stream(bedrock: Any, server: ChaosServer) -> None:
    got = converse(bedrock, None)
    assert got.error is None
    assert got.names == [
        "messageStart",
        *["contentBlockDelta"] * TOKENS,
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert got.text == text_of(TOKENS)
    assert got.one("messageStop") == {"stopReason": "end_turn"}
    usage = got.one("metadata")["usage"]
    assert usage["outputTokens"] == TOKENS
    assert usage["totalTokens"] == usage["inputTokens"] + TOKENS > TOKENS
    entry = _entry(server, "completed", TOKENS)
    assert (entry["endpoint"], entry["model"]) == ("bedrock.converse_stream", CLAUDE)


@pytest.mark.parametrize(
    ("fault", "stop", "tokens"),
    [("length@3", "max_tokens", 3), ("content_filter@2", "content_filtered", 2)],
)
def test_stop_reasons(bedrock: Any, server: ChaosServer, fault: str, stop: str, tokens: int) -> None:
    got = converse(bedrock, fault)
    assert got.error is None
    assert got.one("messageStop") == {"stopReason": stop}
    assert got.one("metadata")["usage"]["outputTokens"] == tokens
    assert got.text == text_of(tokens)


def test_eof_ends_without_message_stop(bedrock: Any, server: ChaosServer) -> None:
    got = converse(bedrock, "eof@2")
    assert got.error is None
    assert got.names == ["messageStart", "contentBlockDelta", "contentBlockDelta"]
    _entry(server, "eof", 2)


@pytest.mark.parametrize("kind", IN_STREAM)
def test_in_stream_exceptions(bedrock: Any, server: ChaosServer, kind: str) -> None:
    _with_headers(bedrock, {"x-chaos-error-type": kind})
    try:
        got = converse(bedrock, "error_frame@2")
    finally:
        bedrock.meta.events.unregister("before-sign.bedrock-runtime.*", unique_id="chaos-headers")
    assert type(got.error) is EventStreamError
    assert got.error.response["Error"]["Code"] == kind
    assert got.text == text_of(2)
    _entry(server, "error_frame", 2)


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("http_400", 400, "ValidationException"),
        ("http_429", 429, "ThrottlingException"),
        ("http_500", 500, "InternalServerException"),
        ("http_503", 503, "ServiceUnavailableException"),
    ],
)
def test_http_errors_before_stream(
    bedrock: Any, server: ChaosServer, fault: str, status: int, code: str
) -> None:
    got = converse(bedrock, fault)
    assert isinstance(got.error, ClientError) and not isinstance(got.error, EventStreamError)
    assert got.error.response["Error"]["Code"] == code
    assert got.error.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert got.items == []


@pytest.mark.parametrize(("fault", "items"), [("reset@2", 3), ("tool_calls_reset", 10)])
def test_connection_drop_is_raw_urllib3(bedrock: Any, server: ChaosServer, fault: str, items: int) -> None:
    got = converse(bedrock, fault)
    assert isinstance(got.error, ProtocolError)  # botocore does not wrap it while iterating
    assert len(got.items) == items
    assert "messageStop" not in got.names


def test_stall_read_timeout(server: ChaosServer) -> None:
    client = _client(server.base_url, read_timeout=1)
    _with_headers(client, {"x-chaos-stall-seconds": "4"})
    got = converse(client, "stall@1")
    client.close()
    assert isinstance(got.error, ReadTimeoutError)
    assert got.names == ["messageStart", "contentBlockDelta"]


def test_tool_use(bedrock: Any, server: ChaosServer) -> None:
    got = converse(bedrock, "tool_calls")
    start = got.one("contentBlockStart")["start"]["toolUse"]
    assert start["name"] == "get_weather"
    fragments = [
        i["contentBlockDelta"]["delta"]["toolUse"]["input"] for i in got.items if "contentBlockDelta" in i
    ]
    assert "".join(fragments) == PARIS
    assert got.one("messageStop") == {"stopReason": "tool_use"}


def test_odd_events(bedrock: Any, server: ChaosServer) -> None:
    unknown = converse(bedrock, "unknown_event@1")  # botocore skips event types its model lacks
    assert unknown.error is None and unknown.text == text_of(TOKENS)
    assert unknown.names == converse(bedrock, None).names  # nothing shows for the unknown event
    malformed = converse(bedrock, "malformed_json@1")  # a non-JSON payload parses to an empty member
    assert malformed.error is None
    assert malformed.items[2] == {"contentBlockDelta": {}}
    missing = converse(bedrock, "missing_fields@1")
    assert missing.items[2] == {"contentBlockDelta": {"contentBlockIndex": 0}}


def test_max_tokens_caps_the_stream(bedrock: Any, server: ChaosServer) -> None:
    got = converse(bedrock, None, inferenceConfig={"maxTokens": 3})
    assert got.text == text_of(3)
    assert got.one("messageStop") == {"stopReason": "end_turn"}


def invoke(client: Any, model: str, body: dict[str, Any]) -> tuple[list[dict[str, Any]], Optional[Exception]]:
    chunks: list[dict[str, Any]] = []
    try:
        response = client.invoke_model_with_response_stream(modelId=model, body=json.dumps(body))
        for event in response["body"]:
            chunks.append(json.loads(event["chunk"]["bytes"]))
    except Exception as exc:
        return chunks, exc
    return chunks, None


CLAUDE_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}


def test_invoke_anthropic_events(bedrock: Any, server: ChaosServer) -> None:
    chunks, error = invoke(bedrock, CLAUDE, CLAUDE_BODY)
    assert error is None
    types = [c["type"] for c in chunks]
    assert types[:3] == ["message_start", "content_block_start", "ping"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta")
    assert text == text_of(TOKENS)
    assert chunks[-2]["delta"]["stop_reason"] == "end_turn"
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == TOKENS
    (entry,) = server.log
    assert entry["endpoint"] == "bedrock.invoke_model_with_response_stream"


def test_invoke_anthropic_faults(bedrock: Any, server: ChaosServer) -> None:
    chunks, error = invoke(bedrock, f"{CLAUDE}+error_frame@2", CLAUDE_BODY)
    assert type(error) is EventStreamError and error.response["Error"]["Code"] == "modelStreamErrorException"
    assert [c["type"] for c in chunks].count("content_block_delta") == 2
    _, error = invoke(bedrock, f"{CLAUDE}+reset@2", CLAUDE_BODY)
    assert isinstance(error, ProtocolError)
    chunks, error = invoke(bedrock, f"{CLAUDE}+length@3", CLAUDE_BODY)
    assert error is None and chunks[-2]["delta"]["stop_reason"] == "max_tokens"
    _, error = invoke(bedrock, f"{CLAUDE}+malformed_json@1", CLAUDE_BODY)
    assert isinstance(error, json.JSONDecodeError)  # the model's JSON inside `bytes` is cut


def test_invoke_llama(bedrock: Any, server: ChaosServer) -> None:
    body = {"prompt": "hi", "max_gen_len": 5}
    chunks, error = invoke(bedrock, LLAMA, body)
    assert error is None
    assert "".join(c.get("generation", "") for c in chunks) == text_of(5)
    assert chunks[0]["prompt_token_count"] > 0
    assert (chunks[-1]["stop_reason"], chunks[-1]["generation_token_count"]) == ("stop", 5)
    chunks, error = invoke(bedrock, f"{LLAMA}+length@2", body)
    assert error is None and chunks[-1]["stop_reason"] == "length"
    chunks, error = invoke(bedrock, f"{LLAMA}+content_filter@1", body)
    assert chunks[-1]["amazon-bedrock-guardrailAction"] == "INTERVENED"
    _, error = invoke(bedrock, f"{LLAMA}+error_frame@1", body)
    assert isinstance(error, EventStreamError)


def test_invoke_unknown_family_is_a_validation_error(bedrock: Any, server: ChaosServer) -> None:
    _, error = invoke(bedrock, "amazon.titan-text-express-v1", {"inputText": "hi"})
    assert isinstance(error, ClientError)
    assert error.response["Error"]["Code"] == "ValidationException"
    assert server.log[0]["outcome"] == "rejected"


def test_slow_ttft_huge_chunk_and_request_id(bedrock: Any, server: ChaosServer) -> None:
    started = time.monotonic()
    response = bedrock.converse_stream(modelId=f"{CLAUDE}+slow_ttft", messages=MESSAGES)
    first: Optional[float] = None
    for event in response["stream"]:
        if "contentBlockDelta" in event and first is None:
            first = time.monotonic() - started
    assert first is not None and first >= 0.3  # the session server's ttft_seconds
    assert response["ResponseMetadata"]["RequestId"] == server.log[0]["id"]
    huge = converse(bedrock, "huge_chunk@1")
    assert huge.error is None
    assert (
        max(len(i["contentBlockDelta"]["delta"]["text"]) for i in huge.items if "contentBlockDelta" in i)
        == 2**20
    )


def test_request_validation(bedrock: Any, server: ChaosServer) -> None:
    with pytest.raises(ClientError) as caught:
        bedrock.converse_stream(modelId=CLAUDE, messages=[])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    client = _client(server.bedrock_endpoint_url)
    _with_headers(client, {"x-chaos-error-type": "nope"})
    with pytest.raises(ClientError) as bad_header:
        client.converse_stream(modelId=f"{CLAUDE}+error_frame", messages=MESSAGES)
    client.close()
    assert "x-chaos-error-type" in bad_header.value.response["Error"]["Message"]


def test_exception_right_after_message_start(bedrock: Any, server: ChaosServer) -> None:
    got = converse(bedrock, "error_frame@0")
    assert isinstance(got.error, EventStreamError)
    assert got.names == ["messageStart"]
    _entry(server, "error_frame", 0)
