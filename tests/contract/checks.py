"""What every driver's span, metrics and exceptions must satisfy (DESIGN.md "Span", "SDK metrics")."""

from __future__ import annotations

import traceback
from typing import Any

from opentelemetry.trace import SpanKind, StatusCode

from tests.conftest import Telemetry
from tests.contract.drivers import Driver
from tests.contract.drivers.base import has_name
from tests.contract.faults import TOKENS, Expect, ending_reason
from tests.contract.runner import AppError, Observed

BAD = frozenset({"server_error_event", "connection_dropped", "idle_timeout", "truncated"})
GOOD = frozenset({"completed", "length", "content_filter"})


def outcome_of(reason: str, status: Any) -> str:
    """The default outcome policy, written out (DESIGN.md "Termination reasons")."""
    if reason in GOOD:
        return "good"
    if reason in BAD:
        return "bad"
    if reason == "request_failed":
        return "excluded" if status is not None and 400 <= status < 500 and status != 429 else "bad"
    return "excluded"


def scope_of(span: Any) -> Any:
    return getattr(span.instrumentation_scope, "name", None)


def only_span(tel: Telemetry, driver: Driver) -> Any:
    import gc

    gc.collect()
    spans = list(tel.exporter.get_finished_spans())
    assert len(spans) == 1, [(s.name, scope_of(s)) for s in spans]
    assert scope_of(spans[0]) == driver.span_scope()
    return spans[0]


def check_identity(span: Any, driver: Driver) -> dict[str, Any]:
    attrs = dict(span.attributes or {})
    assert span.kind is SpanKind.CLIENT
    assert span.name == driver.span_name()
    assert attrs["gen_ai.operation.name"] == driver.operation
    assert attrs["gen_ai.provider.name"] == driver.provider
    assert attrs["gen_ai.request.model"] == driver.model
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["server.address"] == "127.0.0.1"
    assert isinstance(attrs["server.port"], int)
    return attrs


def check_exception(driver: Driver, fault: str, mode: str, ending: str, seen: Observed) -> None:
    """The app sees the SDK's own exception (never one raised in our code), or none."""
    streamed = driver.expect(fault, mode).streamed
    if streamed and ending == "raise":
        assert isinstance(seen.exc, AppError), repr(seen.exc)
        return
    if streamed and ending == "cancel":
        assert seen.exc is not None and has_name(seen.exc, ("CancelledError",)), repr(seen.exc)
        return
    names = driver.exception_names(fault, mode) if ending == "consume" or not streamed else None
    if names is None:
        assert seen.exc is None, repr(seen.exc)
    else:
        assert seen.exc is not None and has_name(seen.exc, names), (names, repr(seen.exc))
    if seen.exc is not None:
        origin = traceback.extract_tb(seen.exc.__traceback__)[-1].filename
        assert "otel_streamslo" not in origin, (origin, repr(seen.exc))


def check_status(
    span: Any, driver: Driver, attrs: dict[str, Any], reason: str, outcome: str, expect: Expect
) -> None:
    """Bad streams (and failed requests) are ERROR with error.type; the rest carry no error.type."""
    if outcome == "bad" or reason == "request_failed":
        assert span.status.status_code is StatusCode.ERROR
        want = str(expect.status) if reason == "request_failed" else reason
        assert attrs["error.type"] == want
    else:
        ok = driver.good_status_ok() and outcome == "good"
        assert span.status.status_code is (StatusCode.OK if ok else StatusCode.UNSET)
        assert "error.type" not in attrs


def check_metrics(
    tel: Telemetry, attrs: dict[str, Any], reason: str, outcome: str, first_token: bool
) -> None:
    """Metrics agree with the one span: one stream counted, none active, one duration point."""
    assert tel.stream_counts() == {(reason, outcome): 1}
    assert tel.active() == 0
    durations = tel.points("gen_ai.client.operation.duration")
    assert sum(p.count for p in durations) == 1
    if "error.type" in attrs:
        assert durations[0].attributes["error.type"] == attrs["error.type"]
    ttft = tel.points("gen_ai.client.operation.time_to_first_chunk")
    assert sum(p.count for p in ttft) == (1 if first_token else 0)


