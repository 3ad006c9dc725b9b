"""google-genai specifics beyond the contract suite: errors as the very first event, running usage,
the Vertex AI provider name, inner requests (automatic function calling), chats, the consumer's own
exception, suppression, aiohttp's whole-call deadline, uninstrument and the entry point."""

from __future__ import annotations

import gc
from importlib.metadata import entry_points
from typing import Any

import pytest
from google.genai import errors, types
from opentelemetry.instrumentation.utils import suppress_instrumentation

from otel_streamslo.instrumentation.google_genai import GoogleGenAIStreamInstrumentor
from tests.conftest import Telemetry
from tests.instrumentation.google_genai.conftest import MODEL, attrs_of, config, headers, make_client


def consume(client: Any, **hdrs: str) -> tuple[list[Any], Any]:
    items: list[Any] = []
    try:
        for item in client.models.generate_content_stream(model=MODEL, contents="hi", config=config(**hdrs)):
            items.append(item)
    except Exception as exc:
        return items, exc
    return items, None


async def aconsume(client: Any, **hdrs: str) -> tuple[list[Any], Any]:
    items: list[Any] = []
    try:
        stream = await client.aio.models.generate_content_stream(
            model=MODEL, contents="hi", config=config(**hdrs)
        )
        async for item in stream:
            items.append(item)
    except Exception as exc:
        return items, exc
    return items, None


# Failures before the first chunk: after the 200 (the response hook saw it) they are stream failures.
FIRST_EVENT = [
    ("error_frame@0", "server_error_event", errors.ServerError),
    ("reset@0", "connection_dropped", Exception),
    ("stall@0", "idle_timeout", Exception),
    ("content_filter@0", "content_filter", None),
]


@pytest.mark.parametrize(("fault", "reason", "raised"), FIRST_EVENT)
def test_failure_before_the_first_chunk_after_the_200(
    tel: Telemetry, chaos: Any, fault: str, reason: str, raised: Any
) -> None:
    items, exc = consume(make_client(chaos), **headers(fault))
    attrs = attrs_of(tel.only_span())
    assert attrs["streamslo.termination.reason"] == reason
    assert attrs["http.response.status_code"] == 200
    if raised is None:
        assert exc is None and attrs["gen_ai.response.finish_reasons"] == ("prompt_safety",)
        assert len(items) == 1 and items[0].prompt_feedback.block_reason is not None
        assert "streamslo.time_to_first_token" not in attrs  # no content was delivered
    else:
        assert isinstance(exc, raised) and items == []
        assert attrs["error.type"] == reason


@pytest.mark.parametrize("transport", ["", "httpx2"])
@pytest.mark.parametrize(("fault", "reason", "raised"), FIRST_EVENT)
async def test_async_failure_before_the_first_chunk_after_the_200(
    tel: Telemetry, chaos: Any, transport: str, fault: str, reason: str, raised: Any
) -> None:
    timeout = 1.0 if not transport else 0.5  # aiohttp: a deadline for the whole call
    client = make_client(chaos, timeout_s=timeout, transport=transport)
    items, exc = await aconsume(client, **headers(fault))
    attrs = attrs_of(tel.only_span())
    assert attrs["streamslo.termination.reason"] == reason
    assert attrs["http.response.status_code"] == 200
    assert (exc is None) == (raised is None) and len(items) == (1 if raised is None else 0)
    await client.aio.aclose()


def test_usage_is_the_last_running_value_never_a_sum(tel: Telemetry, chaos: Any) -> None:
    items, _ = consume(make_client(chaos), **headers(tokens=10))
    running = [i.usage_metadata.candidates_token_count for i in items if i.usage_metadata is not None]
    assert running == sorted(running) and running[-1] == 10 and sum(running) > 10  # a running total
    attrs = attrs_of(tel.only_span())
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (
        items[-1].usage_metadata.prompt_token_count,
        10,
    )
    assert attrs["streamslo.tokens.delivered"] == 10
    usage = {p.attributes["gen_ai.token.type"]: p.sum for p in tel.points("gen_ai.client.token.usage")}
    assert usage == {"input": attrs["gen_ai.usage.input_tokens"], "output": 10}


def test_unfinished_stream_keeps_input_usage_and_counts_delivered_parts(tel: Telemetry, chaos: Any) -> None:
    _, exc = consume(make_client(chaos), **headers("reset@4", tokens=10))
    assert exc is not None
    attrs = attrs_of(tel.only_span())
    assert attrs["streamslo.termination.reason"] == "connection_dropped"
    assert attrs["gen_ai.usage.input_tokens"] > 0 and "gen_ai.usage.output_tokens" not in attrs
    assert attrs["streamslo.tokens.delivered"] == 4


def test_vertex_ai_client_is_gcp_vertex_ai(tel: Telemetry, chaos: Any) -> None:
    client = make_client(chaos, vertexai=True)
    _, exc = consume(client, **headers())
    attrs = attrs_of(tel.only_span())
    assert attrs["gen_ai.provider.name"] == "gcp.vertex_ai"
    # the chaos provider serves the Gemini API paths only: Vertex's path is a 404 before any stream
    assert isinstance(exc, errors.ClientError) and exc.code == 404
    assert (attrs["streamslo.termination.reason"], attrs["streamslo.sli.outcome"]) == (
        "request_failed",
        "excluded",
    )
    assert attrs["gen_ai.request.model"] == MODEL


def get_weather(city: str) -> str:
    """Weather of a city."""
    return f"sunny in {city}"


