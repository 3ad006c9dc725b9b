"""``--format prometheus-operator`` and ``--format mimir``: same groups as the plain rule files.

The PrometheusRule manifests are validated with ``cloudcoil-models-prometheus-operator``: pydantic
models generated from the prometheus-operator CRD's OpenAPI schema (types, required fields and
patterns such as the ``for`` duration). Its models ignore unknown fields, so the manifest must also
round-trip through them unchanged (a misspelt or misplaced key would be dropped and differ).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_streamslo.rules import cli
from otel_streamslo.rules.formats import FORMATS, rule_document
from otel_streamslo.rules.render import render, to_yaml
from otel_streamslo.rules.spec import SpecError, load_spec, parse_spec

from .conftest import RULES_DIR, SLO_DIR

FORMAT_DIRS = {"prometheus-operator": RULES_DIR / "prometheus-operator", "mimir": RULES_DIR / "mimir"}
SPECS = sorted(SLO_DIR.glob("*.yaml"))


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def prometheus_rule_model() -> Any:
    from cloudcoil.models.prometheus_operator.v1 import PrometheusRule

    return PrometheusRule


def validate_prometheus_rule(model: Any, manifest: dict[str, Any]) -> None:
    parsed = model.model_validate(manifest)
    assert parsed.model_dump(by_alias=True, exclude_none=True, mode="json") == manifest


def test_formats() -> None:
    assert FORMATS == ("prometheus", "prometheus-operator", "mimir")
    with pytest.raises(ValueError, match="unknown rules format"):
        rule_document(load_spec(SPECS[0]), "thanos")


@pytest.mark.parametrize("output_format", sorted(FORMAT_DIRS))
def test_committed_files_are_regenerated_byte_for_byte(output_format: str) -> None:
    directory = FORMAT_DIRS[output_format]
    assert sorted(p.stem for p in directory.glob("*.yaml")) == [p.stem for p in SPECS]
    for path in SPECS:
        expected = (directory / f"{path.stem}.yaml").read_bytes()
        generated = to_yaml(rule_document(load_spec(path), output_format), path.name).encode()
        assert generated == expected, (
            f"{path} changed: run otel-streamslo rules --spec {path} --format {output_format} "
            f"--out {directory}"
        )


@pytest.mark.parametrize("output_format", sorted(FORMAT_DIRS))
def test_groups_equal_the_plain_rule_files(output_format: str) -> None:
    for path in SPECS:
        plain = load_yaml(RULES_DIR / f"{path.stem}.yaml")
        document = load_yaml(FORMAT_DIRS[output_format] / f"{path.stem}.yaml")
        groups = document["spec"]["groups"] if output_format == "prometheus-operator" else document["groups"]
        assert groups == plain["groups"]
        assert len(groups) >= 3


def test_committed_prometheus_rule_matches_the_crd_schema(prometheus_rule_model: Any) -> None:
    for path in SPECS:
        manifest = load_yaml(FORMAT_DIRS["prometheus-operator"] / f"{path.stem}.yaml")
        assert (manifest["apiVersion"], manifest["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
        spec = load_spec(path)
        assert manifest["metadata"]["name"] == (spec.deployment.operator_name or f"{spec.service}-slos")
        assert manifest["metadata"]["namespace"] == "monitoring"
        labels = manifest["metadata"]["labels"]
        assert labels["release"] == "kube-prometheus-stack" and labels["team"] == "llm-platform"
        assert labels["app.kubernetes.io/managed-by"] == "otel-streamslo"
        validate_prometheus_rule(prometheus_rule_model, manifest)


def test_prometheus_rule_with_every_option_matches_the_crd_schema(prometheus_rule_model: Any) -> None:
    spec = parse_spec(
        {
            "version": "streamslo/v1",
            "service": "chat",
            "availability": {"objective": 99.9},
            "response_availability": {"objective": 99},
            "latency": {"objective": 99, "threshold": 2.56},
            "alerting": {"page_for": "2m", "ticket_for": "15m", "labels": {"team": "x"}},
            "prometheus_operator": {
                "name": "chat-slo-rules",
                "namespace": "llm",
                "labels": {"prometheus": "k8s", "role": "alert-rules"},
                "annotations": {"owner": "LLM platform <llm@example.com>"},
            },
        }
    )
    manifest = rule_document(spec, "prometheus-operator")
    assert manifest["metadata"]["name"] == "chat-slo-rules"
    assert manifest["metadata"]["annotations"] == {"owner": "LLM platform <llm@example.com>"}
    assert manifest["spec"] == render(spec)
    assert any(rule.get("for") == "2m" for group in manifest["spec"]["groups"] for rule in group["rules"])
    validate_prometheus_rule(prometheus_rule_model, yaml.safe_load(to_yaml(manifest, "x")))


def test_schema_check_is_not_vacuous(prometheus_rule_model: Any) -> None:
    manifest = load_yaml(FORMAT_DIRS["prometheus-operator"] / "streamslo.yaml")
    wrong_duration = yaml.safe_load(yaml.safe_dump(manifest))
    wrong_duration["spec"]["groups"][0]["rules"][0]["for"] = "2 minutes"
    misplaced = yaml.safe_load(yaml.safe_dump(manifest))
    misplaced["spec"]["groups"][0]["rule"] = misplaced["spec"]["groups"][0].pop("rules")
    unnamed = yaml.safe_load(yaml.safe_dump(manifest))
    del unnamed["spec"]["groups"][0]["name"]
    for broken in (wrong_duration, misplaced, unnamed):
        with pytest.raises(Exception):  # noqa: B017 - pydantic's ValidationError or the round-trip assert
            validate_prometheus_rule(prometheus_rule_model, broken)


def test_mimir_namespace_file() -> None:
    document = load_yaml(FORMAT_DIRS["mimir"] / "streamslo.yaml")
    assert list(document) == ["namespace", "groups"]
    assert document["namespace"] == "streamslo-demo"
    default = rule_document(
        parse_spec({"version": "streamslo/v1", "service": "s", "availability": {"objective": 99}}), "mimir"
    )
    assert default["namespace"] == "s"
    for group in document["groups"]:
        assert set(group) == {"name", "rules"} and group["rules"]


def test_kubernetes_names_and_labels_are_checked() -> None:
    base = {"version": "streamslo/v1", "service": "s", "availability": {"objective": 99}}
    for section, message in (
        ({"namespace": "Not_A_Namespace"}, "spec.prometheus_operator.namespace"),
        ({"labels": {"release": "a b"}}, "spec.prometheus_operator.labels.release"),
        ({"labels": {"-bad": "x"}}, "spec.prometheus_operator.labels.-bad"),
        ({"selector": {}}, "unknown field(s) selector"),
    ):
        with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse_spec({**base, "prometheus_operator": section})
    spec = parse_spec({**base, "labels": {"owner": "the llm platform team"}})
    render(spec)  # a fine Prometheus label value ...
    with pytest.raises(SpecError, match=r"spec\.labels\.owner: .* not a valid Kubernetes label value"):
        rule_document(spec, "prometheus-operator")  # ... but not a Kubernetes one


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli_format_writes_and_checks(tmp_path: Path) -> None:
    for output_format, directory in FORMAT_DIRS.items():
        args = ["--spec", str(SLO_DIR), "--format", output_format]
        assert cli.run(parse(*args, "--out", str(directory), "--check")) == 0
        assert cli.run(parse(*args, "--out", str(tmp_path / output_format))) == 0
        assert (tmp_path / output_format / "streamslo.yaml").read_bytes() == (
            directory / "streamslo.yaml"
        ).read_bytes()
        assert cli.run(parse(*args, "--out", str(RULES_DIR), "--check")) == 1  # not the plain files
    assert parse().format == "prometheus"