def check_timing(span: Any, attrs: dict[str, Any], first_token: bool) -> None:
    ttc = attrs["streamslo.time_to_completion"]
    assert isinstance(ttc, float) and ttc > 0
    if first_token:
        ttft = attrs["streamslo.time_to_first_token"]
        assert isinstance(ttft, float) and 0 < ttft <= ttc
        assert attrs["gen_ai.response.time_to_first_chunk"] <= ttft
        assert next(e.name for e in span.events) == "streamslo.first_token"
    else:
        assert "streamslo.time_to_first_token" not in attrs


def check_content(
    driver: Driver, fault: str, mode: str, seen: Observed, attrs: dict[str, Any], reason: str
) -> None:
    """Chunks, tokens, usage, finish reason and tool calls, as the app saw them."""
    if not driver.expect(fault, mode).streamed:
        assert attrs["streamslo.chunks.delivered"] == 0
        assert seen.items == []
        assert "gen_ai.response.finish_reasons" not in attrs
        return
    assert attrs["streamslo.chunks.delivered"] == driver.wire_chunks(seen.items, mode) + driver.unseen_chunks(
        fault, mode
    )
    assert attrs["streamslo.tokens.delivered"] >= 1
    assert attrs.get("gen_ai.response.model") == driver.response_model()
    assert attrs["gen_ai.response.id"]
    if reason in GOOD:  # usage as the provider reported it to the app
        usage = driver.reported_usage(seen.items, mode)
        assert usage is not None
        assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == usage
        assert attrs["streamslo.tokens.delivered"] == usage[1]
        if fault in ("none", "length"):
            assert usage[1] == TOKENS
        assert attrs["gen_ai.response.finish_reasons"] == (driver.finish_reason(fault),)
    else:  # not completed: tokens counted from the deltas, no output usage arrived
        assert "gen_ai.usage.output_tokens" not in attrs
        assert "gen_ai.response.finish_reasons" not in attrs
    if driver.input_usage_at_start:
        assert attrs["gen_ai.usage.input_tokens"] > 0


def check_consumed(tel: Telemetry, driver: Driver, fault: str, mode: str, seen: Observed) -> None:
    """A stream consumed to its end: the full contract of the one span of the call."""
    expect = driver.expect(fault, mode)
    span = only_span(tel, driver)
    attrs = check_identity(span, driver)
    reason, outcome = expect.reason, outcome_of(expect.reason, expect.status)
    assert (attrs["streamslo.termination.reason"], attrs["streamslo.sli.outcome"]) == (reason, outcome), (
        seen.exc
    )
    assert attrs.get("http.response.status_code") == expect.status
    check_exception(driver, fault, mode, "consume", seen)
    check_status(span, driver, attrs, reason, outcome, expect)
    check_timing(span, attrs, expect.streamed)
    check_content(driver, fault, mode, seen, attrs, reason)
    if fault == "tool_calls":
        tools = [e for e in span.events if e.name == "streamslo.tool_call"]
        assert [(e.attributes or {})["gen_ai.tool.name"] for e in tools] == [driver.tool_name()]
    elif fault == "tool_calls_reset":
        assert attrs["streamslo.tool_calls.committed"] == 1  # the first call was whole before the drop
    else:
        assert attrs["streamslo.tool_calls.committed"] == 0
    check_metrics(tel, attrs, reason, outcome, expect.streamed)


def check_ending(tel: Telemetry, driver: Driver, fault: str, mode: str, ending: str, seen: Observed) -> None:
    """A stream the app left early (or consumed): one span, the ending's reason, metrics agree."""
    natural = driver.expect(fault, mode)
    reason = ending_reason(natural, mode, ending)
    outcome = outcome_of(reason, natural.status)
    span = only_span(tel, driver)
    attrs = check_identity(span, driver)
    assert (attrs["streamslo.termination.reason"], attrs["streamslo.sli.outcome"]) == (reason, outcome), (
        seen.exc
    )
    check_exception(driver, fault, mode, ending, seen)
    check_status(span, driver, attrs, reason, outcome, natural)
    if mode == "raw" or not natural.streamed:
        assert attrs["streamslo.chunks.delivered"] == driver.wire_chunks(seen.items, mode)
    assert tel.stream_counts() == {(reason, outcome): 1}
    assert tel.active() == 0
