"""Fixtures: one chaos provider per session, SDK clients with ``max_retries=0``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anthropic
import openai
import pytest

from otel_streamslo.chaos import ChaosServer

from .helpers import TOKENS, async_client


@pytest.fixture(scope="session")
def chaos() -> Iterator[ChaosServer]:
    """The session's chaos provider on 127.0.0.1 (short TTFT and stall defaults)."""
    with ChaosServer(tokens=TOKENS, ttft_seconds=0.3, stall_seconds=0.5) as server:
        yield server


@pytest.fixture
def server(chaos: ChaosServer) -> ChaosServer:
    """The session server with an empty request log."""
    chaos.wait_idle()
    chaos.reset_log()
    return chaos


@pytest.fixture(scope="session")
def _oai(chaos: ChaosServer) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=chaos.openai_base_url, api_key="test", max_retries=0, timeout=10)
    yield client
    client.close()


@pytest.fixture(scope="session")
def _claude(chaos: ChaosServer) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(base_url=chaos.anthropic_base_url, api_key="test", max_retries=0, timeout=10)
    yield client
    client.close()


@pytest.fixture
def oai(server: ChaosServer, _oai: openai.OpenAI) -> openai.OpenAI:
    """Sync OpenAI client (default SDK settings, no retries) on a clean log."""
    return _oai


@pytest.fixture
def claude(server: ChaosServer, _claude: anthropic.Anthropic) -> anthropic.Anthropic:
    """Sync Anthropic client (default SDK settings, no retries) on a clean log."""
    return _claude


@pytest.fixture
async def aoai(server: ChaosServer) -> AsyncIterator[openai.AsyncOpenAI]:
    """Async OpenAI client bound to this test's event loop."""
    async with async_client("chat", server) as client:
        yield client


@pytest.fixture
async def aclaude(server: ChaosServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """Async Anthropic client bound to this test's event loop."""
    async with async_client("messages", server) as client:
        yield client
