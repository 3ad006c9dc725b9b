"""Overhead, memory and collector-throughput benchmarks of otel-streamslo (``bash benchmarks/run.sh``)."""
