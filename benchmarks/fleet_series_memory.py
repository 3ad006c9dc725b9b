"""Collector memory per 1k active span-metrics series (deploy/README.md, "Sizing").

    python -m benchmarks.fleet_series_memory

Starts the built ``otelcol-streamslo`` with collector/config/otelcol-streamslo.yaml, then grows the
number of distinct ``gen_ai.request.model`` values in steps; each model is sent with every
termination reason (12 reason/status combinations). After each step the Prometheus exporter's
output is counted (active series of ``traces_span_metrics_*``: calls + duration histogram buckets,
sum, count) and the collector's RSS read from /proc. The slope RSS/series is the figure.
Writes benchmarks/results/fleet_series_memory.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import yaml

from benchmarks._common import ROOT
from benchmarks.collector_load import log
from benchmarks.collector_proc import CONFIG, Collector
from tests.e2e_fleet.traffic import MIX, make_batch

STEPS = [1, 25, 100, 250, 500]


def series_count(col: Collector) -> int:
    return sum(1 for k in col.exporter_metrics() if k.startswith("traces_span_metrics_"))


def send_models(col: Collector, models: range, rng: random.Random) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", col.http_port, timeout=30)
    for m in models:
        batch = make_batch(rng, "sizing-app", [(r, st) for r, _, st in MIX])
        body = batch.body.replace(b"gpt-4o", f"m{m:05d}"[:6].encode())  # same length: protobuf stays valid
        conn.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, resp.status
    conn.close()


def split_config(dest: Path) -> Path:
    """The shipped config with the SLO dimensions on ``calls`` only; the duration histogram keeps
    just the latency verdict, provider and model (the cardinality knob of deploy/README.md)."""
    doc = yaml.safe_load(CONFIG.read_text())
    sm = doc["connectors"]["span_metrics"]
    dims = sm.pop("dimensions")
    keep = {"streamslo.sli.latency", "gen_ai.provider.name", "gen_ai.request.model"}
    sm["calls_dimensions"] = dims
    sm["histogram"]["dimensions"] = [d for d in dims if d["name"] in keep]
    dest.write_text(yaml.safe_dump(doc, sort_keys=False))
    return dest


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split-dimensions", action="store_true", help="measure the calls_dimensions variant")
    args = ap.parse_args(argv)
    rng = random.Random(5)
    tmp = Path(tempfile.mkdtemp())
    config = split_config(tmp / "otelcol-split-dimensions.yaml") if args.split_dimensions else CONFIG
    col = Collector(config)
    points: list[dict[str, Any]] = []
    try:
        done = 0
        for models in STEPS:
            send_models(col, range(done, models), rng)
            done = models
            time.sleep(4)  # spanmetrics flush (1 s) + exporter
            points.append({"models": models, "series": series_count(col), "rss_mib": round(col.rss_mib(), 1)})
            log(f"series memory: {points[-1]}")
    finally:
        col.stop()
    first, last = points[0], points[-1]
    per_1k = (last["rss_mib"] - first["rss_mib"]) / ((last["series"] - first["series"]) / 1000)
    out = {
        "config": "calls_dimensions variant of " + str(CONFIG.relative_to(ROOT))
        if args.split_dimensions
        else str(CONFIG.relative_to(ROOT)),
        "combos_per_model": len(MIX),
        "points": points,
        "rss_mib_per_1k_series": round(per_1k, 2),
        "note": "RSS includes Go heap slack (GOGC=100); series = lines of traces_span_metrics_* served",
    }
    suffix = "_split_dimensions" if args.split_dimensions else ""
    path = ROOT / "benchmarks" / "results" / f"fleet_series_memory{suffix}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
