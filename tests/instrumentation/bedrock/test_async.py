"""aiobotocore: the async client's streams are observed like botocore's and behave as without us.

The contract suite runs every fault and ending on the async drivers; these are the paths of
aiobotocore's own API: its ``AioEventStream`` (no ``iter()``, no ``async with``, a new async
iterator per ``aiter()``), calls that pass through, suppression, the answer's end before usage, and
zero-code use through ``opentelemetry-instrument``.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation

from otel_streamslo.instrumentation.bedrock import BedrockStreamInstrumentor
from tests.conftest import Telemetry
from tests.contract.drivers.bedrock_sdk import AsyncClient
from tests.instrumentation.bedrock.conftest import MESSAGES, attrs_of
from tests.instrumentation.zero_code import INSTRUMENT, our_spans, reasons, run_app

pytest.importorskip("aiobotocore")


@pytest.fixture
async def aio(chaos: Any) -> AsyncIterator[AsyncClient]:
    """An aiobotocore ``bedrock-runtime`` client on the chaos provider (no retries, 0.5 s read timeout)."""
    async with AsyncClient(chaos.base_url, read_timeout=0.5) as client:
        yield client


async def aconverse(client: AsyncClient, headers: dict[str, str], model: str = "m") -> Any:
    """The ``AioEventStream`` of one ``converse_stream`` call with these chaos headers."""
    client.headers = {"x-chaos-tokens": "4", **headers}
    return (await client.raw.converse_stream(modelId=model, messages=MESSAGES))["stream"]


async def misuse(stream: Any) -> list[tuple[str, str]]:
    """What the app gets from the APIs ``AioEventStream`` lacks: ``iter()``, ``async with``, ``with``."""
    out = []
    try:
        iter(stream)
    except Exception as exc:
        out.append((type(exc).__name__, str(exc)))
    try:
        with stream:
            pass
    except Exception as exc:
        out.append((type(exc).__name__, str(exc)))
    try:
        async with stream:
            pass
    except Exception as exc:
        out.append((type(exc).__name__, str(exc)))
    stream.close()
    return out


async def test_stream_class_and_missing_apis_as_without_instrumentation(
    telemetry: Telemetry, aio: AsyncClient
) -> None:
    from aiobotocore.eventstream import AioEventStream

    plain = await misuse(await aconverse(aio, {}))
    with telemetry.instrumented(BedrockStreamInstrumentor()) as tel:
        stream = await aconverse(aio, {})
        assert isinstance(stream, AioEventStream) and stream.__class__ is AioEventStream
        assert type(stream) is not AioEventStream  # the proxy
        assert await misuse(stream) == plain
    assert [name for name, _ in plain] == ["NotImplementedError", "TypeError", "TypeError"]
    assert attrs_of(tel)["streamslo.termination.reason"] == "client_cancelled"  # close() before any event


async def test_each_aiter_is_a_new_iterator_over_the_same_events(
    instrumented: Telemetry, aio: AsyncClient
) -> None:
    stream = await aconverse(aio, {})
    first = await stream.__aiter__().__anext__()
    rest = [event async for event in stream]
    assert "messageStart" in first and "metadata" in rest[-1]
    attrs = attrs_of(instrumented)
    assert attrs["streamslo.termination.reason"] == "completed"
    assert attrs["streamslo.chunks.delivered"] == 1 + len(rest)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (
        rest[-1]["metadata"]["usage"]["inputTokens"],
        rest[-1]["metadata"]["usage"]["outputTokens"],
    )


async def test_close_after_message_stop_is_completed(instrumented: Telemetry, aio: AsyncClient) -> None:
    stream = await aconverse(aio, {})
    async for event in stream:
        if "messageStop" in event:
            break
    stream.close()
    attrs = attrs_of(instrumented)
    assert attrs["streamslo.termination.reason"] == "completed"
    assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert "gen_ai.usage.output_tokens" not in attrs


async def test_non_streaming_and_suppressed_calls_pass_through(
    instrumented: Telemetry, aio: AsyncClient
) -> None:
    """``converse`` (not streamed) and suppressed streams: no span, no metric, the SDK's own exception."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        await aio.raw.converse(modelId="m", messages=MESSAGES)
    assert "otel_streamslo" not in str(info.traceback[-1].path)
    with suppress_instrumentation():
        events = [event async for event in await aconverse(aio, {})]
    assert "metadata" in events[-1]
    assert instrumented.spans() == [] and instrumented.stream_counts() == {}


async def test_throttled_before_the_stream_is_request_failed_429(
    instrumented: Telemetry, aio: AsyncClient
) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        await aconverse(aio, {"x-chaos-fault": "http_429"})
    attrs = attrs_of(instrumented)
    assert (attrs["streamslo.termination.reason"], attrs["http.response.status_code"]) == (
        "request_failed",
        429,
    )


AIO_APP = textwrap.dedent(
    """
    import asyncio, os, aiohttp
    from aiobotocore.session import get_session
    from botocore.config import Config

    async def main():
        async with get_session().create_client(
            "bedrock-runtime", endpoint_url=os.environ["CHAOS_URL"], region_name="us-east-1",
            aws_access_key_id="x", aws_secret_access_key="x",
            config=Config(retries={"total_max_attempts": 1}),
        ) as client:
            for fault in ["none", "reset@2", "eof@2"]:
                try:
                    response = await client.converse_stream(
                        modelId="zero-code+" + fault, messages=[{"role": "user", "content": [{"text": "hi"}]}]
                    )
                    async for _ in response["stream"]:
                        pass
                except aiohttp.ClientPayloadError:
                    pass

    asyncio.run(main())
    print("APP-DONE")
    """
)


def test_opentelemetry_instrument_observes_aiobotocore(chaos: Any, tmp_path: Path) -> None:
    ours = our_spans(run_app(AIO_APP, tmp_path, {"CHAOS_URL": chaos.base_url}, INSTRUMENT))
    assert reasons(ours) == ["completed", "connection_dropped", "truncated"]
    assert all(s["attributes"]["gen_ai.provider.name"] == "aws.bedrock" for s in ours)
