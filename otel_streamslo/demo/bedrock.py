"""The demo's Bedrock leg: ``converse_stream`` through boto3 against the chaos provider.

boto3 is synchronous: each planned call runs in a worker thread (``--concurrency`` of them). The
chaos headers of a call travel through a ``before-sign`` handler from a thread-local.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
_local = threading.local()


def _add_headers(request: Any, **kwargs: Any) -> None:
    for name, value in getattr(_local, "headers", {}).items():
        request.headers[name] = value


def make_client(endpoint_url: str, read_timeout: float) -> Any:
    """A ``bedrock-runtime`` client on the chaos provider: dummy credentials, no retries."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1},
        read_timeout=read_timeout,
        connect_timeout=30,
        max_pool_connections=64,
    )
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="chaos",
        aws_secret_access_key="chaos",
        config=config,
    )
    client.meta.events.register("before-sign.bedrock-runtime.*", _add_headers)
    return client


def call(client: Any, headers: dict[str, str], cancel_after: Any, i: int) -> None:
    """One streamed call, read like an app would: to the end, or closed early when planned."""
    import urllib3
    from botocore.exceptions import BotoCoreError, ClientError

    _local.headers = headers
    try:
        response = client.converse_stream(
            modelId=MODEL,
            messages=[{"role": "user", "content": [{"text": f"demo request {i}"}]}],
            inferenceConfig={"maxTokens": 1024},
        )
        stream = response["stream"]
        for n, _ in enumerate(stream, 1):
            if cancel_after is not None and n >= cancel_after:
                stream.close()
                break
    except (BotoCoreError, ClientError, urllib3.exceptions.HTTPError):
        pass  # the app would retry or show an error; the span already says what happened


async def drive(args: argparse.Namespace, endpoint_url: str, plans: Sequence[Any], headers: Any) -> None:
    """Every planned call on ``--concurrency`` worker threads; ``headers(plan)``: its chaos headers."""
    client = make_client(endpoint_url, args.read_timeout)
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=max(1, args.concurrency)) as pool:
        await asyncio.gather(
            *(
                loop.run_in_executor(pool, call, client, headers(plan), plan.cancel_after, i)
                for i, plan in enumerate(plans)
            )
        )
    client.close()
