"""Every way a consumer can leave a stream ends the one span exactly once, with the right reason."""

from __future__ import annotations

import asyncio
import gc
import socket
from typing import Any

import anthropic
import pytest
from opentelemetry.trace import StatusCode

from tests.instrumentation.anthropic.conftest import MODEL, MSG, Harness

H = {"x-chaos-tokens": "12"}


class AppError(Exception):
    pass


def create(client: anthropic.Anthropic, **headers: str) -> Any:
    return client.messages.create(
        model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers={**H, **headers}
    )


def helper(client: Any, **headers: str) -> Any:
    return client.messages.stream(model=MODEL, max_tokens=64, messages=MSG, extra_headers={**H, **headers})


# --- messages.create(stream=True) ----------------------------------------------------------------


def test_break_without_close_is_abandoned_at_collection(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        stream = create(client)
        for _ in stream:
            break
        assert harness.spans() == []  # still open: the connection is still held
        del stream
        gc.collect()
    attrs = harness.attrs()
    assert attrs["streamslo.termination.reason"] == "client_abandoned"
    assert attrs["streamslo.sli.outcome"] == "excluded"
    assert harness.only_span().status.status_code is StatusCode.UNSET


def test_with_block_left_early_is_cancelled(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        with create(client) as stream:
            assert isinstance(stream, anthropic.Stream)
            next(iter(stream))
    assert harness.reason() == "client_cancelled"


def test_close_after_completion_keeps_completed(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        with create(client) as stream:
            list(stream)
        stream.close()
    assert harness.reason() == "completed"


def test_completed_then_abandoned_keeps_completed(harness: Harness, chaos: Any) -> None:
    """The verdict comes at message_stop; a consumer that stops right there changes nothing."""
    with harness.client(chaos) as client:
        stream = create(client)
        for event in stream:
            if event.type == "message_stop":
                break
        assert harness.only_span() is not None  # ended at message_stop, before the body ended
        del stream
        gc.collect()
    assert harness.reason() == "completed"


# --- messages.stream() helper --------------------------------------------------------------------


def test_helper_left_early_is_cancelled(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        with helper(client) as stream:
            for text in stream.text_stream:
                assert text
                break
    attrs = harness.attrs()
    assert attrs["streamslo.termination.reason"] == "client_cancelled"
    assert attrs["streamslo.tokens.delivered"] == 1


def test_helper_close_is_cancelled(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        manager = helper(client)
        stream = manager.__enter__()
        next(iter(stream))
        stream.close()
        assert harness.reason() == "client_cancelled"
        manager.__exit__(None, None, None)
    assert harness.reason() == "client_cancelled"


def test_helper_entered_then_dropped_is_abandoned(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        stream = helper(client).__enter__()
        next(iter(stream))
        assert harness.spans() == []
        del stream
        gc.collect()
    assert harness.reason() == "client_abandoned"
    assert harness.tel.active() == 0


def test_helper_manager_never_entered_sends_nothing(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        helper(client)
        gc.collect()
    assert harness.spans() == []
    assert harness.tel.stream_counts() == {}


async def test_async_helper_manager_is_made_synchronously(harness: Harness, chaos: Any) -> None:
    """``AsyncMessages.stream()`` returns its manager without awaiting: the call starts on enter."""
    async with harness.aclient(chaos) as client:
        manager = helper(client)
        assert isinstance(manager, anthropic.AsyncMessageStreamManager)
        assert harness.tel.active() == 0
        async with manager as stream:
            assert harness.tel.active() == 1
            message = await stream.get_final_message()
    assert message.stop_reason == "end_turn"
    assert harness.reason() == "completed"


# --- async create(stream=True) -------------------------------------------------------------------


async def test_task_cancelled_during_request_is_cancelled(harness: Harness) -> None:
    """Cancelled before any response arrived (a server that never answers): never counted as bad."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts connections into the backlog, never answers
        port = listener.getsockname()[1]
        client = anthropic.AsyncAnthropic(
            base_url=f"http://127.0.0.1:{port}",
            api_key="t",
            max_retries=0,
            timeout=10,
            open_telemetry=harness.open_telemetry(),
        )
        async with client:
            task = asyncio.create_task(
                client.messages.create(model=MODEL, max_tokens=64, messages=MSG, stream=True)
            )
            await asyncio.sleep(0.2)
            assert harness.tel.active() == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    attrs = harness.attrs()
    assert attrs["streamslo.termination.reason"] == "client_cancelled"
    assert attrs["streamslo.sli.outcome"] == "excluded"
    assert "http.response.status_code" not in attrs
    assert harness.only_span().status.status_code is StatusCode.UNSET
