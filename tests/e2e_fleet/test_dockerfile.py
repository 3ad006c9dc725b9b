"""collector/Dockerfile, checked without a container runtime (none runs where this is tested): its
builder stage pins the same OCB version and runs the same commands as collector/build.sh, the
runtime stage is non-root, and every file it copies exists in the build context (collector/)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .harness import REPO

COLLECTOR = REPO / "collector"
DOCKERFILE = COLLECTOR / "Dockerfile"
BUILD_SH = COLLECTOR / "build.sh"


@dataclass
class Stage:
    image: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, op: str) -> list[str]:
        return [a for o, a in self.instructions if o == op]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages of a Dockerfile (continuations joined, comments dropped)."""
    lines, buf = [], ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#") and not buf:
            continue
        if raw.rstrip().endswith("\\"):
            buf += raw.rstrip()[:-1] + " "
            continue
        lines.append(buf + raw)
        buf = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in filter(str.strip, lines):
        op, _, rest = line.strip().partition(" ")
        op, rest = op.upper(), rest.strip()
        if op == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else ""
            stages.append(Stage(parts[0], name))
        elif not stages and op == "ARG":
            key, _, default = rest.partition("=")
            global_args[key] = default
        else:
            stages[-1].instructions.append((op, rest))
    return global_args, stages


def expand(s: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), m.group(0)), s)


def build_sh_builder_version() -> str:
    m = re.search(r'^BUILDER_VERSION="(v[\d.]+)"', BUILD_SH.read_text(), re.M)
    assert m, "BUILDER_VERSION not found in build.sh"
    return m.group(1)


def test_builder_stage_runs_what_build_sh_runs() -> None:
    args, stages = parse(DOCKERFILE.read_text())
    assert len(stages) >= 2, "multi-stage: a build stage and a runtime stage"
    build = stages[0]
    assert build.image.startswith("golang:"), build.image
    assert args["BUILDER_VERSION"] == build_sh_builder_version()
    runs = [expand(r, args) for r in build.args("RUN")]
    sh = BUILD_SH.read_text()
    # the same two steps as build.sh: install the pinned builder, run it on the manifest
    assert 'go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION"' in sh
    assert any(
        f"go install go.opentelemetry.io/collector/cmd/builder@{args['BUILDER_VERSION']}"
        in " ".join(shlex.split(r))
        for r in runs
    ), runs
    assert '"$builder" --config builder-config.yaml' in sh
    assert any(shlex.split(r)[-3:] == ["builder", "--config", "builder-config.yaml"] for r in runs), runs


def test_go_image_is_new_enough_for_the_modules() -> None:
    args, stages = parse(DOCKERFILE.read_text())
    image_go = tuple(int(x) for x in expand(stages[0].image, args).split(":")[1].split("-")[0].split("."))
    need = re.search(r"^go (\d+)\.(\d+)", (COLLECTOR / "streamsloprocessor" / "go.mod").read_text(), re.M)
    assert need
    assert image_go[:2] >= (int(need.group(1)), int(need.group(2)))


def test_runtime_is_minimal_and_non_root() -> None:
    _, stages = parse(DOCKERFILE.read_text())
    runtime = stages[-1]
    assert not runtime.image.startswith("golang"), runtime.image
    users = runtime.args("USER")
    assert users, "runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid not in ("0", "root") and uid.isdigit() and int(uid) > 0, uid


def test_every_copied_file_exists_and_the_binary_is_the_builders_output() -> None:
    _, stages = parse(DOCKERFILE.read_text())
    manifest = yaml.safe_load((COLLECTOR / "builder-config.yaml").read_text())
    dist = manifest["dist"]
    workdir = stages[0].args("WORKDIR")[-1]
    binary = str(Path(workdir) / dist["output_path"] / dist["name"])
    configs = []
    for stage in stages:
        for spec in stage.args("COPY"):
            parts = spec.split()
            if parts[0].startswith("--from="):
                assert parts[1] == binary, (parts[1], binary)
                continue
            *sources, dest = parts
            for src in sources:
                assert (COLLECTOR / src).exists(), f"COPY {src}: not in collector/"
                if src.startswith("config/"):
                    configs.append(src)
                    assert dest == "/etc/otelcol-streamslo/"
    assert "config/otelcol-streamslo-gateway.yaml" in configs
    cmd = stages[-1].args("CMD")[-1]
    assert "/etc/otelcol-streamslo/otelcol-streamslo-gateway.yaml" in cmd
    for p in manifest["processors"]:  # path modules must be inside the copied context
        if "path" in p:
            assert any(Path(p["path"]).parts[-1] in spec for spec in stages[0].args("COPY")), p
