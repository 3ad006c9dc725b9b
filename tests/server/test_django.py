"""Django under ASGI: ``StreamSLOMiddleware`` around Django's own ASGI handler, served by uvicorn.

A real Django project configured in-process (no database, no apps): async views returning
``StreamingHttpResponse`` over an async generator that relays the real openai SDK from the chaos
provider as SSE, the way a Django chat backend does. Django's handler reads the request body
through ``receive``, listens for ``http.disconnect`` itself (Django >= 5.0 cancels the view on it)
and sends the body message by message, so the verdict comes from what it sends and receives.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest

from tests.conftest import Telemetry
from tests.server.apps import MSG, SSE, AppServer
from tests.server.conftest import attrs, browse, client_spans, one_server_span, server_spans, verdict

_chaos: Any = None  # the chaos provider of the running test (the views read its URL)


def _event(data: Any, name: str = "") -> str:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(data)}\n\n"


def _openai() -> Any:
    import openai

    return openai.AsyncOpenAI(base_url=_chaos.openai_base_url, api_key="t", max_retries=0)


async def chat(request: Any) -> Any:
    """The usual relay: upstream errors become an SSE ``error`` event."""
    import openai
    from django.http import StreamingHttpResponse

    headers = {
        "x-chaos-tokens": request.GET.get("tokens", "8"),
        "x-chaos-fault": request.GET.get("fault", "none"),
    }
    if request.GET.get("delay"):
        headers["x-chaos-chunk-delay"] = request.GET["delay"]

    async def body() -> AsyncIterator[str]:
        try:
            stream = await _openai().chat.completions.create(
                model="m", messages=MSG, stream=True, extra_headers=headers
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield _event({"t": chunk.choices[0].delta.content})
            yield _event("[DONE]")
        except openai.APIError:
            yield _event({"message": "upstream failed"}, "error")

    return StreamingHttpResponse(body(), content_type=SSE)


async def raises(request: Any) -> Any:
    from django.http import StreamingHttpResponse

    async def body() -> AsyncIterator[str]:
        yield _event({"t": "a"})
        raise RuntimeError("app bug after the 200")

    return StreamingHttpResponse(body(), content_type=SSE)


async def error_event(request: Any) -> Any:
    from django.http import StreamingHttpResponse

    async def body() -> AsyncIterator[str]:
        yield _event({"t": "a"})
        yield _event({"message": "quota"}, "error")

    return StreamingHttpResponse(body(), content_type=SSE)


async def plain(request: Any) -> Any:
    from django.http import JsonResponse

    return JsonResponse({"ok": True})


def _urlpatterns() -> list[Any]:
    from django.urls import path

    return [
        path("chat", chat),
        path("raises", raises),
        path("error-event", error_event),
        path("plain", plain),
    ]


@pytest.fixture(scope="module")
def django_asgi() -> Any:
    """Django's ASGI application, configured once per test run (settings are process-wide)."""
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            ALLOWED_HOSTS=["127.0.0.1"],
            ROOT_URLCONF=__name__,
            SECRET_KEY="streamslo-test",
            INSTALLED_APPS=[],
            MIDDLEWARE=[],
            DATABASES={},
            LOGGING_CONFIG=None,
        )
    module = sys.modules[__name__]
    module.urlpatterns = _urlpatterns()  # type: ignore[attr-defined]
    from django.core.asgi import get_asgi_application

    return get_asgi_application()


@pytest.fixture
def django_server(
    django_asgi: Any, chaos: Any, instrument_both: Telemetry
) -> Iterator[tuple[AppServer, Telemetry]]:
    """uvicorn serving Django's ASGI handler wrapped by hand in the middleware (no instrumentor
    knows Django: it is any-ASGI-app usage)."""
    global _chaos
    from otel_streamslo.server import StreamSLOMiddleware

    _chaos = chaos
    app = StreamSLOMiddleware(
        django_asgi,
        tracer_provider=instrument_both.tracer_provider,
        meter_provider=instrument_both.meter_provider,
    )
    with AppServer(app) as server:
        yield server, instrument_both


def test_completed(django_server: tuple[AppServer, Telemetry]) -> None:
    server, tel = django_server
    lines = browse(f"{server.url}/chat?tokens=6")
    span = one_server_span(tel, upstream=1)
    a = verdict(span, "completed", "good")
    assert len([x for x in lines if x.startswith("data:")]) == 7
    assert span.name == "GET /chat"
    assert a["streamslo.chunks.delivered"] == 7
    assert a["streamslo.upstream.streams"] == 1
    (upstream,) = client_spans(tel)
    assert upstream.context.trace_id == span.context.trace_id  # the relayed stream is in the request's trace


def test_upstream_failed_though_django_ends_cleanly(django_server: tuple[AppServer, Telemetry]) -> None:
    server, tel = django_server
    lines = browse(f"{server.url}/chat?fault=reset@3")
    verdict(one_server_span(tel, upstream=1), "upstream_failed", "bad")
    assert "event: error" in lines


def test_server_error_event(django_server: tuple[AppServer, Telemetry]) -> None:
    server, tel = django_server
    browse(f"{server.url}/error-event")
    verdict(one_server_span(tel), "server_error_event", "bad")


def test_app_error_after_the_200(django_server: tuple[AppServer, Telemetry]) -> None:
    server, tel = django_server
    with pytest.raises(httpx2.RemoteProtocolError):  # Django's handler does not finish the body
        browse(f"{server.url}/raises")
    verdict(one_server_span(tel), "app_error", "bad")


def test_client_cancelled_orphans_the_open_upstream(django_server: tuple[AppServer, Telemetry]) -> None:
    server, tel = django_server
    browse(f"{server.url}/chat?tokens=40&delay=0.02", stop_after=3)
    a = verdict(one_server_span(tel, upstream=1), "client_cancelled", "excluded")
    assert a["streamslo.upstream.open_at_disconnect"] == 1
    up = attrs(client_spans(tel)[0])
    assert up["streamslo.orphaned"] is True
    assert up["streamslo.tokens.after_disconnect"] >= 0


def test_non_streamed_response_untouched(django_server: tuple[AppServer, Telemetry]) -> None:
    server, tel = django_server
    with httpx2.Client() as client:
        resp = client.get(f"{server.url}/plain")
    assert resp.json() == {"ok": True}
    assert server_spans(tel) == []
    assert tel.points("streamslo.responses") == []
