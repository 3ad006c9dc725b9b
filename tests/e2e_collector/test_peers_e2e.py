"""Peers' real spans through the real built collector, both configs.

The peer instrumentations (OpenLLMetry, OpenInference, contrib genai-openai over the openai SDK;
contrib google-genai over google-genai; contrib botocore over boto3's Bedrock ``converse_stream``
and ``invoke_model_with_response_stream``) are installed pinned, ``--no-deps``, into isolated
directories (never into the venv: they register ``opentelemetry_instrumentor`` entry points), as
benchmarks/run.sh does; each runs in a subprocess (peer_driver.py) over the real SDK against the
chaos provider on loopback, one stream per scenario, exporting to a collector running our
distribution's config and one running the stock-contrib OTTL config. Every scenario's verdict
(and, where the table names it, the inferred reason) must be the one the fidelity table of
collector/streamsloprocessor/README.md says, in both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

from .collector_harness import BINARY, CONFIG_CONTRIB, CONFIG_STREAMSLO, REPO, Collector, parse_prometheus

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not BINARY.exists(), reason=f"{BINARY} not built: run `bash collector/build.sh`"),
]

PEERS_DIR = Path(__file__).resolve().parent / ".peers"
# peer -> pip requirement specs (pinned; installed together with --no-deps: their dependencies
# are OpenTelemetry packages already in the venv)
PEERS: dict[str, list[str]] = {
    "openllmetry": [
        "opentelemetry-instrumentation-openai==0.62.4",
        "opentelemetry-semantic-conventions-ai==0.5.1",
    ],
    "openinference": [
        "openinference-instrumentation-openai==0.1.66",
        "openinference-instrumentation==0.1.72",
        "openinference-semantic-conventions==0.1.42",
    ],
    "genai_openai": ["opentelemetry-instrumentation-genai-openai==1.3b0", "opentelemetry-util-genai==1.3b0"],
    "google_genai": ["opentelemetry-instrumentation-google-genai==1.3b0", "opentelemetry-util-genai==1.3b0"],
    "botocore": [
        "opentelemetry-instrumentation-botocore==0.66b2",
        "opentelemetry-propagator-aws-xray==1.0.2",
    ],
}
# driven peer -> its install (botocore_invoke: the botocore peer on invoke_model_with_response_stream)
DRIVEN: dict[str, str] = {
    **{p: p for p in PEERS},
    "botocore_invoke": "botocore",
    "botocore_invoke_meta": "botocore",  # on a Llama model
}
NO_SPAN = "no span"  # the peer never ends (so never exports) the scenario's span
CALLS = "traces_span_metrics_calls_total"

# scenario -> expected outcome per peer (None: the peer's span is not recognised as a stream;
# NO_SPAN: there is no span); the fidelity table of collector/streamsloprocessor/README.md.
EXPECTED: dict[str, dict[str, Optional[str]]] = {
    "openllmetry": {
        "ok": "good",
        "length": "good",
        "error_frame": "bad",
        "drop": "bad",
        "truncated": "bad",
        "stall": "bad",
        "http_500": "bad",
        "http_400": "excluded",
        "close": "bad",  # status OK without finish reason: cannot be told from truncated
        "abandon": "bad",
    },
    "openinference": {
        "ok": "good",
        "length": "good",
        "error_frame": "bad",
        "drop": "bad",
        "truncated": "bad",
        "stall": "bad",
        "http_500": "bad",
        "http_400": "excluded",
        "close": "excluded",
        "abandon": "excluded",
    },
    "genai_openai": {
        "ok": "good",
        "length": "good",
        "error_frame": "bad",
        "drop": "bad",
        "truncated": "bad",
        "stall": "bad",
        "http_500": None,  # no gen_ai.request.stream before the first chunk
        "http_400": None,
        "close": "bad",
        "abandon": "excluded",  # util-genai's "abandoned stream" mark
    },
    "google_genai": {
        "ok": "good",
        "length": "good",
        "error_frame": "bad",
        "drop": "bad",
        "truncated": "bad",
        "stall": "bad",
        "http_500": "bad",
        "http_400": "excluded",
        "close": "bad",  # status UNSET without finish reason: cannot be told from truncated
        "abandon": "excluded",
    },
    "botocore": {
        "ok": "good",
        "length": "good",
        "error_frame": "bad",
        "drop": NO_SPAN,
        "truncated": NO_SPAN,
        "stall": NO_SPAN,
        "http_500": "bad",
        "http_400": "excluded",
        "close": "excluded",
        "abandon": NO_SPAN,
    },
}
EXPECTED["botocore_invoke"] = EXPECTED["botocore"]
# botocore parses no Llama chunks: a stream's span ends only at an error or in close()
EXPECTED["botocore_invoke_meta"] = {
    **EXPECTED["botocore"],
    "ok": NO_SPAN,
    "length": NO_SPAN,
}
# scenario -> inferred reason, for the peers whose spans tell more than good / bad
REASONS: dict[str, dict[str, str]] = {
    "google_genai": {
        "ok": "completed",
        "length": "length",
        "error_frame": "server_error_event",
        "drop": "connection_dropped",
        "truncated": "truncated",
        "stall": "idle_timeout",
        "http_500": "request_failed",
        "http_400": "request_failed",
        "close": "truncated",
        "abandon": "client_abandoned",
    },
    "botocore": {
        "ok": "completed",
        "length": "length",
        "error_frame": "server_error_event",
        "http_500": "request_failed",
        "http_400": "request_failed",
        "close": "client_cancelled",
    },
}
REASONS["botocore_invoke"] = REASONS["botocore"]
REASONS["botocore_invoke_meta"] = {k: v for k, v in REASONS["botocore"].items() if k not in ("ok", "length")}


def install(peer: str) -> Path:
    """Pinned, isolated install (cached by its spec list)."""
    target = PEERS_DIR / peer
    want = " ".join(PEERS[peer])
    stamp = target / ".ok"
    if stamp.exists() and stamp.read_text() == want:
        return target
    shutil.rmtree(target, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", "--pre"]
    done = subprocess.run([*cmd, "--target", str(target), *PEERS[peer]], capture_output=True, text=True)
    assert done.returncode == 0, f"installing peer {peer} failed:\n{done.stdout}\n{done.stderr}"
    stamp.write_text(want)
    return target


def verdicts(samples: list[Any], peer: str) -> dict[str, dict[str, str]]:
    """scenario -> labels of its span's series (one span per scenario)."""
    out: dict[str, dict[str, str]] = {}
    for s in samples:
        if s.name != CALLS or s.labels.get("service_name") != f"peer-{peer}":
            continue
        name = s.labels["span_name"]
        if name.endswith("]") and "[" in name:
            scenario = name.rsplit("[", 1)[1][:-1]
            assert scenario not in out, f"two series for {peer}/{scenario}: {out[scenario]} and {s.labels}"
            out[scenario] = s.labels
    return out


