"""Lifecycle of one streamed HTTP response (the downstream leg) as an explicit state machine.

Pure module: no OpenTelemetry, ASGI or SDK imports. The middleware translates what it sees
(response start, an SSE ``error`` event, the final body message, a disconnect, an exception, an
upstream stream that ended bad) into :class:`ResponseEvent` values. The first *cause* in time
decides the reason: a cause that does not end the response (an upstream failure, an ``error``
event, an error status) moves to a marked state whose reason wins when the response ends. The
terminal state is sticky; an event the table does not allow raises :class:`ResponseLifecycleError`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional, Union


class ResponseState(enum.Enum):
    """Where one response is."""

    WAITING = "waiting"  # request received, no response start yet
    WAITING_UPSTREAM_FAILED = "waiting_upstream_failed"  # ... and an upstream stream already ended bad
    OPEN = "open"  # response started, nothing wrong so far
    UPSTREAM_FAILED = "upstream_failed"  # an upstream stream ended bad first
    ERROR_EVENT_SENT = "error_event_sent"  # the app sent an SSE event named error first
    ERROR_STATUS = "error_status"  # the response started with a 4xx / 5xx status
    DONE = "done"  # terminal


class ResponseEvent(enum.Enum):
    """What the middleware observed."""

    START = "start"  # http.response.start with a status below 400
    START_ERROR_STATUS = "start_error_status"  # http.response.start with 4xx / 5xx
    UPSTREAM_BAD = "upstream_bad"  # an upstream LLM stream of this request ended bad
    ERROR_EVENT = "error_event"  # the app sent `event: error`
    FINAL_BODY = "final_body"  # the final body message is about to be sent
    DISCONNECT = "disconnect"  # http.disconnect before the final body, or a failed send
    APP_ERROR = "app_error"  # the app raised, or returned without its final body message


class DownstreamReason(str, enum.Enum):
    """How a streamed response ended (DESIGN.md, downstream reasons)."""

    COMPLETED = "completed"
    UPSTREAM_FAILED = "upstream_failed"
    SERVER_ERROR_EVENT = "server_error_event"
    APP_ERROR = "app_error"
    REQUEST_FAILED = "request_failed"
    CLIENT_CANCELLED = "client_cancelled"


class ResponseLifecycleError(RuntimeError):
    """An event arrived that the transition table does not allow in the current state."""


S = ResponseState
E = ResponseEvent
D = DownstreamReason
Target = Union[ResponseState, DownstreamReason]

# Rules of this table:
# - a row is (state, event): target; the target is the next live state or the terminal reason;
# - a (state, event) pair that is not in the table is illegal: feed() raises, nothing passes silently;
# - DONE has no rows: the terminal state is sticky and later events are ignored;
# - marked states (UPSTREAM_FAILED, ERROR_EVENT_SENT, ERROR_STATUS) keep their cause through later
#   causes and end with it, whatever ends the response (first cause in time wins).
TRANSITIONS: Mapping[tuple[ResponseState, ResponseEvent], Target] = {
    # Before the response started.
    (S.WAITING, E.START): S.OPEN,
    (S.WAITING, E.START_ERROR_STATUS): S.ERROR_STATUS,
    (S.WAITING, E.UPSTREAM_BAD): S.WAITING_UPSTREAM_FAILED,
    (S.WAITING, E.DISCONNECT): D.CLIENT_CANCELLED,
    (S.WAITING, E.APP_ERROR): D.APP_ERROR,
    (S.WAITING_UPSTREAM_FAILED, E.START): S.UPSTREAM_FAILED,
    (S.WAITING_UPSTREAM_FAILED, E.START_ERROR_STATUS): S.UPSTREAM_FAILED,
    (S.WAITING_UPSTREAM_FAILED, E.UPSTREAM_BAD): S.WAITING_UPSTREAM_FAILED,
    (S.WAITING_UPSTREAM_FAILED, E.DISCONNECT): D.UPSTREAM_FAILED,
    (S.WAITING_UPSTREAM_FAILED, E.APP_ERROR): D.UPSTREAM_FAILED,
    # Streaming, nothing wrong yet.
    (S.OPEN, E.UPSTREAM_BAD): S.UPSTREAM_FAILED,
    (S.OPEN, E.ERROR_EVENT): S.ERROR_EVENT_SENT,
    (S.OPEN, E.FINAL_BODY): D.COMPLETED,
    (S.OPEN, E.DISCONNECT): D.CLIENT_CANCELLED,
    (S.OPEN, E.APP_ERROR): D.APP_ERROR,
    # An upstream stream ended bad first.
    (S.UPSTREAM_FAILED, E.UPSTREAM_BAD): S.UPSTREAM_FAILED,
    (S.UPSTREAM_FAILED, E.ERROR_EVENT): S.UPSTREAM_FAILED,
    (S.UPSTREAM_FAILED, E.FINAL_BODY): D.UPSTREAM_FAILED,
    (S.UPSTREAM_FAILED, E.DISCONNECT): D.UPSTREAM_FAILED,
    (S.UPSTREAM_FAILED, E.APP_ERROR): D.UPSTREAM_FAILED,
    # The app sent `event: error` first.
    (S.ERROR_EVENT_SENT, E.UPSTREAM_BAD): S.ERROR_EVENT_SENT,
    (S.ERROR_EVENT_SENT, E.ERROR_EVENT): S.ERROR_EVENT_SENT,
    (S.ERROR_EVENT_SENT, E.FINAL_BODY): D.SERVER_ERROR_EVENT,
    (S.ERROR_EVENT_SENT, E.DISCONNECT): D.SERVER_ERROR_EVENT,
    (S.ERROR_EVENT_SENT, E.APP_ERROR): D.SERVER_ERROR_EVENT,
    # The response started with an error status.
    (S.ERROR_STATUS, E.UPSTREAM_BAD): S.ERROR_STATUS,
    (S.ERROR_STATUS, E.ERROR_EVENT): S.ERROR_STATUS,
    (S.ERROR_STATUS, E.FINAL_BODY): D.REQUEST_FAILED,
    (S.ERROR_STATUS, E.DISCONNECT): D.REQUEST_FAILED,
    (S.ERROR_STATUS, E.APP_ERROR): D.REQUEST_FAILED,
}


@dataclass
class ResponseLifecycle:
    """State of one response. Timestamps are monotonic nanoseconds supplied by the caller."""

    started_ns: int
    state: ResponseState = ResponseState.WAITING
    reason: Optional[DownstreamReason] = None
    ended_ns: Optional[int] = None

    @property
    def done(self) -> bool:
        """True once a terminal reason is set."""
        return self.state is ResponseState.DONE

    def feed(self, event: ResponseEvent, now_ns: int) -> Optional[DownstreamReason]:
        """Apply one event; return the terminal reason if this event ended the response."""
        if self.state is ResponseState.DONE:
            return None
        try:
            target = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise ResponseLifecycleError(
                f"event {event.value} is not allowed in state {self.state.value}"
            ) from None
        if isinstance(target, ResponseState):
            self.state = target
            return None
        self.state = ResponseState.DONE
        self.reason = target
        self.ended_ns = now_ns
        return target


@dataclass(frozen=True)
class DownstreamPolicy:
    """Maps a downstream reason (and the HTTP status for ``request_failed``) to an SLI outcome."""

    good: frozenset[DownstreamReason] = frozenset({DownstreamReason.COMPLETED})
    excluded: frozenset[DownstreamReason] = frozenset({DownstreamReason.CLIENT_CANCELLED})

    def outcome(self, reason: DownstreamReason, http_status: Optional[int] = None) -> str:
        """``good``, ``bad`` or ``excluded``."""
        if reason in self.good:
            return "good"
        if reason in self.excluded:
            return "excluded"
        client_error = http_status is not None and 400 <= http_status < 500 and http_status != 429
        if reason is DownstreamReason.REQUEST_FAILED and client_error:
            return "excluded"
        return "bad"
