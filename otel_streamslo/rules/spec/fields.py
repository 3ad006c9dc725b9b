"""Validators of single spec fields; each error names the field's path and what is allowed."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from otel_streamslo.rules.conventions import PERIODS, RESERVED_LABELS, TTFT_BUCKETS
from otel_streamslo.rules.sli import format_le
from otel_streamslo.rules.spec.model import SpecError

_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_METRIC_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_MATCHER_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_DURATION_RE = re.compile(r"^[1-9][0-9]*(ms|s|m|h|d|w)$")


def fail(where: str, message: str) -> SpecError:
    """The error to raise for field ``where``."""
    return SpecError(f"{where}: {message}")


def mapping(value: object, where: str) -> Mapping[str, Any]:
    """A mapping with string keys."""
    if not isinstance(value, Mapping):
        raise fail(where, f"must be a mapping, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise fail(where, f"keys must be strings, got {key!r}")
    return value


def no_unknown(data: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    """Reject fields not in ``allowed``."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise fail(where, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")


def text(value: object, where: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise fail(where, f"must be a non-empty string, got {value!r}")
    return value


def name(value: object, where: str) -> str:
    """A DNS-label-like name (SLO and service names)."""
    result = text(value, where)
    if not _NAME_RE.match(result):
        raise fail(where, f"{result!r} must be lowercase alphanumerics and '-', at most 63 characters")
    return result


def metric(value: object, where: str) -> str:
    """A Prometheus metric name."""
    result = text(value, where)
    if not _METRIC_RE.match(result):
        raise fail(where, f"{result!r} is not a Prometheus metric name")
    return result


def objective(value: object, where: str) -> Decimal:
    """A percentage strictly between 0 and 100, exact."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise fail(where, f"must be a number (percent, e.g. 99.5), got {value!r}")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise fail(where, f"must be a number (percent, e.g. 99.5), got {value!r}") from None
    if not result.is_finite() or not Decimal(0) < result < Decimal(100):
        raise fail(where, f"must be a percentage strictly between 0 and 100 (e.g. 99.5), got {value!r}")
    return result.normalize()


def duration(value: object, where: str) -> str:
    """A Prometheus duration such as 5m."""
    result = text(value, where)
    if not _DURATION_RE.match(result):
        raise fail(where, f"{result!r} is not a Prometheus duration such as 5m or 1h")
    return result


def flag(value: object, where: str) -> bool:
    """A boolean."""
    if not isinstance(value, bool):
        raise fail(where, f"must be true or false, got {value!r}")
    return value


def labels(value: object, where: str) -> dict[str, str]:
    """Extra Prometheus labels (not the generator's own)."""
    if value is None:
        return {}
    data = mapping(value, where)
    result: dict[str, str] = {}
    for key, raw in data.items():
        if not _LABEL_RE.match(key) or key.startswith("__"):
            raise fail(f"{where}.{key}", "is not a valid Prometheus label name")
        if key in RESERVED_LABELS:
            raise fail(f"{where}.{key}", "is set by the generator and cannot be overridden")
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            raise fail(f"{where}.{key}", f"label values must be scalars, got {raw!r}")
        result[key] = str(raw)
    return result


def parse_selector(value: object, where: str) -> str:
    """Validate PromQL label matchers without braces (``a="x", b=~"y|z"``); return them normalized."""
    if value is None or value == "":
        return ""
    source = text(value, where).strip()
    if source.startswith("{") and source.endswith("}"):
        source = source[1:-1].strip()
    found: list[str] = []
    pos = 0
    while pos < len(source):
        match = _MATCHER_RE.match(source, pos)
        if not match:
            raise fail(where, f'{value!r} is not a list of label matchers such as service_name="my-app"')
        found.append(f'{match.group(1)}{match.group(2)}"{match.group(3)}"')
        pos = match.end()
        if pos < len(source):
            if source[pos] != ",":
                raise fail(where, f"{value!r}: expected ',' between matchers at offset {pos}")
            pos += 1
    return ", ".join(found)


def choices(
    value: object, allowed: Sequence[str], where: str, *, allow_empty: bool = True
) -> tuple[str, ...]:
    """A list of distinct values out of ``allowed``, in the given order."""
    if value is None:
        value = []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise fail(where, f"must be a list, got {value!r}")
    items: list[str] = []
    for item in value:
        if item not in allowed:
            raise fail(where, f"unknown value {item!r}; allowed: {', '.join(allowed)}")
        if item not in items:
            items.append(item)
    if not items and not allow_empty:
        raise fail(where, "must not be empty")
    return tuple(items)


def one_of(value: object, allowed: Sequence[str], where: str) -> str:
    """One value out of ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise fail(where, f"unknown value {value!r}; allowed: {', '.join(allowed)}")
    return value


def period(value: object, where: str) -> str:
    """An SLO period of :data:`PERIODS`."""
    result = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if result not in PERIODS:
        raise fail(where, f"{value!r} is not a supported SLO window; use one of {', '.join(PERIODS)}")
    return result


def ttft_threshold(value: object, where: str) -> float:
    """A TTFT threshold that is a bucket bound of the SDK histogram (so the SLI is exact)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(where, f"must be a number of seconds, got {value!r}")
    threshold = float(value)
    if threshold not in TTFT_BUCKETS:
        bounds = ", ".join(format_le(b) for b in TTFT_BUCKETS)
        raise fail(
            where,
            f"{value!r} s is not a bucket bound of the TTFT histogram, so the SLI cannot be counted "
            f"exactly; use one of {bounds} (or source: spans with the collector's threshold)",
        )
    return threshold


_K8S_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_K8S_LABEL_KEY_RE = re.compile(
    r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_K8S_LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def is_k8s_label_value(value: str) -> bool:
    """True for a valid Kubernetes label value (at most 63 characters of [A-Za-z0-9._-])."""
    return bool(_K8S_LABEL_VALUE_RE.match(value))


def k8s_name(value: object, where: str) -> str:
    """A Kubernetes object or namespace name (DNS subdomain)."""
    result = text(value, where)
    if not _K8S_NAME_RE.match(result):
        raise fail(where, f"{result!r} is not a Kubernetes name (lowercase alphanumerics, '-' and '.')")
    return result


def k8s_labels(value: object, where: str) -> dict[str, str]:
    """Kubernetes labels: qualified-name keys, values of at most 63 characters."""
    if value is None:
        return {}
    result: dict[str, str] = {}
    for key, raw in mapping(value, where).items():
        if not _K8S_LABEL_KEY_RE.match(key):
            raise fail(f"{where}.{key}", "is not a valid Kubernetes label key")
        if (
            isinstance(raw, bool)
            or not isinstance(raw, (str, int, float))
            or not _K8S_LABEL_VALUE_RE.match(str(raw))
        ):
            raise fail(
                f"{where}.{key}",
                f"{raw!r} is not a valid Kubernetes label value (63 characters, [A-Za-z0-9._-])",
            )
        result[key] = str(raw)
    return result


def k8s_annotations(value: object, where: str) -> dict[str, str]:
    """Kubernetes annotations: label-style keys, any string values."""
    if value is None:
        return {}
    result: dict[str, str] = {}
    for key, raw in mapping(value, where).items():
        if not _K8S_LABEL_KEY_RE.match(key):
            raise fail(f"{where}.{key}", "is not a valid Kubernetes annotation key")
        result[key] = text(raw, f"{where}.{key}")
    return result
