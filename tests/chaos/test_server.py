"""ChaosServer lifecycle and robustness: disconnects, concurrency, shutdown, picker, logging."""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from typing import Any

import httpx2
import openai
import pytest

from otel_streamslo.chaos import ChaosServer

from .helpers import MESSAGES, TOKENS, consume_sync, text_of


def _stream_request(model: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "url": "/v1/chat/completions",
        "json": {"model": model, "messages": MESSAGES, "stream": True},
        "headers": headers or {},
    }


def test_addresses_and_context_manager() -> None:
    server = ChaosServer(port=0)
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port
    with server:
        assert server.running
        assert server.port > 0
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert server.openai_base_url == server.base_url + "/v1"
        assert server.anthropic_base_url == server.base_url
        with pytest.raises(RuntimeError, match="already started"):
            server.start()
    assert not server.running
    server.stop()  # idempotent


def test_port_in_use_is_reported(chaos: ChaosServer) -> None:
    with pytest.raises(OSError):
        ChaosServer(port=chaos.port).start()


def test_invalid_settings() -> None:
    with pytest.raises(ValueError, match="tokens"):
        ChaosServer(tokens=-1)
    with pytest.raises(ValueError, match="fault rate"):
        ChaosServer(fault_rate=2)
    with pytest.raises(ValueError, match="stall_seconds"):
        ChaosServer(stall_seconds=float("inf"))


def test_client_disconnects_at_random_points(server: ChaosServer) -> None:
    """Clients that vanish mid-stream never hurt the server; the log marks them."""
    rng = random.Random(1234)
    headers = {"x-chaos-chunk-delay": "0.01", "x-chaos-tokens": "20"}
    with httpx2.Client(base_url=server.base_url, timeout=5) as client:
        for _ in range(12):
            stop_after = rng.randint(0, 12)
            with client.stream("POST", **_stream_request("gpt-4o-mini", headers)) as response:
                for index, _line in enumerate(response.iter_lines()):
                    if index >= stop_after:
                        break
    assert server.wait_idle()
    outcomes = {entry["outcome"] for entry in server.log}
    assert outcomes == {"client_disconnected"}
    assert all(entry["tokens_sent"] < 20 for entry in server.log)
    _assert_still_serving(server)


def test_disconnect_during_stall_ends_promptly(server: ChaosServer, oai: openai.OpenAI) -> None:
    started = time.monotonic()
    seen = consume_sync("chat", oai, "stall@1", {"x-chaos-stall-seconds": "30"}, timeout=0.3)
    assert isinstance(seen.error, openai.APITimeoutError)
    assert server.wait_idle(timeout=3)
    assert time.monotonic() - started < 3
    assert server.log[0]["outcome"] == "client_disconnected"


@pytest.mark.parametrize("cut", [0, 10, 40, 60])
def test_disconnect_while_sending_the_request(server: ChaosServer, cut: int) -> None:
    """A client that drops before its request body arrives is logged, not crashed on."""
    body = b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": true}'
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head + body[:cut])
        time.sleep(0.05)
    assert server.wait_idle()
    assert server.log[0]["outcome"] == "client_disconnected"
    _assert_still_serving(server)


def test_garbage_on_the_wire(server: ChaosServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01 this is not http\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")
    _assert_still_serving(server)


def test_stall_does_not_block_other_requests(server: ChaosServer, oai: openai.OpenAI) -> None:
    stalled: dict[str, Any] = {}

    def slow() -> None:
        stalled["seen"] = consume_sync("chat", oai, "stall@1", {"x-chaos-stall-seconds": "1.5"})

    worker = threading.Thread(target=slow)
    worker.start()
    time.sleep(0.2)
    started = time.monotonic()
    quick = consume_sync("responses", oai, None)
    assert quick.text == text_of(TOKENS)
    assert time.monotonic() - started < 1.0
    worker.join(5)
    assert stalled["seen"].text == text_of(TOKENS)


def test_stop_ends_live_stalls() -> None:
    with ChaosServer(stall_seconds=60) as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0, timeout=30)
        result: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: result.update(seen=consume_sync("chat", client, "stall@2")))
        worker.start()
        deadline = time.monotonic() + 5
        while not server.log or server.log[0]["tokens_sent"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 3
        worker.join(5)
        assert not worker.is_alive()
        assert isinstance(result["seen"].error, openai.APIConnectionError)
        assert server.log[0]["outcome"] == "server_stopped"
        client.close()


def test_reset_does_not_log_errors(
    server: ChaosServer, oai: openai.OpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        for fault in ("reset@1", "tool_calls_reset", "reset@0"):
            assert isinstance(consume_sync("chat", oai, fault).error, openai.APIConnectionError)
        assert server.wait_idle()
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("uvicorn")]
    assert errors == []
    assert [e["outcome"] for e in server.log] == ["reset"] * 3


def test_picker_faults_reproducibly() -> None:
    def run(seed: int) -> list[str]:
        with ChaosServer(
            tokens=4, fault_rate=0.5, seed=seed, mix={"eof": 1, "length": 1, "http_500": 1}
        ) as server:
            client = openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0)
            for _ in range(12):
                consume_sync("chat", client, None)
            client.close()
            assert server.wait_idle()
            log = server.log
        assert {e["fault_source"] for e in log} <= {"picker", "none"}
        return [e["fault"] for e in log]

    first = run(5)
    assert first == run(5)
    assert "none" in first and set(first) - {"none"}


def test_picker_rate_extremes() -> None:
    with ChaosServer(tokens=2, fault_rate=1.0, seed=1, mix={"reset": 1}) as always:
        client = openai.OpenAI(base_url=always.openai_base_url, api_key="test", max_retries=0)
        for _ in range(5):
            assert isinstance(consume_sync("responses", client, None).error, openai.APIConnectionError)
        explicit = consume_sync("responses", client, "none")
        assert explicit.error is None
        client.close()
        assert always.wait_idle()
        assert [e["fault_source"] for e in always.log] == ["picker"] * 5 + ["model"]
    with ChaosServer(tokens=2, fault_rate=0.0, seed=1) as never:
        client = openai.OpenAI(base_url=never.openai_base_url, api_key="test", max_retries=0)
        for _ in range(5):
            assert consume_sync("chat", client, None).error is None
        client.close()
        assert {e["fault"] for e in never.log} == {"none"}


def test_picked_stall_is_short_and_header_overrides() -> None:
    with ChaosServer(
        tokens=2, fault_rate=1.0, seed=1, mix={"stall@1": 1}, picker_stall_seconds=0.1
    ) as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0, timeout=2)
        started = time.monotonic()
        assert consume_sync("chat", client, None).error is None
        assert time.monotonic() - started < 1.5
        slow = consume_sync("chat", client, None, {"x-chaos-stall-seconds": "0.5"}, timeout=0.2)
        assert isinstance(slow.error, openai.APITimeoutError)
        client.close()


def _assert_still_serving(server: ChaosServer) -> None:
    with httpx2.Client(base_url=server.base_url, timeout=5) as client:
        assert client.get("/healthz").status_code == 200
        response = client.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES})
        assert response.json()["choices"][0]["message"]["content"] == text_of(TOKENS)