def test_automatic_function_calling_is_one_span_over_its_requests(tel: Telemetry, chaos: Any) -> None:
    client = make_client(chaos)
    chaos.reset_log()
    cfg = types.GenerateContentConfig(
        tools=[get_weather],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(maximum_remote_calls=2),
        http_options=types.HttpOptions(headers=headers("tool_calls")),
    )
    items = list(client.models.generate_content_stream(model=MODEL, contents="weather?", config=cfg))
    assert len(chaos.log) == 2  # the SDK ran the function and sent a second request
    attrs = attrs_of(tel.only_span())
    assert attrs["streamslo.termination.reason"] == "completed"
    assert attrs["streamslo.chunks.delivered"] == len(items) == 4
    assert attrs["streamslo.tool_calls.committed"] == 2
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert tel.stream_counts() == {("completed", "good"): 1}


def test_inner_request_failure_ends_the_span_with_its_reason(tel: Telemetry, chaos: Any) -> None:
    client = make_client(chaos)
    chaos.reset_log()
    cfg = types.GenerateContentConfig(
        tools=[get_weather],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(maximum_remote_calls=2),
        http_options=types.HttpOptions(headers=headers("tool_calls")),
    )
    stream = client.models.generate_content_stream(model=MODEL, contents="weather?", config=cfg)
    first = [next(stream), next(stream)]  # the first request's whole answer (a function call)
    with pytest.raises(errors.APIError):
        # the second request (AFC) is made inside the same call; make it fail with an HTTP 500
        cfg.http_options.headers["x-chaos-fault"] = "http_500"  # type: ignore[union-attr,index]
        list(stream)
    assert len(first) == 2 and len(chaos.log) == 2
    attrs = attrs_of(tel.only_span())
    assert attrs["streamslo.termination.reason"] == "server_error_event"
    assert attrs["http.response.status_code"] == 200 and attrs["error.type"] == "server_error_event"


def test_chats_send_message_stream_is_one_span(tel: Telemetry, chaos: Any) -> None:
    client = make_client(chaos, hdrs=headers())  # kept: a collected Client closes its HTTP client
    chat = client.chats.create(model=MODEL)
    items = list(chat.send_message_stream("hi"))
    attrs = attrs_of(tel.only_span())
    assert attrs["streamslo.termination.reason"] == "completed" and attrs[
        "streamslo.chunks.delivered"
    ] == len(items)


class AppError(Exception):
    pass


def test_consumer_exception_is_abandoned_when_collected(tel: Telemetry, chaos: Any) -> None:
    """No ``with`` block: nothing tells the generator the app failed; it is collected unfinished."""
    client = make_client(chaos)

    def app() -> None:
        for _ in client.models.generate_content_stream(
            model=MODEL, contents="hi", config=config(**headers())
        ):
            raise AppError("boom")

    with pytest.raises(AppError):
        app()
    gc.collect()
    attrs = attrs_of(tel.only_span())
    assert (attrs["streamslo.termination.reason"], attrs["streamslo.sli.outcome"]) == (
        "client_abandoned",
        "excluded",
    )


def test_suppressed_call_makes_no_span(tel: Telemetry, chaos: Any) -> None:
    client = make_client(chaos)
    with suppress_instrumentation():
        items, exc = consume(client, **headers())
    assert exc is None and len(items) == 7
    gc.collect()
    assert tel.spans() == [] and tel.stream_counts() == {}


async def test_aiohttp_deadline_cuts_a_steady_stream_as_idle_timeout(tel: Telemetry, chaos: Any) -> None:
    """aiohttp: ``HttpOptions.timeout`` is the whole call's deadline; a steady stream that outlasts
    it raises the same ``TimeoutError`` as a stall, and is reported as ``idle_timeout`` (bad)."""
    pytest.importorskip("aiohttp")
    client = make_client(chaos, timeout_s=0.6)
    items, exc = await aconsume(client, **headers(tokens=12, **{"x-chaos-chunk-delay": "0.1"}))
    assert isinstance(exc, TimeoutError) and 0 < len(items) < 12
    attrs = attrs_of(tel.only_span())
    assert (attrs["streamslo.termination.reason"], attrs["streamslo.sli.outcome"]) == ("idle_timeout", "bad")
    await client.aio.aclose()


def test_uninstrument_restores_the_sdk(telemetry: Telemetry, chaos: Any) -> None:
    import google.genai._api_client as api
    import google.genai.models as models

    before = (models.Models.generate_content_stream, api.BaseApiClient._request)
    inst = GoogleGenAIStreamInstrumentor()
    inst.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    assert len(inst.instrumented_targets()) == 4 and inst.skipped_targets() == {}
    inst.uninstrument()
    assert (models.Models.generate_content_stream, api.BaseApiClient._request) == before
    consume(make_client(chaos), **headers())
    gc.collect()
    assert telemetry.spans() == []


def test_stream_outcome_of_a_generator(tel: Telemetry, chaos: Any) -> None:
    from otel_streamslo import StreamOutcome, stream_outcome

    client = make_client(chaos)
    stream = client.models.generate_content_stream(
        model=MODEL, contents="hi", config=config(**headers("eof@3"))
    )
    assert stream_outcome(stream) is None  # not started: no request, no record
    first = next(stream)
    assert first is not None and stream_outcome(stream) is None  # open
    rest = list(stream)
    assert len(rest) == 2 and stream_outcome(stream) == StreamOutcome("truncated", "bad")


def test_entry_point_loads_the_instrumentor() -> None:
    found = {e.name: e for e in entry_points(group="opentelemetry_instrumentor")}
    assert found["google_genai_streamslo"].load() is GoogleGenAIStreamInstrumentor