@pytest.fixture(scope="module")
def peer_scrapes(chaos: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    dirs = {peer: install(peer) for peer in PEERS}
    tmp = tmp_path_factory.mktemp("peers")
    cols = {
        cfg.stem: Collector(config=cfg, log_path=tmp / f"{cfg.stem}.log")
        for cfg in (CONFIG_STREAMSLO, CONFIG_CONTRIB)
    }
    for col in cols.values():
        col.start()
    try:
        endpoints = [f"{col.otlp_http}/v1/traces" for col in cols.values()]
        logs: dict[str, str] = {}
        for peer, installed in DRIVEN.items():
            d = dirs[installed]
            env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(d), str(REPO)]))
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tests.e2e_collector.peer_driver",
                    peer,
                    chaos.base_url,
                    *endpoints,
                ],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            logs[peer] = done.stdout + done.stderr
            assert done.returncode == 0, f"{peer} driver failed:\n{logs[peer]}"
        out: dict[str, Any] = {"driver_logs": logs}
        for stem, col in cols.items():
            want = sum(1 for exp in EXPECTED.values() for o in exp.values() if o not in (None, NO_SPAN))
            samples: list[Any] = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                samples = parse_prometheus(col.scrape())
                got = sum(
                    len({k for k, v in verdicts(samples, p).items() if "streamslo_sli_outcome" in v})
                    for p in DRIVEN
                )
                if got >= want:
                    time.sleep(1.5)  # one more flush: spans of unrecognised calls too
                    samples = parse_prometheus(col.scrape())
                    break
                time.sleep(0.5)
            out[stem] = samples
            out[f"{stem}_log"] = col.log()
        yield out
    finally:
        for col in cols.values():
            col.stop()


@pytest.mark.parametrize("config", [CONFIG_STREAMSLO, CONFIG_CONTRIB], ids=lambda p: p.stem)
@pytest.mark.parametrize("peer", sorted(DRIVEN))
def test_peer_verdicts(peer: str, config: Path, peer_scrapes: dict[str, Any]) -> None:
    got = verdicts(peer_scrapes[config.stem], peer)
    table = {
        s: (v.get("streamslo_sli_outcome"), v.get("streamslo_termination_reason")) for s, v in got.items()
    }
    report = f"{peer} via {config.stem}: {table}\n{peer_scrapes['driver_logs'][peer][-1500:]}"
    print(report.splitlines()[0])
    for scenario, want in EXPECTED[peer].items():
        if want == NO_SPAN:
            assert scenario not in got, f"{scenario} has a span now; " + report
            continue
        assert scenario in got, f"no span for {scenario}; " + report
        labels = got[scenario]
        assert labels.get("streamslo_sli_outcome") == want, f"{scenario}; " + report
        reason = REASONS.get(peer, {}).get(scenario)
        if reason is not None:
            assert labels.get("streamslo_termination_reason") == reason, f"{scenario}; " + report
        if want is not None:
            assert labels.get("streamslo_inferred") == "true", report
            if want == "bad":
                assert labels["status_code"] == "STATUS_CODE_ERROR", report


@pytest.mark.parametrize("peer", sorted(DRIVEN))
def test_configs_agree(peer: str, peer_scrapes: dict[str, Any]) -> None:
    """The processor and the OTTL config give every scenario the same outcome and reason."""
    keys = ("streamslo_sli_outcome", "streamslo_termination_reason", "streamslo_inferred", "status_code")
    tables = [
        {s: tuple(v.get(k) for k in keys) for s, v in verdicts(peer_scrapes[cfg.stem], peer).items()}
        for cfg in (CONFIG_STREAMSLO, CONFIG_CONTRIB)
    ]
    assert tables[0] == tables[1]
