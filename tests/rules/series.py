"""Sources of live series for the end-to-end test: the real collector, or a stand-in exporter.

:func:`start_series_source` starts ``collector/_build/otelcol-streamslo`` (with
``collector/config/otelcol-streamslo.yaml``) when it is built and feeds it OTLP spans and SDK
metrics with the OpenTelemetry SDK; otherwise it serves an equivalent Prometheus exposition from a
tiny HTTP exporter on loopback. Either way Prometheus scrapes one ``host:port`` target. Both carry
the same traffic mix: every termination reason, 25% of counted streams bad (most after an HTTP
200), TTFT/TTC/chunk-time histograms with a tail beyond 5 s. The mix is in :mod:`.mix`, the stand-in
in :mod:`.stand_in`, the OTLP sender in :mod:`.otlp_traffic`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .stand_in import stand_in_exporter

REPO = Path(__file__).resolve().parents[2]
COLLECTOR_BINARY = REPO / "collector" / "_build" / "otelcol-streamslo"
COLLECTOR_CONFIG = REPO / "collector" / "config" / "otelcol-streamslo.yaml"


@contextmanager
def collector_source(log_dir: Path) -> Iterator[str]:
    """Start the built collector on free ports, feed it; yield its Prometheus exporter host:port."""
    from tests.e2e_collector.collector_harness import Collector

    from .otlp_traffic import send_traffic

    collector = Collector(config=COLLECTOR_CONFIG, log_path=log_dir / "otelcol-streamslo.log")
    collector.start()
    stop = threading.Event()
    sender = threading.Thread(target=send_traffic, args=(collector.otlp_http, stop), daemon=True)
    sender.start()
    try:
        yield f"127.0.0.1:{collector.prom_port}"
    finally:
        stop.set()
        sender.join(timeout=20)
        collector.stop()


@contextmanager
def start_series_source(log_dir: Path) -> Iterator[tuple[str, str]]:
    """Yield (which source ran, scrape target): the real collector when built, else the stand-in.

    ``STREAMSLO_SERIES_SOURCE=collector`` or ``=exporter`` forces one (default ``auto``).
    """
    choice = os.environ.get("STREAMSLO_SERIES_SOURCE", "auto")
    if choice not in ("auto", "collector", "exporter"):
        raise ValueError(f"STREAMSLO_SERIES_SOURCE={choice!r}: use auto, collector or exporter")
    if choice == "collector" and not COLLECTOR_BINARY.exists():
        raise FileNotFoundError(f"{COLLECTOR_BINARY} not built: run bash collector/build.sh")
    if choice != "exporter" and COLLECTOR_BINARY.exists():
        with collector_source(log_dir) as target:
            yield f"collector ({COLLECTOR_BINARY.relative_to(REPO)})", target
    else:
        with stand_in_exporter() as target:
            reason = "forced" if choice == "exporter" else "collector/_build/otelcol-streamslo not built"
            yield f"stand-in exporter ({reason})", target
