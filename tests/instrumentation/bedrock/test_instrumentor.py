"""The Bedrock instrumentor: entry point, patch and unpatch, suppression, zero-code use."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import context
from opentelemetry.instrumentation.utils import suppress_instrumentation

from otel_streamslo.core.calls import SUPPRESS_LANGUAGE_MODEL_INSTRUMENTATION_KEY
from otel_streamslo.instrumentation.bedrock import BedrockStreamInstrumentor
from tests.conftest import Telemetry
from tests.contract.drivers.bedrock_sdk import HAS_AIOBOTOCORE, Client
from tests.instrumentation.bedrock.conftest import converse
from tests.instrumentation.zero_code import INSTRUMENT, our_spans, reasons, run_app

TARGET = "botocore.client:BaseClient._make_api_call"
AIO_TARGET = "aiobotocore.client:AioBaseClient._make_api_call"


def test_entry_point_loads_the_instrumentor() -> None:
    found = [ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name == "bedrock_streamslo"]
    assert len(found) == 1 and found[0].load() is BedrockStreamInstrumentor


def test_patch_and_unpatch(telemetry: Telemetry) -> None:
    """botocore's and (when installed) aiobotocore's ``_make_api_call`` are patched, then restored."""
    import botocore.client

    owners: list[Any] = [botocore.client.BaseClient]
    if HAS_AIOBOTOCORE:
        import aiobotocore.client

        owners.append(aiobotocore.client.AioBaseClient)
    originals = [owner.__dict__["_make_api_call"] for owner in owners]
    inst = BedrockStreamInstrumentor()
    inst.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        if HAS_AIOBOTOCORE:
            assert inst.instrumented_targets() == (TARGET, AIO_TARGET)
            assert inst.skipped_targets() == {}
        else:
            assert inst.instrumented_targets() == (TARGET,)
            assert list(inst.skipped_targets()) == [AIO_TARGET]
        assert all(o.__dict__["_make_api_call"] is not f for o, f in zip(owners, originals))
    finally:
        inst.uninstrument()
    assert all(o.__dict__["_make_api_call"] is f for o, f in zip(owners, originals))


@pytest.mark.skipif(not HAS_AIOBOTOCORE, reason="aiobotocore not installed")
def test_aiobotocore_is_patched_when_the_app_imports_it_not_before() -> None:
    """A sync-only boto3 app does not pay aiobotocore's (and aiohttp's) import; an async one is covered."""
    code = textwrap.dedent(
        """
        import sys
        import boto3
        from otel_streamslo.instrumentation.bedrock import BedrockStreamInstrumentor
        inst = BedrockStreamInstrumentor()
        inst.instrument()
        print(sorted(m for m in ("aiobotocore", "aiobotocore.client", "aiohttp") if m in sys.modules))
        print(list(inst.instrumented_targets()), sorted(inst._patches.waiting))
        import aiobotocore.client
        print(list(inst.instrumented_targets()), sorted(inst._patches.waiting))
        print(type(aiobotocore.client.AioBaseClient.__dict__["_make_api_call"]).__name__)
        inst.uninstrument()
        print(type(aiobotocore.client.AioBaseClient.__dict__["_make_api_call"]).__name__)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.splitlines() == [
        "[]",
        f"[{TARGET!r}] [{AIO_TARGET!r}]",
        f"[{TARGET!r}, {AIO_TARGET!r}] []",
        "FunctionWrapper",
        "function",
    ]


def test_suppressed_calls_make_no_span(instrumented: Telemetry, bedrock: Client) -> None:
    with suppress_instrumentation():
        for _ in converse(bedrock, {})["stream"]:
            pass
    token = context.attach(context.set_value(SUPPRESS_LANGUAGE_MODEL_INSTRUMENTATION_KEY, True))
    try:
        for _ in converse(bedrock, {})["stream"]:
            pass
    finally:
        context.detach(token)
    assert instrumented.spans() == [] and instrumented.stream_counts() == {}


def test_prompt_and_answer_not_recorded_by_default(instrumented: Telemetry, bedrock: Client) -> None:
    for _ in converse(bedrock, {})["stream"]:
        pass
    attrs = instrumented.only_span().attributes or {}
    assert "gen_ai.input.messages" not in attrs and "gen_ai.output.messages" not in attrs


APP = textwrap.dedent(
    """
    import os, boto3, urllib3
    from botocore.config import Config
    client = boto3.client(
        "bedrock-runtime", endpoint_url=os.environ["CHAOS_URL"], region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}),
    )
    for fault in ["none", "reset@2", "eof@2"]:
        try:
            response = client.converse_stream(
                modelId="zero-code+" + fault, messages=[{"role": "user", "content": [{"text": "hi"}]}]
            )
            for _ in response["stream"]:
                pass
        except urllib3.exceptions.ProtocolError:
            pass
    print("APP-DONE")
    """
)


def test_opentelemetry_instrument_emits_our_spans(chaos: Any, tmp_path: Path) -> None:
    ours = our_spans(run_app(APP, tmp_path, {"CHAOS_URL": chaos.base_url}, INSTRUMENT))
    assert reasons(ours) == ["completed", "connection_dropped", "truncated"]
    assert all(s["attributes"]["gen_ai.provider.name"] == "aws.bedrock" for s in ours)


def test_content_recorded_when_opted_in(telemetry: Telemetry, bedrock: Client) -> None:
    """With ``capture_content=True`` the prompt and the streamed answer are on the span (Converse, Invoke)."""
    import json

    with telemetry.instrumented(BedrockStreamInstrumentor(), capture_content=True):
        for _ in converse(bedrock, {})["stream"]:
            pass
        body = json.dumps(
            {"anthropic_version": "x", "max_tokens": 3, "messages": [{"role": "user", "content": "yo"}]}
        )
        bedrock.headers = {}
        for _ in bedrock.raw.invoke_model_with_response_stream(modelId="anthropic.claude-x", body=body)[
            "body"
        ]:
            pass
    spans = telemetry.spans()
    assert len(spans) == 2
    for span, prompt, answer in zip(spans, ("hello", "yo"), ("tok0 tok1 tok2 tok3 ", "tok0 tok1 tok2 ")):
        attrs = span.attributes or {}
        assert prompt in str(attrs["gen_ai.input.messages"])
        assert json.loads(str(attrs["gen_ai.output.messages"]))[0]["parts"][0]["content"] == answer
