"""What the benchmark runs start from: recorded SSE bodies, a baseline tree, the peers' install status."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Optional

from benchmarks._common import CACHE, PEERS, ROOT, SSEScript
from benchmarks.procs import log


def record_scripts(chaos_url: str) -> dict[str, Path]:
    """Record one OpenAI and one Anthropic SSE body from the chaos provider, split for replay."""
    import httpx2

    out: dict[str, Path] = {}
    with httpx2.Client(timeout=30) as c:
        body = c.post(
            chaos_url + "/v1/chat/completions",
            json={
                "model": "bench-model",
                "messages": [{"role": "user", "content": "Write a long answer."}],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
            headers={"x-chaos-tokens": "64"},
        ).content
        path = CACHE / "sse-openai.json"
        SSEScript.split(body, b'"content":"tok').dump(path)
        out["openai"] = path
        body = c.post(
            chaos_url + "/v1/messages",
            json={
                "model": "bench-model",
                "max_tokens": 1_000_000,
                "messages": [{"role": "user", "content": "Write a long answer."}],
                "stream": True,
            },
            headers={"x-chaos-tokens": "64"},
        ).content
        path = CACHE / "sse-anthropic.json"
        SSEScript.split(body, b'"text_delta"').dump(path)
        out["anthropic"] = path
    return out


def export_baseline(ref: str) -> Optional[Path]:
    """``git archive REF otel_streamslo`` into the cache (the 'before' of a hot-path change)."""
    dest = CACHE / f"baseline-{re.sub(r'[^A-Za-z0-9._-]', '_', ref)}"
    if (dest / "otel_streamslo").is_dir():
        return dest
    try:
        data = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "otel_streamslo"],
            capture_output=True,
            check=True,
        ).stdout
    except subprocess.CalledProcessError as exc:
        log(f"baseline {ref!r} not available: {exc.stderr.decode(errors='replace').strip()}")
        return None
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest)
    return dest


def peer_install_status() -> dict[str, str]:
    """What run.sh could install (``.peers/<name>.failed`` holds pip's output when it could not)."""
    out: dict[str, str] = {}
    for name in ("openai_v2", "openllmetry", "anthropic_openllmetry"):
        failed = PEERS / f"{name}.failed"
        if failed.exists():
            out[name] = "install failed: " + failed.read_text()[-600:]
        elif (PEERS / name).is_dir():
            out[name] = "installed: " + (
                (PEERS / name / ".ok").read_text().strip() if (PEERS / name / ".ok").exists() else "?"
            )
        else:
            out[name] = "not installed"
    return out
