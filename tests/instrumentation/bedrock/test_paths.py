"""Bedrock-specific paths: the end of the answer before the usage trailer, in-stream error types,
how the app holds the stream, and what is left alone (non-streaming operations, other families)."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from tests.conftest import Telemetry
from tests.contract.drivers.bedrock_sdk import Client, model_knows
from tests.instrumentation.bedrock.conftest import MESSAGES, attrs_of, converse


def _until_stop(stream: Any) -> list[Any]:
    seen = []
    for event in stream:
        seen.append(event)
        if "messageStop" in event:
            break
    return seen


def test_drop_after_message_stop_is_completed_without_usage(instrumented: Telemetry, bedrock: Client) -> None:
    """The connection drops after messageStop, before metadata: the answer was whole."""
    import urllib3

    stream = converse(bedrock, {"x-chaos-drop-after-finish": "1"})["stream"]
    seen = []
    with pytest.raises(urllib3.exceptions.ProtocolError):
        for event in stream:
            seen.append(event)
    assert "messageStop" in seen[-1] and not any("metadata" in e for e in seen)
    attrs = attrs_of(instrumented)
    assert (attrs["streamslo.termination.reason"], attrs["streamslo.sli.outcome"]) == ("completed", "good")
    assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert "gen_ai.usage.output_tokens" not in attrs and "error.type" not in attrs
    assert attrs["streamslo.tokens.delivered"] == 4  # counted from the deltas
    assert instrumented.only_span().status.status_code is StatusCode.UNSET
    assert instrumented.stream_counts() == {("completed", "good"): 1}


def test_close_after_message_stop_is_completed(instrumented: Telemetry, bedrock: Client) -> None:
    stream = converse(bedrock, {})["stream"]
    _until_stop(stream)
    stream.close()
    attrs = attrs_of(instrumented)
    assert attrs["streamslo.termination.reason"] == "completed"
    assert "gen_ai.usage.output_tokens" not in attrs


def test_abandoned_after_message_stop_is_completed(instrumented: Telemetry, bedrock: Client) -> None:
    response = converse(bedrock, {})
    _until_stop(response["stream"])
    del response
    gc.collect()
    assert attrs_of(instrumented)["streamslo.termination.reason"] == "completed"


def test_close_before_message_stop_is_cancelled(instrumented: Telemetry, bedrock: Client) -> None:
    stream = converse(bedrock, {})["stream"]
    for event in stream:
        if "contentBlockDelta" in event:
            break
    stream.close()
    assert attrs_of(instrumented)["streamslo.termination.reason"] == "client_cancelled"


def test_usage_recorded_at_metadata_and_span_ends_there(instrumented: Telemetry, bedrock: Client) -> None:
    """metadata is the last event: the span ends on it, with usage, even if the app stops reading."""
    stream = converse(bedrock, {})["stream"]
    events = []
    for event in stream:
        events.append(event)
        if "metadata" in event:
            assert len(instrumented.spans()) == 1  # ended on metadata, before the end of iteration
            break
    usage = events[-1]["metadata"]["usage"]
    attrs = attrs_of(instrumented)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (
        usage["inputTokens"],
        usage["outputTokens"],
    )
    assert attrs["streamslo.termination.reason"] == "completed"
    del stream


@pytest.mark.parametrize(
    "error_type",
    [
        "modelStreamErrorException",
        "internalServerException",
        "serviceUnavailableException",
        "throttlingException",
    ],
)
def test_in_stream_exceptions_are_server_error_events(
    instrumented: Telemetry, bedrock: Client, error_type: str
) -> None:
    from botocore.exceptions import EventStreamError

    stream = converse(bedrock, {"x-chaos-fault": "error_frame@2", "x-chaos-error-type": error_type})["stream"]
    with pytest.raises(EventStreamError) as info:
        for _ in stream:
            pass
    known = model_knows(error_type[0].upper() + error_type[1:])  # old botocore: no such member, no code
    assert info.value.response["Error"]["Code"] == (error_type if known else "")
    attrs = attrs_of(instrumented)
    assert (attrs["streamslo.termination.reason"], attrs["error.type"]) == ("server_error_event",) * 2
    assert attrs["http.response.status_code"] == 200


def test_throttled_before_the_stream_is_request_failed_429(instrumented: Telemetry, bedrock: Client) -> None:
    with pytest.raises(bedrock.raw.exceptions.ThrottlingException):
        converse(bedrock, {"x-chaos-fault": "http_429"})
    attrs = attrs_of(instrumented)
    assert (attrs["streamslo.termination.reason"], attrs["streamslo.sli.outcome"]) == (
        "request_failed",
        "bad",
    )
    assert (attrs["http.response.status_code"], attrs["error.type"]) == (429, "429")


def test_loop_over_a_temporary_response_dict(instrumented: Telemetry, bedrock: Client) -> None:
    """``for e in client.converse_stream(...)["stream"]``: nothing else holds the proxy."""
    bedrock.headers = {"x-chaos-tokens": "4"}
    events = list(bedrock.raw.converse_stream(modelId="m", messages=MESSAGES)["stream"])
    assert "metadata" in events[-1]
    assert attrs_of(instrumented)["streamslo.termination.reason"] == "completed"


def test_stream_is_iterable_not_an_iterator_as_before(instrumented: Telemetry, bedrock: Client) -> None:
    """Like botocore's EventStream: each ``iter()`` is a new generator over the same events."""
    from botocore.eventstream import EventStream

    stream = converse(bedrock, {})["stream"]
    assert isinstance(stream, EventStream)
    assert not hasattr(stream, "__next__")
    first = next(iter(stream))
    rest = list(stream)
    assert "messageStart" in first and "metadata" in rest[-1]
    assert attrs_of(instrumented)["streamslo.chunks.delivered"] == 1 + len(rest)
    with pytest.raises(TypeError):
        with stream:  # type: ignore[attr-defined]
            pass


