"""Zero-code: an app run under ``opentelemetry-instrument`` gets the server-side verdict unchanged."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from tests.instrumentation.openai.test_zero_code import _run
from tests.instrumentation.zero_code import INSTRUMENT, spans_in

APP = textwrap.dedent(
    """
    import asyncio, os, socket, threading, time
    import httpx2, openai, uvicorn
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    client = openai.AsyncOpenAI(base_url=os.environ["CHAOS_URL"], api_key="t", max_retries=0)
    app = FastAPI()

    @app.get("/chat/{fault}")
    async def chat(fault: str):
        async def body():
            try:
                stream = await client.chat.completions.create(
                    model="zero-code", messages=[{"role": "user", "content": "hi"}], stream=True,
                    extra_headers={"x-chaos-fault": fault, "x-chaos-tokens": "5"},
                )
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield "data: x\\n\\n"
            except openai.APIError:
                yield "event: error\\ndata: {}\\n\\n"
        return StreamingResponse(body(), media_type="text/event-stream")

    @app.get("/plain")
    async def plain():
        return {"ok": True}

    sock = socket.socket(); sock.bind(("127.0.0.1", 0)); sock.listen(8)
    server = uvicorn.Server(uvicorn.Config(app, http="h11", lifespan="off", log_config=None))
    threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    url = "http://127.0.0.1:%d" % sock.getsockname()[1]
    for path in ("/chat/none", "/chat/reset@2", "/plain"):
        httpx2.get(url + path, timeout=10)
    time.sleep(0.2)
    server.should_exit = True
    print("APP-DONE")
    """
)


def test_opentelemetry_instrument_gives_server_verdicts(chaos: Any, tmp_path: Path) -> None:
    proc = _run(APP, chaos, tmp_path, INSTRUMENT)
    assert proc.returncode == 0, proc.stderr
    assert "APP-DONE" in proc.stdout
    server = [s for s in spans_in(proc.stdout) if s["kind"] == "SpanKind.SERVER"]
    assert len(server) == 3, [s["name"] for s in server]  # one per request, whoever made it
    verdicts = sorted(
        s["attributes"]["streamslo.termination.reason"]
        for s in server
        if "streamslo.termination.reason" in s["attributes"]
    )
    assert verdicts == ["completed", "upstream_failed"]  # /plain is not streamed: untouched
    bad = next(s for s in server if s["attributes"].get("streamslo.sli.outcome") == "bad")
    assert bad["status"]["status_code"] == "ERROR"
    assert bad["attributes"]["streamslo.upstream.bad"] == 1
