"""An older litellm, which reaches the openai SDK through ``chat.completions.with_raw_response.create``.

litellm 1.108.x and older call that method (which our openai instrumentor patches); from 1.109.0
litellm calls ``openai_client.post`` instead (the contract suite runs the installed, newest one
with our openai and anthropic instrumentors on too). The old version is installed pinned, with
``--no-deps``, into ``.old/`` (gitignored, cached) and driven in a subprocess, as the peers' tests do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
OLD_DIR = HERE / ".old"
OLD = "litellm==1.108.0"
EXPECT = {
    "none": "completed",
    "reset@3": "connection_dropped",
    "eof@3": "truncated",
    "error_frame@3": "server_error_event",
    "stall@3": "idle_timeout",
}


def _install() -> Path:
    stamp = OLD_DIR / ".ok"
    if stamp.exists() and stamp.read_text() == OLD:
        return OLD_DIR
    shutil.rmtree(OLD_DIR, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps"]
    done = subprocess.run([*cmd, "--target", str(OLD_DIR), OLD], capture_output=True, text=True)
    assert done.returncode == 0, f"installing {OLD} failed:\n{done.stdout}\n{done.stderr}"
    stamp.write_text(OLD)
    return OLD_DIR


@pytest.fixture(scope="module")
def probe() -> dict[str, Any]:
    """Both phases of ``_old_probe.py`` (one subprocess: litellm's import is slow)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(_install()), str(REPO)]))
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    done = subprocess.run(
        [sys.executable, str(HERE / "_old_probe.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["version"] == OLD.split("==")[1]
    assert Path(result["origin"]).resolve().is_relative_to(OLD_DIR.resolve())
    return result


@pytest.fixture(scope="module")
def sdk_only(probe: dict[str, Any]) -> list[Any]:
    return list(probe["sdk"])


@pytest.fixture(scope="module")
def with_litellm(probe: dict[str, Any]) -> list[Any]:
    return list(probe["all"])


def test_old_litellm_goes_through_the_patched_openai_method(sdk_only: list[Any]) -> None:
    """Without litellm's instrumentor, our openai wrapper sees every old-litellm call: the path is real."""
    assert len(sdk_only) == 2 * len(EXPECT)
    for call in sdk_only:
        assert len(call["spans"]) == 1, call
        assert call["spans"][0]["gen_ai.provider.name"] == "openai"
        assert "streamslo.attempts" not in call["spans"][0]  # made by the openai instrumentor


def test_old_litellm_one_span_per_call(with_litellm: list[Any]) -> None:
    """With litellm's instrumentor too: one span per call (the openai wrapper stays silent), right reason."""
    seen = set()
    for call in with_litellm:
        assert len(call["spans"]) == 1, call
        span = call["spans"][0]
        seen.add((call["async"], call["fault"]))
        assert span["streamslo.attempts"] == 1
        assert span["gen_ai.provider.name"] == "openai"
        assert span["gen_ai.request.model"] == "gpt-4o-mini"
        assert span["streamslo.termination.reason"] == EXPECT[call["fault"]], call
        if call["fault"] == "none":
            assert (span["gen_ai.usage.output_tokens"], call["raised"]) == (6, "")
        else:
            assert span["error.type"] == EXPECT[call["fault"]]
            assert "gen_ai.usage.output_tokens" not in span  # litellm's own estimate is not provider usage
    assert seen == {(a, f) for a in (False, True) for f in EXPECT}


def test_old_litellm_hides_a_truncated_stream(with_litellm: list[Any]) -> None:
    """Old litellm ends a stream cut without its finish cleanly, with a made-up "stop": still truncated."""
    eof = [c for c in with_litellm if c["fault"] == "eof@3"]
    assert [c["raised"] for c in eof] == ["", ""]
    assert {c["spans"][0]["streamslo.termination.reason"] for c in eof} == {"truncated"}
