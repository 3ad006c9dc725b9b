"""deploy/ manifests, validated offline.

- Each manifest is what ``tests.e2e_fleet.deploy_render`` renders, and the collector config it
  embeds equals the checked-in file under collector/config/ (parsed YAML, compared whole).
- That embedded config passes ``otelcol-streamslo validate`` (the built binary, which has every
  component of otelcol-contrib that these configs use).
- The Kubernetes parts (env with fieldRef, resources, container and service ports) validate against
  the published Kubernetes JSON schemas of the ``kubernetes-validate`` package (strict: unknown
  fields fail), wrapped in a Pod / Service.
- No package ships the opentelemetry-collector chart's values.schema.json or the Operator's CRD
  schema: the Helm values and the OpenTelemetryCollector spec are checked structurally (keys
  against the chart's / the v1beta1 API's field names listed below, modes, images, command).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from .deploy_render import CONFIG, DEPLOY, manifests, render
from .harness import BINARY

MANIFESTS = manifests()
K8S = kubernetes_validate.latest_version()
# top-level keys of the opentelemetry-collector chart's values.yaml that these files use
HELM_KEYS = {"mode", "image", "command", "replicaCount", "extraEnvs", "ports", "resources", "alternateConfig"}
HELM_MODES = {"deployment", "daemonset", "statefulset"}
# OpenTelemetryCollectorSpec (opentelemetry.io/v1beta1) fields these files use
OPERATOR_KEYS = {"mode", "image", "replicas", "env", "ports", "resources", "config"}
OPERATOR_MODES = {"deployment", "daemonset", "statefulset", "sidecar"}
BINARIES = {
    "ghcr.io/otel-streamslo/otelcol-streamslo": "otelcol-streamslo",
    "otel/opentelemetry-collector-contrib": "otelcol-contrib",
}


def dig(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def load(rel: str) -> dict[str, Any]:
    doc = yaml.safe_load((DEPLOY / rel).read_text())
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize("rel", sorted(MANIFESTS))
def test_manifest_is_rendered_from_the_checked_in_config(rel: str) -> None:
    header, doc, cfg, path = MANIFESTS[rel]
    assert (DEPLOY / rel).read_text() == render(header, doc, cfg), (
        f"deploy/{rel} is stale: run `.venv/bin/python -m tests.e2e_fleet.deploy_render`"
    )
    embedded = dig(load(rel), path)
    assert embedded == yaml.safe_load((CONFIG / cfg).read_text())


@pytest.mark.parametrize("rel", sorted(MANIFESTS))
def test_embedded_config_validates_with_the_real_binary(rel: str, tmp_path: Path) -> None:
    assert BINARY.exists(), f"{BINARY} missing: run `bash collector/build.sh`"
    _, _, _, path = MANIFESTS[rel]
    cfg = tmp_path / "embedded.yaml"
    cfg.write_text(yaml.safe_dump(dig(load(rel), path)))
    env = dict(os.environ, STREAMSLO_GATEWAY_ENDPOINTS="[gw-0.gw:4317, gw-1.gw:4317]")
    for e in env_list(load(rel)):
        if "value" in e:
            env[e["name"]] = e["value"]
    p = subprocess.run(
        [str(BINARY), "validate", "--config", str(cfg)], capture_output=True, text=True, env=env, timeout=60
    )
    assert p.returncode == 0, p.stderr[-3000:]


def env_list(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["spec"]["env"] if "spec" in doc else doc["extraEnvs"])


def container(doc: dict[str, Any]) -> dict[str, Any]:
    """The container these values / this CR produce, as a core/v1 Container."""
    if "spec" in doc:
        spec = doc["spec"]
        image = spec["image"]
        ports = [{"name": p["name"], "containerPort": p["port"]} for p in spec["ports"]]
    else:
        image = f"{doc['image']['repository']}:{doc['image']['tag']}"
        ports = [
            {"name": name, "containerPort": p["containerPort"], "protocol": p["protocol"]}
            for name, p in doc["ports"].items()
            if p.get("enabled")
        ]
        spec = doc
    return {
        "name": "otelcol",
        "image": image,
        "env": env_list(doc),
        "resources": spec["resources"],
        "ports": ports,
    }


@pytest.mark.parametrize("rel", sorted(MANIFESTS))
def test_kubernetes_parts_validate_against_the_published_schemas(rel: str) -> None:
    doc = load(rel)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "x"},
        "spec": {"containers": [container(doc)]},
    }
    kubernetes_validate.validate(pod, K8S, strict=True)
    if "spec" in doc:
        svc = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": doc["metadata"]["name"]},
            "spec": {"ports": doc["spec"]["ports"]},
        }
        kubernetes_validate.validate(svc, K8S, strict=True)
        meta = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": doc["metadata"]}
        kubernetes_validate.validate(meta, K8S, strict=True)


def test_schema_validation_catches_a_typo() -> None:
    """The check above is not vacuous: a misspelt env field fails it."""
    doc = load("operator/gateway.yaml")
    bad = container(doc)
    bad["env"] = [{"name": "X", "valeu": "1"}]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": [bad]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, K8S, strict=True)


@pytest.mark.parametrize("rel", sorted(r for r in MANIFESTS if "values" in r))
def test_helm_values_structure(rel: str) -> None:
    doc = load(rel)
    assert set(doc) <= HELM_KEYS, set(doc) - HELM_KEYS
    assert doc["mode"] in HELM_MODES
    assert doc["command"]["name"] == BINARIES[doc["image"]["repository"]]
    assert doc["ports"]["otlp"]["enabled"] and doc["ports"]["otlp"]["containerPort"] == 4317


@pytest.mark.parametrize("rel", sorted(r for r in MANIFESTS if "values" not in r))
def test_operator_resource_structure(rel: str) -> None:
    doc = load(rel)
    assert doc["apiVersion"] == "opentelemetry.io/v1beta1" and doc["kind"] == "OpenTelemetryCollector"
    assert set(doc["spec"]) <= OPERATOR_KEYS, set(doc["spec"]) - OPERATOR_KEYS
    assert doc["spec"]["mode"] in OPERATOR_MODES
    assert isinstance(doc["spec"]["config"], dict)  # v1beta1: a structured object, not a string
    assert doc["spec"]["image"].split(":")[0] in BINARIES


def test_dockerfile_entrypoint_matches_the_helm_command() -> None:
    text = (DEPLOY.parent / "collector" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/otelcol-streamslo"]' in text


def test_fleet_configs_classify_and_count_like_the_single_collector() -> None:
    """The gateway and tail-sampling configs keep the single collector's processors and span
    metrics (so N gateways count what one collector counts); only their exports differ."""
    single = yaml.safe_load((CONFIG / "otelcol-streamslo.yaml").read_text())
    for name, extra_processors, extra_connectors in (
        ("otelcol-streamslo-gateway.yaml", set(), set()),
        ("otelcol-streamslo-tail-sampling.yaml", {"tail_sampling"}, {"forward/sampling"}),
    ):
        doc = yaml.safe_load((CONFIG / name).read_text())
        procs = {k: v for k, v in doc["processors"].items() if k not in extra_processors}
        conns = {k: v for k, v in doc["connectors"].items() if k not in extra_connectors}
        assert procs == single["processors"], name
        assert conns == single["connectors"], name
        assert (
            doc["service"]["pipelines"]["traces"]["processors"]
            == single["service"]["pipelines"]["traces"]["processors"]
        ), name


@pytest.mark.parametrize(
    "name", ["otelcol-agent.yaml", "otelcol-streamslo-gateway.yaml", "otelcol-streamslo-tail-sampling.yaml"]
)
def test_fleet_config_files_validate(name: str) -> None:
    env = dict(os.environ, STREAMSLO_GATEWAY_ENDPOINTS="[127.0.0.1:14317, 127.0.0.1:24317]")
    p = subprocess.run(
        [str(BINARY), "validate", "--config", str(CONFIG / name)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr[-3000:]
