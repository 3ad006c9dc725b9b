"""The demo's litellm leg: ``litellm.acompletion(stream=True)`` routed to the chaos provider's OpenAI
dialect (``model="openai/gpt-4o-mini"``, ``api_base``); the chaos headers travel in ``extra_headers``."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from typing import Any, Callable

MODEL = "openai/gpt-4o-mini"


async def call(
    base_url: str, args: argparse.Namespace, headers: dict[str, str], cancel_after: Any, i: int
) -> None:
    """One streamed call, read like an app would: to the end, or closed early when planned."""
    import litellm
    import openai  # litellm's exceptions subclass openai's

    try:
        stream = await litellm.acompletion(
            model=MODEL,
            api_base=base_url,
            api_key="chaos",
            messages=[{"role": "user", "content": f"demo request {i}"}],
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=headers,
            timeout=args.read_timeout,
            num_retries=0,
            max_retries=0,
        )
        n = 0
        async for _ in stream:
            n += 1
            if cancel_after is not None and n >= cancel_after:
                await stream.aclose()
                break
    except openai.OpenAIError:
        pass  # the app would retry or show an error; the span already says what happened


async def drive(
    args: argparse.Namespace, base_url: str, plans: Sequence[Any], headers: Callable[[Any], dict[str, str]]
) -> None:
    """Every planned call, ``--concurrency`` at a time; ``headers(plan)``: its chaos headers."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no remote fetch at import
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback" banner per failed call
    sem = asyncio.Semaphore(max(1, args.concurrency))

    async def one(i: int, plan: Any) -> None:
        async with sem:
            await call(base_url, args, headers(plan), plan.cancel_after, i)

    await asyncio.gather(*(one(i, p) for i, p in enumerate(plans)))
