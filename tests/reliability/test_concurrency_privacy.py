"""Concurrency (1,000 async streams, 64 threads of sync streams) and privacy of the full export."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections import Counter
from typing import Any

import anthropic
import openai
import pytest

from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor
from tests.conftest import Telemetry
from tests.contract.drivers import DRIVERS, AnthropicMessages, OpenAIChat, anthropic_sdk, openai_sdk
from tests.contract.runner import make_client, run_sync

MIXED = ["none", "reset@2", "eof@3", "error_frame@1", "length", "http_503", "content_filter", "tool_calls"]
REASON = {
    "none": "completed",
    "reset": "connection_dropped",
    "eof": "truncated",
    "error_frame": "server_error_event",
    "length": "length",
    "http_503": "request_failed",
    "content_filter": "content_filter",
    "tool_calls": "completed",
}


def _check_counts(tel: Telemetry, faults: list[str], sdk_of: list[str]) -> None:
    spans = tel.spans()
    assert len(spans) == len(faults)
    got = Counter(
        ((s.attributes or {})["gen_ai.provider.name"], (s.attributes or {})["streamslo.termination.reason"])
        for s in spans
    )
    want = Counter((sdk, REASON[f.split("@")[0]]) for sdk, f in zip(sdk_of, faults))
    assert got == want
    assert len({s.context.span_id for s in spans}) == len(spans)
    metric_total = sum(tel.stream_counts().values())
    assert metric_total == len(faults)
    assert tel.active() == 0


@pytest.mark.slow
async def test_1000_concurrent_async_streams(instrument_both: Telemetry, chaos: Any) -> None:
    n = 1000
    faults = [MIXED[i % len(MIXED)] for i in range(n)]
    sdks = ["openai" if i % 2 == 0 else "anthropic" for i in range(n)]
    oa = openai.AsyncOpenAI(base_url=chaos.openai_base_url, api_key="t", max_retries=0, timeout=60)
    an = anthropic.AsyncAnthropic(base_url=chaos.anthropic_base_url, api_key="t", max_retries=0, timeout=60)
    sem = asyncio.Semaphore(1000)
    # Every stream is held open until all have started, so all 1,000 are in flight at once.
    started = 0
    all_started = asyncio.Event()

    async def one(i: int) -> int:
        nonlocal started
        h = {"x-chaos-fault": faults[i], "x-chaos-tokens": "6", "x-chaos-request-tag": str(i)}
        items = 0
        async with sem:
            try:
                if sdks[i] == "openai":
                    stream: Any = await oa.chat.completions.create(
                        model=f"m{i % 4}",
                        messages=[{"role": "user", "content": "x"}],
                        stream=True,
                        extra_headers=h,
                    )
                else:
                    stream = await an.messages.create(
                        model=f"c{i % 4}",
                        max_tokens=50,
                        messages=[{"role": "user", "content": "x"}],
                        stream=True,
                        extra_headers=h,
                    )
            except (openai.OpenAIError, anthropic.AnthropicError):
                stream = None
            started += 1
            if started == n:
                peak_active.append(instrument_both.active())  # the last starter looks before anyone reads on
                all_started.set()
            await asyncio.wait_for(all_started.wait(), 120)
            if stream is None:
                return 0
            try:
                async for _ in stream:
                    items += 1
            except Exception:
                pass
        return items

    peak_active: list[int] = []
    try:
        results = await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        await oa.close()
        await an.close()
    # 1,000 streams in flight at once, minus the 503s that never opened a stream
    assert peak_active == [n - faults.count("http_503")]
    _check_counts(instrument_both, faults, sdks)
    spans = instrument_both.spans()
    assert sum(r for r in results if r) == sum(
        (s.attributes or {})["streamslo.chunks.delivered"] for s in spans
    )


@pytest.mark.slow
def test_64_threads_of_sync_streams(
    instrument_both: Telemetry, chaos: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    per_thread = 5
    by_sdk = {"openai": OpenAIChat(), "anthropic": AnthropicMessages()}
    faults: list[str] = []
    sdks: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(64)

    def worker(t: int) -> None:
        barrier.wait()
        for k in range(per_thread):
            fault = MIXED[(t + k) % len(MIXED)]
            sdk = "openai" if (t + k) % 2 == 0 else "anthropic"
            try:
                driver = by_sdk[sdk]  # a long read timeout: 64 threads share one GIL, no stall faults here
                with make_client(driver, chaos, instrument_both, asynchronous=False, read=60.0) as client:
                    run_sync(driver, client, "raw", "consume", fault)
            except BaseException as exc:  # a failure here would be ours: the driver catches SDK errors
                errors.append(exc)
            with lock:
                faults.append(fault)
                sdks.append(sdk)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(64)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert errors == []
    assert len(faults) == 64 * per_thread
    _check_counts(instrument_both, faults, sdks)


def _export_text(tel: Telemetry) -> str:
    """Everything exported: span names, attributes, events, status, resource; metric points."""
    parts: list[str] = []
    for span in tel.exporter.get_finished_spans():
        parts.append(span.to_json())
    data = tel.reader.get_metrics_data()
    if data is not None:
        parts.append(data.to_json())
    return "\n".join(parts)


def test_default_export_has_no_prompt_or_completion_text(
    instrument_both: Telemetry, chaos: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = f"SECRET-{uuid.uuid4().hex}"
    monkeypatch.setattr(openai_sdk, "PROMPT", secret)
    monkeypatch.setattr(anthropic_sdk, "PROMPT", secret)
    caplog.set_level(logging.DEBUG, logger="otel_streamslo")
    faults = ("none", "tool_calls", "error_frame@3", "reset@3", "eof@3", "length", "http_429")
    endings = ("consume", "close", "break", "drop")
    calls = 0
    for driver in DRIVERS:
        if driver.sdk not in ("openai", "anthropic"):  # the SDKs instrument_both instruments
            continue
        for mode in driver.modes:
            if driver.missing(mode):
                continue
            with make_client(driver, chaos, instrument_both, asynchronous=False) as client:
                for ending in endings:
                    for fault in faults:
                        run_sync(driver, client, mode, ending, fault)
                        calls += 1
    text = _export_text(instrument_both)
    assert len(instrument_both.spans()) == calls
    assert secret not in text
    # completion text streamed by the chaos provider: "tok0 tok1 ..." (and tool arguments)
    assert "tok1 " not in text and "Paris" not in text
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("otel_streamslo."))
    assert secret not in ours and "tok1 " not in ours
    assert "gen_ai.input.messages" not in text and "gen_ai.output.messages" not in text


def test_opt_in_capture_records_bounded_content(telemetry: Telemetry, chaos: Any) -> None:
    inst = OpenAIStreamInstrumentor()
    inst.instrument(tracer_provider=telemetry.tracer_provider, capture_content=True, max_content_chars=60)
    try:
        with openai.OpenAI(base_url=chaos.openai_base_url, api_key="t", max_retries=0) as client:
            list(
                client.chat.completions.create(
                    model="m",
                    messages=[{"role": "user", "content": "what is the weather?"}],
                    stream=True,
                    extra_headers={"x-chaos-tokens": "40"},
                )
            )
    finally:
        inst.uninstrument()
    attrs = telemetry.only_span().attributes or {}
    assert "what is the weather?" in str(attrs["gen_ai.input.messages"])
    out = json.loads(str(attrs["gen_ai.output.messages"]))
    text = out[0]["parts"][0]["content"]
    assert text.startswith("tok0 tok1 ")
    assert len(text) == 60  # 40 tokens of 5 characters, cut at the bound
