"""Fixtures: one chaos provider per session, SDK clients with ``max_retries=0``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anthropic
import openai
import pytest

from otel_streamslo.chaos import ChaosServer

from .helpers import TOKENS


@pytest.fixture(scope="session")
def chaos() -> Iterator[ChaosServer]:
    """The session's chaos provider on 127.0.0.1 (short TTFT and stall defaults)."""
    with ChaosServer(tokens=TOKENS, ttft_seconds=0.5, stall_seconds=0.5) as server:
        yield server


@pytest.fixture
def server(chaos: ChaosServer) -> ChaosServer:
    """The session server with an empty request log."""
    chaos.wait_idle()
    chaos.reset_log()
    return chaos


@pytest.fixture
def oai(server: ChaosServer) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0, timeout=10)
    yield client
    client.close()


@pytest.fixture
def claude(server: ChaosServer) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="test", max_retries=0, timeout=10)
    yield client
    client.close()


@pytest.fixture
async def aoai(server: ChaosServer) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0, timeout=10)
    yield client
    await client.close()


@pytest.fixture
async def aclaude(server: ChaosServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(
        base_url=server.anthropic_base_url, api_key="test", max_retries=0, timeout=10
    )
    yield client
    await client.close()
