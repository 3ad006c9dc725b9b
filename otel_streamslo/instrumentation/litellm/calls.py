"""The wrappers of ``litellm.completion`` / ``acompletion`` and ``Router.completion`` / ``acompletion``.

The outermost streamed call observes (one span); calls made inside it (retries, Router deployments
and fallbacks, ``acompletion`` running ``completion``) only count as attempts. While litellm runs,
``suppress_language_model_instrumentation`` is set, so our openai / anthropic wrappers (which older
litellm reaches through ``chat.completions.with_raw_response.create``) stay silent.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from otel_streamslo.core.calls import Wrapper, async_call_wrapper, sync_call_wrapper
from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.telemetry import Telemetry
from otel_streamslo.instrumentation.litellm.attempts import Attempts, current, suppressed_scope, unscope
from otel_streamslo.instrumentation.litellm.errors import litellm_status_of
from otel_streamslo.instrumentation.litellm.stream import LiteLLMStreamProxy

logger = logging.getLogger(__name__)


class LiteLLMCall:
    """One user-visible litellm call while its request (and any retries or fallbacks) is in flight."""

    __slots__ = ("attempts",)

    def __init__(self, attempts: Attempts) -> None:
        self.attempts = attempts

    def enter(self) -> Any:
        return suppressed_scope(self.attempts, with_span=True)

    def leave(self, token: Any) -> None:
        unscope(token)

    def failed(self, exc: BaseException) -> None:
        rec = self.attempts.rec
        if rec is not None:  # None: failed before any upstream attempt (no span: nothing was sent)
            rec.request_failed(exc, _safe_status(exc))

    def opened(self, result: Any) -> Any:
        rec = self.attempts.rec
        if rec is None:
            return result
        try:
            from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

            rec.opened(200)
            if isinstance(result, CustomStreamWrapper):
                return LiteLLMStreamProxy(result, rec, self.attempts)
            logger.debug("otel_streamslo: unexpected litellm streamed result %r", type(result))
            rec.end(Event.EOF)
        except Exception:
            logger.debug("otel_streamslo: wrapping litellm result failed", exc_info=True)
        return result


def _safe_status(exc: BaseException) -> Optional[int]:
    try:
        return litellm_status_of(exc)
    except Exception:
        return None


def _begin(tel: Telemetry, router: bool) -> Callable[[Any, tuple[Any, ...], dict[str, Any]], Optional[Any]]:
    def begin(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Optional[LiteLLMCall]:
        if kwargs.get("stream") is not True:
            return None
        if router:  # the record starts at the first deployment the Router tries
            model = kwargs.get("model")
            return LiteLLMCall(Attempts(tel, model if isinstance(model, str) and model else None))
        attempts = Attempts(tel)
        attempts.note(kwargs)
        return LiteLLMCall(attempts) if attempts.rec is not None else None

    return begin


def _attempt_or(observe: Wrapper, router: bool) -> Wrapper:
    """Inside a call already observed: count an attempt and pass through; else ``observe``."""

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        outer = current()
        if outer is None:
            return observe(wrapped, instance, args, kwargs)
        if not router:
            outer.note(kwargs)
        return wrapped(*args, **kwargs)

    return wrapper


def completion_wrapper(tel: Telemetry) -> Wrapper:
    """``litellm.completion``."""
    return _attempt_or(sync_call_wrapper(_begin(tel, router=False)), router=False)


def acompletion_wrapper(tel: Telemetry) -> Wrapper:
    """``litellm.acompletion`` (a coroutine function: the inner call returns the awaitable)."""
    return _attempt_or(async_call_wrapper(_begin(tel, router=False)), router=False)


def router_completion_wrapper(tel: Telemetry) -> Wrapper:
    """``Router.completion``."""
    return _attempt_or(sync_call_wrapper(_begin(tel, router=True)), router=True)


def router_acompletion_wrapper(tel: Telemetry) -> Wrapper:
    """``Router.acompletion``."""
    return _attempt_or(async_call_wrapper(_begin(tel, router=True)), router=True)
