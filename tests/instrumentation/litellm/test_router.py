"""litellm ``Router``: one user-visible stream over several upstream attempts is one span.

Deployments point at the chaos provider; the model-name suffix ``+<fault>`` makes a deployment
fail. Our openai and anthropic instrumentors are on too (the driver's ``_AllInstrumentors``).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Telemetry
from tests.contract.drivers.litellm_sdk import _AllInstrumentors, _litellm

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def instrumented(telemetry: Telemetry) -> Iterator[Telemetry]:
    _litellm()
    insts = _AllInstrumentors()
    insts.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        yield telemetry
    finally:
        insts.uninstrument()


def _router(chaos: Any, primary: str, backup: str = "openai/gpt-4o") -> Any:
    from litellm import Router

    def deployment(name: str, model: str) -> dict[str, Any]:
        base = chaos.anthropic_base_url if model.startswith("anthropic/") else chaos.openai_base_url
        params = {"model": model, "api_base": base, "api_key": "x", "timeout": 2, "max_retries": 0}
        return {"model_name": name, "litellm_params": params}

    return Router(
        model_list=[deployment("primary", primary), deployment("backup", backup)],
        fallbacks=[{"primary": ["backup"]}],
        num_retries=0,
    )


def _consume(router: Any, is_async: bool, **kwargs: Any) -> tuple[list[Any], Any]:
    items: list[Any] = []
    kw = {"model": "primary", "messages": MESSAGES, "stream": True, "max_tokens": 50, **kwargs}

    async def run_async() -> None:
        async for chunk in await router.acompletion(**kw):
            items.append(chunk)

    try:
        if is_async:
            asyncio.run(run_async())
        else:
            items.extend(router.completion(**kw))
    except Exception as exc:
        return items, exc
    return items, None


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("backup", ["openai/gpt-4o", "anthropic/claude-sonnet-4-5"])
def test_fallback_is_one_span_with_its_attempts(
    instrumented: Telemetry, chaos: Any, is_async: bool, backup: str
) -> None:
    router = _router(chaos, "openai/gpt-4o-mini+http_500", backup)
    items, exc = _consume(router, is_async)
    assert exc is None and items
    span = instrumented.only_span()
    attrs = dict(span.attributes or {})
    final = backup.split("/", 1)[1]
    assert span.name == "chat primary"
    assert attrs["gen_ai.request.model"] == "primary"  # the model group the app asked for
    assert attrs["streamslo.attempts"] == 2
    assert list(attrs["streamslo.attempts.models"]) == ["gpt-4o-mini+http_500", final]
    assert attrs["gen_ai.response.model"] == final
    assert attrs["gen_ai.provider.name"] == "openai"  # the first deployment's (metrics keep one key)
    assert (attrs["streamslo.termination.reason"], attrs["streamslo.sli.outcome"]) == ("completed", "good")
    assert attrs["streamslo.chunks.delivered"] == len(items)
    assert instrumented.stream_counts() == {("completed", "good"): 1}
    assert instrumented.active() == 0


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_every_deployment_failing_is_one_failed_request(
    instrumented: Telemetry, chaos: Any, is_async: bool
) -> None:
    router = _router(chaos, "openai/gpt-4o-mini+http_500", "openai/gpt-4o+http_503")
    items, exc = _consume(router, is_async)
    assert exc is not None and items == []
    attrs = dict(instrumented.only_span().attributes or {})
    assert attrs["streamslo.attempts"] == 2
    assert attrs["streamslo.termination.reason"] == "request_failed"
    assert attrs["http.response.status_code"] == exc.status_code  # the status of the error the app got
    assert instrumented.stream_counts() == {("request_failed", "bad"): 1}


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_mid_stream_drop_on_the_first_deployment(instrumented: Telemetry, chaos: Any, is_async: bool) -> None:
    router = _router(chaos, "openai/gpt-4o-mini+reset@3")
    items, exc = _consume(router, is_async)
    assert exc is not None and len(items) >= 1
    attrs = dict(instrumented.only_span().attributes or {})
    assert attrs["streamslo.attempts"] == 1
    assert (attrs["streamslo.termination.reason"], attrs["error.type"]) == ("connection_dropped",) * 2
    assert instrumented.stream_counts() == {("connection_dropped", "bad"): 1}


def test_plain_call_counts_one_attempt_and_unstreamed_calls_pass(instrumented: Telemetry, chaos: Any) -> None:
    litellm = _litellm()
    kw = {"model": "openai/gpt-4o-mini", "api_base": chaos.openai_base_url, "api_key": "x"}
    kw["messages"] = MESSAGES
    reply = litellm.completion(**kw)
    assert reply.choices[0].message.content
    assert instrumented.spans() == []  # not streamed: no span from any of the three instrumentors
    list(litellm.completion(stream=True, **kw))
    gc.collect()
    attrs = dict(instrumented.only_span().attributes or {})
    assert (attrs["streamslo.attempts"], list(attrs["streamslo.attempts.models"])) == (1, ["gpt-4o-mini"])
    assert attrs["server.address"] == "127.0.0.1"
