"""The ``chaos-provider`` command: argument wiring and a real foreground run stopped by SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

import httpx2
import pytest

from otel_streamslo.chaos import cli


def test_add_arguments_mounts_as_subcommand() -> None:
    parser = argparse.ArgumentParser(prog="otel-streamslo")
    sub = parser.add_subparsers(dest="command")
    cli.add_arguments(sub.add_parser("chaos-provider"))
    args = parser.parse_args(
        ["chaos-provider", "--port", "0", "--fault-rate", "0.2", "--seed", "42", "--mix", "reset=1,eof=2"]
    )
    assert (args.command, args.host, args.port, args.fault_rate, args.seed) == (
        "chaos-provider",
        "127.0.0.1",
        0,
        0.2,
        42,
    )
    assert (args.mix, args.tokens, args.chunk_delay) == ("reset=1,eof=2", 16, 0.0)
    assert callable(cli.run)


@pytest.mark.parametrize(
    "argv",
    [["--mix", "explode=1"], ["--fault-rate", "3"], ["--tokens", "-4"], ["--chunk-delay", "-1"]],
)
def test_invalid_options_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--port", "0", *argv]) == 2
    assert "chaos-provider:" in capsys.readouterr().err


def test_foreground_run_until_sigterm() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "otel_streamslo.chaos.cli", "--port", "0", "--tokens", "3"]
    command += ["--fault-rate", "1", "--seed", "1", "--mix", "length=1", "--log-level", "warning"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("chaos provider listening on http://127.0.0.1:"), line
            base_url = line.rsplit(" ", 1)[1].strip()
            with httpx2.Client(base_url=base_url, timeout=5) as client:
                body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
                reply = client.post("/v1/chat/completions", json=body).json()
                assert reply["choices"][0]["finish_reason"] == "length"
                assert reply["choices"][0]["message"]["content"] == "tok0 tok1 tok2 "
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            assert time.monotonic() - started < 5
        finally:
            if proc.poll() is None:
                proc.kill()
