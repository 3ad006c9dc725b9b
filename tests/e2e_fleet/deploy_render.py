"""The deploy/ manifests, built from the checked-in collector configs (so the two never drift).

    .venv/bin/python -m tests.e2e_fleet.deploy_render     # rewrite deploy/{helm,operator,contrib}/*.yaml

tests/e2e_fleet/test_deploy_files.py fails when a committed manifest differs from what this renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "collector" / "config"
DEPLOY = REPO / "deploy"
IMAGE = {
    "repository": "ghcr.io/otel-streamslo/otelcol-streamslo",
    "tag": "0.1.0",
    "pullPolicy": "IfNotPresent",
}
CONTRIB_IMAGE = {
    "repository": "otel/opentelemetry-collector-contrib",
    "tag": "0.155.0",
    "pullPolicy": "IfNotPresent",
}
GATEWAY_HOSTS = "[{0}-0.{0}-headless:4317, {0}-1.{0}-headless:4317]"
REMOTE_WRITE = "http://mimir-distributor.mimir.svc:8080/api/v1/push"


def env(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


POD_NAME = {"name": "STREAMSLO_GATEWAY_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
LISTEN = [
    env("STREAMSLO_OTLP_GRPC_ENDPOINT", "0.0.0.0:4317"),
    env("STREAMSLO_OTLP_HTTP_ENDPOINT", "0.0.0.0:4318"),
    env("STREAMSLO_PROM_ENDPOINT", "0.0.0.0:8889"),
    env("STREAMSLO_SELF_METRICS_HOST", "0.0.0.0"),
]
RESOURCES = {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
AGENT_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}


def config(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((CONFIG / name).read_text())
    assert isinstance(doc, dict)
    return doc


def helm_ports(metrics: bool) -> dict[str, Any]:
    off = {"enabled": False}
    ports: dict[str, Any] = {
        "otlp": {"enabled": True, "containerPort": 4317, "servicePort": 4317, "protocol": "TCP"},
        "otlp-http": {"enabled": True, "containerPort": 4318, "servicePort": 4318, "protocol": "TCP"},
        "jaeger-compact": off,
        "jaeger-thrift": off,
        "jaeger-grpc": off,
        "zipkin": off,
        "metrics": {"enabled": True, "containerPort": 8888, "servicePort": 8888, "protocol": "TCP"},
    }
    if metrics:
        ports["spanmetrics"] = {
            "enabled": True,
            "containerPort": 8889,
            "servicePort": 8889,
            "protocol": "TCP",
        }
    return ports


def helm_values(
    mode: str, image: dict[str, str], command: str, cfg: str, extra_env: list[Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {"mode": mode, "image": image, "command": {"name": command, "extraArgs": []}}
    if mode == "statefulset":
        values["replicaCount"] = 2
    values.update(
        {
            "extraEnvs": LISTEN + extra_env,
            "ports": helm_ports(metrics=cfg != "otelcol-agent.yaml"),
            "resources": AGENT_RESOURCES if mode == "daemonset" else RESOURCES,
            "alternateConfig": config(cfg),
        }
    )
    return values


def operator_cr(name: str, mode: str, image: str, cfg: str, extra_env: list[Any]) -> dict[str, Any]:
    ports = [{"name": "otlp-grpc", "port": 4317, "protocol": "TCP"}, {"name": "otlp-http", "port": 4318}]
    if cfg != "otelcol-agent.yaml":
        ports.append({"name": "spanmetrics", "port": 8889, "protocol": "TCP"})
    spec: dict[str, Any] = {"mode": mode, "image": image}
    if mode == "statefulset":
        spec["replicas"] = 2
    spec.update(
        {
            "env": LISTEN + extra_env,
            "ports": ports,
            "resources": AGENT_RESOURCES if mode == "daemonset" else RESOURCES,
            "config": config(cfg),
        }
    )
    return {
        "apiVersion": "opentelemetry.io/v1beta1",
        "kind": "OpenTelemetryCollector",
        "metadata": {"name": name, "namespace": "observability"},
        "spec": spec,
    }


def image_ref(img: dict[str, str]) -> str:
    return f"{img['repository']}:{img['tag']}"


# file -> (header, document, embedded config file, path of the embedded config in the document)
Manifests = dict[str, tuple[str, dict[str, Any], str, tuple[str, ...]]]
HELM_PATH, OPERATOR_PATH = ("alternateConfig",), ("spec", "config")


def _custom_image_manifests() -> Manifests:
    """Gateway and agent tiers of the custom image, as Helm values and as Operator resources."""
    gw_env = [POD_NAME, env("STREAMSLO_REMOTE_WRITE_URL", REMOTE_WRITE)]
    helm_hosts = GATEWAY_HOSTS.format("streamslo-gateway")
    op_hosts = GATEWAY_HOSTS.format("streamslo-gateway-collector")
    return {
        "helm/values-gateway.yaml": (
            "opentelemetry-collector chart: gateway tier (custom image, streamslo processor). "
            "helm install streamslo-gateway open-telemetry/opentelemetry-collector -f this "
            "--set fullnameOverride=streamslo-gateway",
            helm_values("statefulset", IMAGE, "otelcol-streamslo", "otelcol-streamslo-gateway.yaml", gw_env),
            "otelcol-streamslo-gateway.yaml",
            HELM_PATH,
        ),
        "helm/values-agent.yaml": (
            "opentelemetry-collector chart: agent tier (DaemonSet, loadbalancing exporter to the gateways)",
            helm_values(
                "daemonset",
                IMAGE,
                "otelcol-streamslo",
                "otelcol-agent.yaml",
                [env("STREAMSLO_GATEWAY_ENDPOINTS", helm_hosts)],
            ),
            "otelcol-agent.yaml",
            HELM_PATH,
        ),
        "operator/gateway.yaml": (
            "OpenTelemetry Operator: gateway tier (StatefulSet streamslo-gateway-collector-0..1)",
            operator_cr(
                "streamslo-gateway", "statefulset", image_ref(IMAGE), "otelcol-streamslo-gateway.yaml", gw_env
            ),
            "otelcol-streamslo-gateway.yaml",
            OPERATOR_PATH,
        ),
        "operator/agent.yaml": (
            "OpenTelemetry Operator: agent tier (DaemonSet)",
            operator_cr(
                "streamslo-agent",
                "daemonset",
                image_ref(IMAGE),
                "otelcol-agent.yaml",
                [env("STREAMSLO_GATEWAY_ENDPOINTS", op_hosts)],
            ),
            "otelcol-agent.yaml",
            OPERATOR_PATH,
        ),
    }


def _contrib_manifests() -> Manifests:
    """The stock otelcol-contrib image (OTTL classification): Helm gateway and agent, Operator gateway."""
    contrib_agent_env = [env("STREAMSLO_GATEWAY_ENDPOINTS", GATEWAY_HOSTS.format("streamslo-contrib"))]
    return {
        "contrib/values-contrib.yaml": (
            "opentelemetry-collector chart, stock otelcol-contrib image (no custom build): the OTTL "
            "classification (collector/config/otelcol-contrib.yaml) as the gateway tier",
            helm_values("statefulset", CONTRIB_IMAGE, "otelcol-contrib", "otelcol-contrib.yaml", []),
            "otelcol-contrib.yaml",
            HELM_PATH,
        ),
        "contrib/values-contrib-agent.yaml": (
            "opentelemetry-collector chart, stock otelcol-contrib image: agent tier (loadbalancing exporter)",
            helm_values(
                "daemonset", CONTRIB_IMAGE, "otelcol-contrib", "otelcol-agent.yaml", contrib_agent_env
            ),
            "otelcol-agent.yaml",
            HELM_PATH,
        ),
        "contrib/operator-contrib.yaml": (
            "OpenTelemetry Operator, stock otelcol-contrib image: OTTL classification as the gateway tier",
            operator_cr(
                "streamslo-contrib", "statefulset", image_ref(CONTRIB_IMAGE), "otelcol-contrib.yaml", []
            ),
            "otelcol-contrib.yaml",
            OPERATOR_PATH,
        ),
    }


def manifests() -> Manifests:
    """Every deploy/ file this renders, by path under deploy/."""
    return {**_custom_image_manifests(), **_contrib_manifests()}


def render(header: str, doc: dict[str, Any], cfg: str) -> str:
    lines = [
        "# GENERATED by `python -m tests.e2e_fleet.deploy_render` from collector/config/" + cfg + ";",
        "# edit that file and re-render (tests/e2e_fleet/test_deploy_files.py checks they agree).",
        "# " + header,
        "",
    ]
    return "\n".join(lines) + yaml.safe_dump(doc, sort_keys=False, width=1000)


def main() -> None:
    for rel, (header, doc, cfg, _) in manifests().items():
        path = DEPLOY / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(header, doc, cfg))
        print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
