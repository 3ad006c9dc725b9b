"""The one fault -> termination reason table of the whole suite (every driver, every mode).

A fault is what the chaos provider is told to do (``x-chaos-fault``); its reason is how the
stream must end when the application consumes it to the end. Drivers list the faults their
protocol can produce (``Driver.faults``) and the rare cells where their SDK changes the
natural reason (``Driver.reason_override``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Expect:
    """How a consumed stream with this fault ends."""

    reason: str
    status: Optional[int] = 200  # http.response.status_code on the span (None: no response)

    @property
    def streamed(self) -> bool:
        """Whether a stream began (the app received a 200 and maybe chunks)."""
        return self.reason != "request_failed"


TOKENS = 6
FAULTS: dict[str, Expect] = {
    "none": Expect("completed"),
    "length": Expect("length"),
    "content_filter": Expect("content_filter"),
    "tool_calls": Expect("completed"),
    "unknown_event@2": Expect("completed"),
    "huge_chunk@2": Expect("completed"),
    "missing_fields@2": Expect("completed"),
    "error_frame@3": Expect("server_error_event"),
    "malformed_json@3": Expect("server_error_event"),
    "reset@3": Expect("connection_dropped"),
    "tool_calls_reset": Expect("connection_dropped"),
    "stall@3": Expect("idle_timeout"),
    "eof@3": Expect("truncated"),
    "http_400": Expect("request_failed", 400),
    "http_429": Expect("request_failed", 429),
    "http_500": Expect("request_failed", 500),
    "http_503": Expect("request_failed", 503),
    "http_529": Expect("request_failed", 529),
}

# The fault matrix: every client-side ending crossed with these faults. The ending comes at the
# first item, before any mid-stream fault strikes, so one pending fault of each kind stands for all
# of its kind (the old reliability matrix also ran length, content_filter, tool_calls, error_frame,
# eof, malformed_json here: the same path as none / reset): a clean stream, a pending drop, a pending
# stall (the cancel lands while the read waits), and HTTP errors bad (429, 503) and excluded (400),
# which keep request_failed whatever the ending.
MATRIX_FAULTS = ("none", "reset@3", "stall@3", "http_429", "http_503", "http_400")

# How the application leaves the stream (see README.md):
#   consume  iterate to the end                      -> the fault's reason
#   close    break at the first item, then close()    -> client_cancelled
#   break    break at the first item, never close     -> raw: client_abandoned (at GC); helper: the
#                                                        manager's `with` exit -> client_cancelled
#   drop     never iterate, drop the stream           -> raw: client_abandoned; helper: cancelled
#   with     raw stream as a `with` block, left early -> client_cancelled
#   raise    the app raises inside its `with` block   -> consumer_error
#   cancel   (async) the task is cancelled while it waits for the next chunk -> client_cancelled
ENDINGS = ("consume", "close", "break", "drop", "with", "raise", "cancel")


def ending_reason(natural: Expect, mode: str, ending: str) -> str:
    """The reason a stream with ``natural`` ending gets when the app leaves it by ``ending``."""
    if not natural.streamed or ending == "consume":
        return natural.reason
    if ending == "raise":
        return "consumer_error"
    if ending in ("break", "drop") and mode == "raw":
        return "client_abandoned"
    return "client_cancelled"
