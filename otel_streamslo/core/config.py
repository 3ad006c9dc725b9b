"""Settings of the instrumentation, from ``instrument()`` keyword arguments and environment variables.

Keyword arguments win over environment variables, which win over defaults. Invalid values
raise ``ValueError`` at ``instrument()`` time with the name of the offending setting.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from otel_streamslo.core.lifecycle import OutcomePolicy

ENV_CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
ENV_PROGRESS_TOKENS = "OTEL_STREAMSLO_PROGRESS_EVERY_TOKENS"
ENV_MAX_PROGRESS_EVENTS = "OTEL_STREAMSLO_MAX_PROGRESS_EVENTS"
ENV_TTFT_THRESHOLD = "OTEL_STREAMSLO_TTFT_THRESHOLD"
ENV_GOOD_REASONS = "OTEL_STREAMSLO_GOOD_REASONS"
ENV_EXCLUDED_REASONS = "OTEL_STREAMSLO_EXCLUDED_REASONS"
ENV_MAX_CONTENT_CHARS = "OTEL_STREAMSLO_MAX_CONTENT_CHARS"
ENV_ANTHROPIC_NATIVE = "OTEL_STREAMSLO_ANTHROPIC_NATIVE_SPANS"
ENV_PURE_PYTHON = "OTEL_STREAMSLO_PURE_PYTHON"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """Everything the recorder needs to know about the user's choices."""

    capture_content: bool = False
    progress_every_tokens: int = 64
    max_progress_events: int = 32
    ttft_threshold_s: float = 2.0
    max_content_chars: int = 16384
    policy: OutcomePolicy = field(default_factory=OutcomePolicy)

    def __post_init__(self) -> None:
        if self.progress_every_tokens < 1:
            raise ValueError("progress_every_tokens must be >= 1")
        if self.max_progress_events < 0:
            raise ValueError("max_progress_events must be >= 0")
        if not self.ttft_threshold_s > 0:
            raise ValueError("ttft_threshold must be > 0 seconds")
        if self.max_content_chars < 0:
            raise ValueError("max_content_chars must be >= 0")


def pure_python_requested(env: Optional[Mapping[str, str]] = None) -> bool:
    """``OTEL_STREAMSLO_PURE_PYTHON`` is set (and not ``0``): use no C hot path even where one is built."""
    value = (os.environ if env is None else env).get(ENV_PURE_PYTHON, "")
    return value.strip() not in ("", "0")


def _env_bool(env: Mapping[str, str], name: str) -> Optional[bool]:
    raw = env.get(name)
    if raw is None:
        return None
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"{name}: expected true/false, got {raw!r}")


def _env_num(env: Mapping[str, str], name: str, kind: type[Any]) -> Any:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        return kind(raw.strip())
    except ValueError:
        raise ValueError(f"{name}: expected a {kind.__name__}, got {raw!r}") from None


def _env_list(env: Mapping[str, str], name: str) -> Optional[list[str]]:
    raw = env.get(name)
    if raw is None:
        return None
    return [p for p in (s.strip() for s in raw.split(",")) if p]


def _pick(*values: Any) -> Any:
    for v in values:
        if v is not None:
            return v
    return None


def load_settings(kwargs: Mapping[str, Any], env: Optional[Mapping[str, str]] = None) -> Settings:
    """Build Settings from ``instrument(**kwargs)`` and the environment."""
    env = os.environ if env is None else env
    d = Settings()
    good: Optional[Iterable[str]] = _pick(kwargs.get("good_reasons"), _env_list(env, ENV_GOOD_REASONS))
    excluded: Optional[Iterable[str]] = _pick(
        kwargs.get("excluded_reasons"), _env_list(env, ENV_EXCLUDED_REASONS)
    )
    policy = kwargs.get("policy") or OutcomePolicy.from_names(good, excluded)
    return Settings(
        capture_content=bool(
            _pick(kwargs.get("capture_content"), _env_bool(env, ENV_CAPTURE_CONTENT), d.capture_content)
        ),
        progress_every_tokens=int(
            _pick(
                kwargs.get("progress_every_tokens"),
                _env_num(env, ENV_PROGRESS_TOKENS, int),
                d.progress_every_tokens,
            )
        ),
        max_progress_events=int(
            _pick(
                kwargs.get("max_progress_events"),
                _env_num(env, ENV_MAX_PROGRESS_EVENTS, int),
                d.max_progress_events,
            )
        ),
        ttft_threshold_s=float(
            _pick(kwargs.get("ttft_threshold"), _env_num(env, ENV_TTFT_THRESHOLD, float), d.ttft_threshold_s)
        ),
        max_content_chars=int(
            _pick(
                kwargs.get("max_content_chars"),
                _env_num(env, ENV_MAX_CONTENT_CHARS, int),
                d.max_content_chars,
            )
        ),
        policy=policy,
    )