def test_span_identity(instrumented: Telemetry, bedrock: Client, chaos: Any) -> None:
    for _ in converse(bedrock, {}, model="us.anthropic.claude-3-haiku-20240307-v1:0+none")["stream"]:
        pass
    span = instrumented.only_span()
    attrs = dict(span.attributes or {})
    assert span.name == "chat us.anthropic.claude-3-haiku-20240307-v1:0+none"
    assert attrs["gen_ai.provider.name"] == "aws.bedrock"
    assert attrs["gen_ai.request.model"] == "us.anthropic.claude-3-haiku-20240307-v1:0+none"
    assert (attrs["server.address"], attrs["server.port"]) == ("127.0.0.1", chaos.port)
    assert attrs["gen_ai.response.id"] == chaos.log[-1]["id"]  # x-amzn-requestid
    assert "gen_ai.response.model" not in attrs


def test_non_streaming_operations_are_untouched(instrumented: Telemetry, bedrock: Client) -> None:
    """``converse`` (not streamed) goes straight through: no span, no metric, same exception."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        bedrock.raw.converse(modelId="m", messages=MESSAGES)
    assert instrumented.spans() == [] and instrumented.stream_counts() == {}
    assert "otel_streamslo" not in str(info.traceback[-1].path)  # botocore's own error


def test_unknown_invoke_family_is_not_observed(instrumented: Telemetry, bedrock: Client) -> None:
    """An invoke stream of a family whose chunks this package cannot read gets no span at all."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        bedrock.raw.invoke_model_with_response_stream(modelId="amazon.titan-text-v1", body=json.dumps({}))
    assert instrumented.spans() == [] and instrumented.stream_counts() == {}


def test_llama_guardrail_is_content_filter(instrumented: Telemetry, bedrock: Client) -> None:
    bedrock.headers = {"x-chaos-fault": "content_filter@2", "x-chaos-tokens": "4"}
    body = json.dumps({"prompt": "hi"})
    for _ in bedrock.raw.invoke_model_with_response_stream(modelId="meta.llama3-8b", body=body)["body"]:
        pass
    attrs = attrs_of(instrumented)
    assert attrs["streamslo.termination.reason"] == "content_filter"
    assert attrs["gen_ai.response.finish_reasons"] == ("guardrail_intervened",)


def test_invoke_anthropic_drop_before_message_stop_is_dropped(
    instrumented: Telemetry, bedrock: Client
) -> None:
    """Invoke-Anthropic ends at message_stop, as the anthropic SDK's streams do: no trailer grace."""
    import urllib3

    bedrock.headers = {"x-chaos-drop-after-finish": "1", "x-chaos-tokens": "4"}
    body = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 9,
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    with pytest.raises(urllib3.exceptions.ProtocolError):
        for _ in bedrock.raw.invoke_model_with_response_stream(modelId="anthropic.claude-x", body=body)[
            "body"
        ]:
            pass
    assert attrs_of(instrumented)["streamslo.termination.reason"] == "connection_dropped"
