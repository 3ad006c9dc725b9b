"""google-genai finish and prompt-block reasons -> lifecycle events (also the collector's mapping).

Raw names are the SDK's enum names lowercased (``FinishReason.MAX_TOKENS`` -> ``max_tokens``); a
blocked prompt (``prompt_feedback.block_reason``, no candidates) is recorded as ``prompt_<reason>``.
Finish reasons not listed here (``other``, ``language`` ...) end the stream as ``completed``.
"""

from __future__ import annotations

from collections.abc import Mapping

from otel_streamslo.core.lifecycle import Event

CANDIDATE_FINISH: dict[str, Event] = {
    "stop": Event.FINISH_COMPLETED,
    "max_tokens": Event.FINISH_LENGTH,
    "safety": Event.FINISH_CONTENT_FILTER,
    "recitation": Event.FINISH_CONTENT_FILTER,
    "blocklist": Event.FINISH_CONTENT_FILTER,
    "prohibited_content": Event.FINISH_CONTENT_FILTER,
    "spii": Event.FINISH_CONTENT_FILTER,
    "image_safety": Event.FINISH_CONTENT_FILTER,
    "image_prohibited_content": Event.FINISH_CONTENT_FILTER,
    "image_recitation": Event.FINISH_CONTENT_FILTER,
    "model_armor": Event.FINISH_CONTENT_FILTER,
    # automatic continuation off: the answer stopped at a hop limit, like a token limit
    "continuation": Event.FINISH_LENGTH,
    # the model produced output the API could not deliver whole: a provider-side failure in the 200
    "malformed_function_call": Event.ERROR_EVENT,
    "unexpected_tool_call": Event.ERROR_EVENT,
    "too_many_tool_calls": Event.ERROR_EVENT,
    "malformed_response": Event.ERROR_EVENT,
    "missing_thought_signature": Event.ERROR_EVENT,
}

#: Not a finish: the candidate is still open.
NO_FINISH = frozenset({"finish_reason_unspecified"})

#: ``BlockedReason`` values of a blocked prompt, recorded with a ``prompt_`` prefix.
PROMPT_BLOCKS: dict[str, Event] = {
    f"prompt_{name}": Event.FINISH_CONTENT_FILTER
    for name in (
        "blocked_reason_unspecified",
        "safety",
        "other",
        "blocklist",
        "prohibited_content",
        "image_safety",
        "model_armor",
        "jailbreak",
    )
}

#: Every raw finish reason this SDK reports, for the collector's generated mapping.
FINISH_REASONS: Mapping[str, Event] = {**CANDIDATE_FINISH, **PROMPT_BLOCKS}
