"""``generate_content_stream`` chunks: reads ``GenerateContentResponse`` objects into a record.

Every chunk is a whole ``GenerateContentResponse``. Mapping:

* ``candidates[].content.parts[]``: a ``text`` part (not a thought) is a delivered token, so are
  inline data and code parts; a ``function_call`` part is a token and a committed tool call (Gemini
  streams each call whole). Thought parts count as chunks only.
* ``candidates[].finish_reason``: the finish (:mod:`.finish`); Gemini has no end marker, so a clean
  end of iteration after it ends the stream with it, and a clean end without one is ``truncated``.
* ``prompt_feedback.block_reason`` on a chunk without candidates: the prompt was blocked
  (``content_filter``).
* ``usage_metadata``: running totals (the SDK also sums continuation hops): the latest value wins,
  never added. Input tokens are kept from the first chunk on; output tokens once a finish reason
  arrived (before that the running value is not a final count and tokens delivered are counted from
  the parts, as for every other SDK's unfinished stream).
* ``response_id`` / ``model_version``: response id and model.
"""

from __future__ import annotations

from typing import Any, Optional

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.instrumentation.google_genai.errors import classify_genai_error
from otel_streamslo.instrumentation.google_genai.finish import CANDIDATE_FINISH, NO_FINISH


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def enum_name(value: Any) -> str:
    """``FinishReason.MAX_TOKENS`` (or the plain string an SDK may keep) -> ``max_tokens``."""
    name = getattr(value, "name", None)
    return str(name if isinstance(name, str) else value).lower()


def output_tokens_of(usage: Any) -> Optional[int]:
    """Candidates plus thoughts tokens (GenAI conventions count reasoning as output)."""
    out = _int(getattr(usage, "candidates_token_count", None))
    thoughts = _int(getattr(usage, "thoughts_token_count", None))
    if out is None:
        return thoughts
    return out + (thoughts or 0)


class GenerateAdapter:
    """Reads the chunks of ``generate_content_stream`` (sync and async)."""

    __slots__ = ("_finished", "_meta", "_tools")
    end_event = Event.END_MARKER  # a clean end: the finish reason seen decides, none -> truncated
    classify = staticmethod(classify_genai_error)

    def __init__(self) -> None:
        self._meta = False
        self._finished = False
        self._tools = 0

    def on_chunk(self, rec: StreamRecord, chunk: Any) -> None:
        if not self._meta:
            self._meta = True
            rec.response_info(chunk.response_id, chunk.model_version)
        candidates = chunk.candidates
        if candidates:
            for candidate in candidates:
                self._candidate(rec, candidate)
        else:
            feedback = chunk.prompt_feedback
            block = getattr(feedback, "block_reason", None) if feedback is not None else None
            if block:
                self._finished = True
                rec.finish(Event.FINISH_CONTENT_FILTER, f"prompt_{enum_name(block)}")
        usage = chunk.usage_metadata
        if usage is not None:
            prompt = _int(getattr(usage, "prompt_token_count", None))
            rec.usage(prompt, output_tokens_of(usage) if self._finished else None)

    def _candidate(self, rec: StreamRecord, candidate: Any) -> None:
        content = candidate.content
        parts = content.parts if content is not None else None
        if parts:
            for part in parts:
                if part.thought:
                    continue
                text = part.text
                if text:
                    rec.token()
                    if rec.capture:
                        rec.content(text)
                elif part.function_call is not None:
                    rec.token()
                    rec.tool_call(getattr(part.function_call, "name", None), self._tools)
                    self._tools += 1
                elif part.inline_data is not None or part.executable_code is not None:
                    rec.token()
        reason = candidate.finish_reason
        if reason:
            raw = enum_name(reason)
            if raw in NO_FINISH:
                return
            self._finished = True
            rec.finish(CANDIDATE_FINISH.get(raw, Event.FINISH_COMPLETED), raw)
