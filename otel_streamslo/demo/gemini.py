"""The demo's Gemini leg: ``client.aio.models.generate_content_stream`` through google-genai.

The async client runs on httpx2 (``async_client_args`` transport): with aiohttp, the SDK's default
async transport when installed, ``HttpOptions.timeout`` is a deadline for the whole call, which
would cut the demo's slow streams; on httpx2 it is a read timeout like the other SDKs'. The chaos
headers of a call travel in its per-request ``HttpOptions``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any, Callable

MODEL = "gemini-2.5-flash"


def no_retries(types: Any) -> dict[str, Any]:
    """``HttpOptions`` keywords for one attempt per request (SDKs before ``HttpRetryOptions``: none)."""
    retry = getattr(types, "HttpRetryOptions", None)
    return {} if retry is None else {"retry_options": retry(attempts=1)}


def make_client(base_url: str, read_timeout: float) -> Any:
    """A ``genai.Client`` on the chaos provider: no retries, async on httpx2."""
    import httpx2
    from google import genai
    from google.genai import types

    options = types.HttpOptions(
        base_url=base_url,
        timeout=int(read_timeout * 1000),
        **no_retries(types),
        async_client_args={"transport": httpx2.AsyncHTTPTransport()},
    )
    return genai.Client(api_key="chaos", http_options=options)


async def call(client: Any, headers: dict[str, str], cancel_after: Any, i: int) -> None:
    """One streamed call, read like an app would: to the end, or closed early when planned."""
    import httpx2
    from google.genai import errors, types

    config = types.GenerateContentConfig(http_options=types.HttpOptions(headers=headers))
    try:
        stream = await client.aio.models.generate_content_stream(
            model=MODEL, contents=f"demo request {i}", config=config
        )
        n = 0
        async for _ in stream:
            n += 1
            if cancel_after is not None and n >= cancel_after:
                await stream.aclose()
                break
    except (errors.APIError, errors.UnknownApiResponseError, httpx2.HTTPError):
        pass  # the app would retry or show an error; the span already says what happened


async def drive(
    args: argparse.Namespace, base_url: str, plans: Sequence[Any], headers: Callable[[Any], dict[str, str]]
) -> None:
    """Every planned call, ``--concurrency`` at a time; ``headers(plan)``: its chaos headers."""
    client = make_client(base_url, args.read_timeout)  # kept referenced: a collected Client closes
    sem = asyncio.Semaphore(max(1, args.concurrency))

    async def one(i: int, plan: Any) -> None:
        async with sem:
            await call(client, headers(plan), plan.cancel_after, i)

    try:
        await asyncio.gather(*(one(i, p) for i, p in enumerate(plans)))
    finally:
        await client.aio.aclose()
        client.close()
