"""Output formats of the generated rules; every format holds the same rule groups.

- ``prometheus`` (default): a plain Prometheus rule file (``groups:``), for ``rule_files``.
- ``prometheus-operator``: a ``PrometheusRule`` object (``monitoring.coreos.com/v1``) whose
  ``spec.groups`` are those groups; metadata from the spec's ``prometheus_operator`` section.
- ``mimir``: a Mimir/Cortex ruler namespace file (``namespace:`` + ``groups:``), the format of
  ``mimirtool rules load`` / ``cortextool rules load``; namespace from the spec's ``mimir`` section.
"""

from __future__ import annotations

from typing import Any

from otel_streamslo.rules.render import render
from otel_streamslo.rules.spec import Spec, SpecError
from otel_streamslo.rules.spec.fields import is_k8s_label_value

FORMATS: tuple[str, ...] = ("prometheus", "prometheus-operator", "mimir")
OPERATOR_API_VERSION = "monitoring.coreos.com/v1"
MANAGED_BY = {"app.kubernetes.io/managed-by": "otel-streamslo", "app.kubernetes.io/component": "slo"}


def operator_labels(spec: Spec) -> dict[str, str]:
    """PrometheusRule labels: ours, the spec's ``labels``, then ``prometheus_operator.labels``."""
    for key, value in spec.labels.items():
        if not is_k8s_label_value(value):
            raise SpecError(
                f"spec.labels.{key}: {value!r} is not a valid Kubernetes label value, needed for "
                "--format prometheus-operator (at most 63 characters of [A-Za-z0-9._-])"
            )
    return dict(sorted({**MANAGED_BY, **spec.labels, **spec.deployment.operator_labels}.items()))


def prometheus_rule(spec: Spec) -> dict[str, Any]:
    """The ``PrometheusRule`` manifest of a spec."""
    deployment = spec.deployment
    metadata: dict[str, Any] = {"name": deployment.operator_name or f"{spec.service}-slos"}
    if deployment.operator_namespace:
        metadata["namespace"] = deployment.operator_namespace
    metadata["labels"] = operator_labels(spec)
    if deployment.operator_annotations:
        metadata["annotations"] = dict(sorted(deployment.operator_annotations.items()))
    return {
        "apiVersion": OPERATOR_API_VERSION,
        "kind": "PrometheusRule",
        "metadata": metadata,
        "spec": render(spec),
    }


def mimir_namespace(spec: Spec) -> dict[str, Any]:
    """The Mimir/Cortex ruler namespace file of a spec."""
    return {"namespace": spec.deployment.mimir_namespace or spec.service, **render(spec)}


def rule_document(spec: Spec, output_format: str = "prometheus") -> dict[str, Any]:
    """The document of one output format (raises ValueError on an unknown format)."""
    if output_format == "prometheus":
        return render(spec)
    if output_format == "prometheus-operator":
        return prometheus_rule(spec)
    if output_format == "mimir":
        return mimir_namespace(spec)
    raise ValueError(f"unknown rules format {output_format!r}; use one of {', '.join(FORMATS)}")
