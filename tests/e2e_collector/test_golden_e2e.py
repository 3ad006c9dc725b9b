"""Every golden case of the Go processor, replayed through the real built binary with both
configs: the spanmetrics series equal what the golden output files say, for our
distribution (the processor as built) and for the stock-contrib OTTL config (parity).

The golden files (collector/streamsloprocessor/testdata/<case>/{input,output}.yaml) hold
client spans, server spans (downstream reasons), foreign spans and peers' dialects; each
output span becomes one expected `traces_span_metrics_calls_total` sample whose labels are
the span's name, kind, status code, service name and the configured dimensions.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .collector_harness import (
    BINARY,
    COLLECTOR_DIR,
    CONFIG_CONTRIB,
    CONFIG_STREAMSLO,
    Collector,
    parse_prometheus,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not BINARY.exists(), reason=f"{BINARY} not built: run `bash collector/build.sh`"),
]

TESTDATA = COLLECTOR_DIR / "streamsloprocessor" / "testdata"
CALLS = "traces_span_metrics_calls_total"
# malformed: the OTTL config's documented differences (empty OTLP value, infinite TTFT) and
# non-string reason values, whose label rendering is not a verdict.
SKIP = {"malformed"}
CASES = sorted(p.name for p in TESTDATA.iterdir() if (p / "input.yaml").exists() and p.name not in SKIP)
KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}

Labels = tuple[tuple[str, str], ...]


def dimensions(config: Path) -> list[str]:
    doc = yaml.safe_load(config.read_text())
    return [d["name"] for d in doc["connectors"]["span_metrics"]["dimensions"]]


def label_value(value: dict[str, Any]) -> str:
    ((kind, v),) = value.items()
    if kind == "boolValue":
        return "true" if v else "false"
    return str(v)


def expected_labels(doc: dict[str, Any], dims: list[str]) -> Counter[Labels]:
    out: Counter[Labels] = Counter()
    for rs in doc["resourceSpans"]:
        res = {a["key"]: label_value(a["value"]) for a in rs["resource"].get("attributes", [])}
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                attrs = {a["key"]: a["value"] for a in span.get("attributes", [])}
                labels = {
                    "service_name": res["service.name"],
                    "span_name": span["name"],
                    "span_kind": "SPAN_KIND_" + KINDS[int(span.get("kind", 0))],
                    "status_code": "STATUS_CODE_" + STATUS[int(span.get("status", {}).get("code", 0))],
                }
                for d in dims:
                    if d in attrs:
                        labels[d.replace(".", "_")] = label_value(attrs[d])
                out[tuple(sorted(labels.items()))] += 1
    return out


def load(case: str, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((TESTDATA / case / name).read_text())
    return doc


def post_json(col: Collector, doc: dict[str, Any]) -> None:
    req = urllib.request.Request(
        f"{col.otlp_http}/v1/traces",
        data=json.dumps(doc).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def replay(config: Path, tmp: Path) -> tuple[Counter[Labels], str]:
    col = Collector(config=config, log_path=tmp / f"{config.stem}.log")
    col.start()
    try:
        want = 0
        for case in CASES:
            doc = load(case, "input.yaml")
            post_json(col, doc)
            want += sum(len(ss["spans"]) for rs in doc["resourceSpans"] for ss in rs["scopeSpans"])
        got: Counter[Labels] = Counter()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = Counter()
            for s in parse_prometheus(col.scrape()):
                if s.name == CALLS:
                    labels = {k: v for k, v in s.labels.items() if k not in ("job", "instance")}
                    got[tuple(sorted(labels.items()))] += int(s.value)
            if sum(got.values()) >= want:
                break
            time.sleep(0.5)
        return got, col.log()
    finally:
        col.stop()


def expected_all(config: Path) -> Counter[Labels]:
    dims = dimensions(config)
    exp: Counter[Labels] = Counter()
    for case in CASES:
        exp += expected_labels(load(case, "output.yaml"), dims)
    return exp


@pytest.fixture(scope="module")
def replays(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Counter[Labels], str]]]:
    tmp = tmp_path_factory.mktemp("golden-replay")
    yield {cfg.stem: replay(cfg, tmp) for cfg in (CONFIG_STREAMSLO, CONFIG_CONTRIB)}


def test_cases_cover_client_server_and_foreign_spans() -> None:
    assert {"completed", "server_spans", "foreign", "foreign_finish_names"} <= set(CASES)
    spans = expected_all(CONFIG_STREAMSLO)
    assert {dict(k)["span_kind"] for k in spans} >= {"SPAN_KIND_CLIENT", "SPAN_KIND_SERVER"}


def diff(got: Counter[Labels], want: Counter[Labels]) -> str:
    missing = want - got
    extra = got - want
    lines = [f"missing {n}x {dict(k)}" for k, n in missing.items()]
    lines += [f"unexpected {n}x {dict(k)}" for k, n in extra.items()]
    return "\n".join(lines)


@pytest.mark.parametrize("config", [CONFIG_STREAMSLO, CONFIG_CONTRIB], ids=lambda p: p.stem)
def test_binary_gives_the_golden_verdicts(
    config: Path, replays: dict[str, tuple[Counter[Labels], str]]
) -> None:
    got, log = replays[config.stem]
    want = expected_all(config)
    assert got == want, diff(got, want) + "\n" + log[-2000:]
