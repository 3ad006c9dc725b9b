"""OTLP/protobuf trace bodies built by hand: collector tests, fleet traffic, the collector benchmark."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

__all__ = ["client_span", "export_body", "kv"]


def kv(key: str, value: Any) -> KeyValue:
    """One OTLP attribute: bool, int and float keep their type, anything else is a string."""
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def client_span(
    name: str, trace_id: bytes, span_id: bytes, start: int, end: int, attrs: Mapping[str, Any]
) -> Span:
    """A CLIENT span from ``start`` to ``end`` (ns since the epoch) with these attributes."""
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        name=name,
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        attributes=[kv(k, v) for k, v in attrs.items()],
    )


def export_body(service: str, spans: list[Span], scope: Optional[str] = "otel_streamslo") -> bytes:
    """A serialised ``ExportTraceServiceRequest``: ``spans`` of one service and scope (None: no scope)."""
    scope_spans = (
        ScopeSpans(spans=spans)
        if scope is None
        else ScopeSpans(scope=InstrumentationScope(name=scope), spans=spans)
    )
    resource = Resource(attributes=[kv("service.name", service)])
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource, scope_spans=[scope_spans])]
    )
    return bytes(request.SerializeToString())
