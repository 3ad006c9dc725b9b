"""``x-chaos-drop-after-finish``: the finish reason arrives, then the connection drops (every dialect)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import boto3
import httpx2
import openai
import pytest
from botocore.config import Config
from google import genai
from google.genai import types
from urllib3.exceptions import ProtocolError

from otel_streamslo.chaos import ChaosServer

from .helpers import MESSAGES, TOKENS, consume_sync

DROP = {"x-chaos-drop-after-finish": "1"}
MESSAGES_BEDROCK = [{"role": "user", "content": [{"text": "hi"}]}]


def _entry(server: ChaosServer) -> dict[str, Any]:
    (entry,) = server.log
    assert (entry["outcome"], entry["tokens_sent"]) == ("reset", TOKENS)
    return entry


@pytest.mark.parametrize("api", ["chat", "responses", "messages"])
def test_openai_and_anthropic(
    server: ChaosServer, api: str, oai: openai.OpenAI, claude: anthropic.Anthropic
) -> None:
    seen = consume_sync(api, claude if api == "messages" else oai, None, DROP)
    assert seen.finish is not None  # the finish reason was delivered ...
    if api == "messages":  # ... then the body broke (anthropic lets the raw httpx2 error through)
        assert isinstance(seen.error, httpx2.RemoteProtocolError)
        assert seen.types[-1] == "message_delta"  # no message_stop
    else:
        assert isinstance(seen.error, openai.APIConnectionError)
    if api == "chat":
        assert seen.output_tokens is None  # the usage chunk and [DONE] never came
    _entry(server)


def test_gemini(server: ChaosServer) -> None:
    http = types.HttpOptions(base_url=server.gemini_base_url, headers=DROP)
    client = genai.Client(api_key="test", http_options=http)
    chunks = []
    with pytest.raises(httpx2.RemoteProtocolError):
        for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"):
            chunks.append(chunk)
    assert chunks[-1].candidates and chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    client.close()
    _entry(server)


def _bedrock(server: ChaosServer) -> Any:
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=server.bedrock_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}),
    )

    def add(request: Any, **_: Any) -> None:
        request.headers["x-chaos-drop-after-finish"] = "1"

    client.meta.events.register_first("before-sign.bedrock-runtime.*", add)
    return client


def test_bedrock_converse_drops_between_message_stop_and_metadata(server: ChaosServer) -> None:
    client = _bedrock(server)
    events = []
    response = client.converse_stream(
        modelId="anthropic.claude-3-5-haiku-20241022-v1:0", messages=MESSAGES_BEDROCK
    )
    with pytest.raises(ProtocolError):
        for event in response["stream"]:
            events.append(event)
    assert events[-1] == {"messageStop": {"stopReason": "end_turn"}}  # the answer was whole; usage never came
    client.close()
    _entry(server)


def test_bedrock_invoke_anthropic(server: ChaosServer) -> None:
    client = _bedrock(server)
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": MESSAGES}
    response = client.invoke_model_with_response_stream(
        modelId="anthropic.claude-3-5-haiku-20241022-v1:0", body=json.dumps(body)
    )
    chunks = []
    with pytest.raises(ProtocolError):
        for event in response["body"]:
            chunks.append(json.loads(event["chunk"]["bytes"]))
    assert chunks[-1]["type"] == "message_delta"
    client.close()
    _entry(server)


def test_bad_flag_is_rejected(server: ChaosServer, oai: openai.OpenAI) -> None:
    seen = consume_sync("chat", oai, None, {"x-chaos-drop-after-finish": "maybe"})
    assert isinstance(seen.error, openai.BadRequestError)
    assert server.log[0]["outcome"] == "rejected"
