"""Load and validate SLO specs: the native ``streamslo/v1`` format and OpenSLO v1 ``kind: SLO``.

Both formats become a :class:`Spec`: one service with a list of :class:`SLO` values, each carrying
its SLI as two PromQL templates (error and total event rates) with a ``{{.window}}`` placeholder,
the convention Sloth uses. Every problem is a :class:`SpecError` naming the offending field, never
a KeyError or a PromQL error at load time. ``model`` holds the types, ``fields`` the validators of
single fields, ``native`` and ``openslo`` the two formats; the PromQL comes from ``rules.sli``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from otel_streamslo.rules.conventions import NATIVE_VERSION, OPENSLO_VERSION
from otel_streamslo.rules.spec.fields import fail, mapping, parse_selector
from otel_streamslo.rules.spec.model import SLO, Alerting, Spec, SpecError
from otel_streamslo.rules.spec.native import parse_native
from otel_streamslo.rules.spec.openslo import parse_openslo

__all__ = ["SLO", "Alerting", "Spec", "SpecError", "load_spec", "parse_selector", "parse_spec"]


def parse_spec(data: object) -> Spec:
    """Validate a decoded YAML document (native ``streamslo/v1`` or OpenSLO v1 ``kind: SLO``)."""
    doc = mapping(data, "document")
    if "apiVersion" in doc:
        if doc["apiVersion"] != OPENSLO_VERSION:
            raise fail("apiVersion", f"{doc['apiVersion']!r} is not supported; use {OPENSLO_VERSION}")
        return parse_openslo(doc)
    version = doc.get("version")
    if version != NATIVE_VERSION:
        raise fail("version", f"{version!r} is not supported; use {NATIVE_VERSION} (or OpenSLO apiVersion)")
    return parse_native(doc)


def load_spec(path: Path) -> Spec:
    """Read and validate one spec file; errors name the file."""
    try:
        data: object = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    try:
        return parse_spec(data)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None
