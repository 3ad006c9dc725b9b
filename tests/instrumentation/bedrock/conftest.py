"""Fixtures of the Bedrock tests: the instrumentor on the in-memory pipeline, a boto3 client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Telemetry
from tests.contract.drivers.bedrock_sdk import Client

MESSAGES = [{"role": "user", "content": [{"text": "hello"}]}]


@pytest.fixture
def instrumented(telemetry: Telemetry) -> Iterator[Telemetry]:
    from otel_streamslo.instrumentation.bedrock import BedrockStreamInstrumentor

    with telemetry.instrumented(BedrockStreamInstrumentor()) as tel:
        yield tel


@pytest.fixture
def bedrock(chaos: Any) -> Iterator[Client]:
    """A ``bedrock-runtime`` client on the chaos provider (no retries, 0.5 s read timeout)."""
    with Client(chaos.base_url, read_timeout=0.5) as client:
        yield client


def converse(client: Client, headers: dict[str, str], model: str = "m") -> dict[str, Any]:
    """One ``converse_stream`` call with these chaos headers."""
    client.headers = {"x-chaos-tokens": "4", **headers}
    return client.raw.converse_stream(modelId=model, messages=MESSAGES)  # type: ignore[no-any-return]


def attrs_of(tel: Telemetry) -> dict[str, Any]:
    return dict(tel.only_span().attributes or {})
