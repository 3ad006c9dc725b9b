"""One litellm call and the upstream attempts it makes; the context that keeps SDK wrappers silent.

A call (``completion`` / ``acompletion``, or a ``Router`` call with retries and fallbacks) is one
user-visible stream and one span. Every ``litellm.completion`` / ``acompletion`` made while it runs
(the call itself, a retry, a Router deployment or fallback) is one attempt: counted on the span as
``streamslo.attempts``, with the models tried in ``streamslo.attempts.models``. The record starts at
the first attempt, when the provider litellm routed to is known (``gen_ai.provider.name``).
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any, Optional
from urllib.parse import urlsplit

from opentelemetry import context, trace

from otel_streamslo.core.calls import SUPPRESS_LANGUAGE_MODEL_INSTRUMENTATION_KEY, new_record
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.core.telemetry import Telemetry

logger = logging.getLogger(__name__)

ATTEMPTS = "streamslo.attempts"
ATTEMPTS_MODELS = "streamslo.attempts.models"
_MAX_MODELS = 16

#: litellm provider names -> ``gen_ai.provider.name`` where the GenAI conventions name them differently.
PROVIDER_NAMES = {
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "azure": "azure.ai.openai",
    "mistral": "mistral_ai",
    "cohere": "cohere",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "watsonx": "ibm.watsonx.ai",
}

_CURRENT: contextvars.ContextVar[Optional[Attempts]] = contextvars.ContextVar(
    "otel_streamslo_litellm_attempts", default=None
)


def resolve(kwargs: dict[str, Any]) -> tuple[str, str]:
    """(model as sent to the provider, ``gen_ai.provider.name``) of one litellm attempt."""
    model = kwargs.get("model")
    if not isinstance(model, str):
        return "unknown", "litellm"
    try:
        import litellm

        resolved = litellm.get_llm_provider(
            model=model,
            custom_llm_provider=kwargs.get("custom_llm_provider"),
            api_base=kwargs.get("api_base") or kwargs.get("base_url"),
        )
        name, provider = str(resolved[0]), str(resolved[1])
        return name, PROVIDER_NAMES.get(provider, provider)
    except Exception:
        logger.debug("otel_streamslo: litellm provider of %r unknown", model, exc_info=True)
        head, sep, tail = model.partition("/")
        return (tail, head) if sep else (model, "litellm")


def server_of(kwargs: dict[str, Any]) -> tuple[Optional[str], Optional[int]]:
    """``server.address`` / ``server.port`` from ``api_base`` (None when litellm picks its default)."""
    base = kwargs.get("api_base") or kwargs.get("base_url")
    if not isinstance(base, str):
        return None, None
    try:
        url = urlsplit(base)
        port = url.port or (443 if url.scheme == "https" else 80)
        return url.hostname, port
    except Exception:
        return None, None


class Attempts:
    """The upstream attempts of one user-visible litellm call, and its record once started."""

    __slots__ = ("count", "models", "rec", "request_model", "tel")

    def __init__(self, tel: Telemetry, request_model: Optional[str] = None) -> None:
        self.tel = tel
        self.request_model = request_model  # a Router's model group; None: the model of the attempt
        self.rec: Optional[StreamRecord] = None
        self.count = 0
        self.models: list[str] = []

    def note(self, kwargs: dict[str, Any]) -> None:
        """One attempt begins (``kwargs`` of the litellm call); starts the record at the first."""
        try:
            model, provider = resolve(kwargs)
            self.count += 1
            if len(self.models) < _MAX_MODELS:
                self.models.append(model)
            if self.rec is None:
                self.rec = new_record(
                    self.tel, provider, self.request_model or model, server_of(kwargs), kwargs.get("messages")
                )
            if self.rec is not None:
                self.rec.span.set_attribute(ATTEMPTS, self.count)
                self.rec.span.set_attribute(ATTEMPTS_MODELS, list(self.models))
        except Exception:
            logger.debug("otel_streamslo: litellm attempt not recorded", exc_info=True)


def current() -> Optional[Attempts]:
    """The litellm call in progress in this context, if any."""
    return _CURRENT.get()


def suppressed_scope(attempts: Attempts, with_span: bool = False) -> Optional[tuple[Any, Any]]:
    """Enter: SDK-level instrumentation suppressed, ``attempts`` current (and the span, if asked)."""
    try:
        ctx = context.set_value(SUPPRESS_LANGUAGE_MODEL_INSTRUMENTATION_KEY, True)
        if with_span and attempts.rec is not None:
            ctx = trace.set_span_in_context(attempts.rec.span, ctx)
        return context.attach(ctx), _CURRENT.set(attempts)
    except Exception:
        logger.debug("otel_streamslo: litellm scope failed", exc_info=True)
        return None


def unscope(scope: Optional[tuple[Any, Any]]) -> None:
    """Leave a :func:`suppressed_scope`."""
    if scope is None:
        return
    try:
        _CURRENT.reset(scope[1])
        context.detach(scope[0])
    except Exception:
        logger.debug("otel_streamslo: litellm unscope failed", exc_info=True)
