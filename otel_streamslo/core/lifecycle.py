"""Lifecycle of one streamed LLM call as an explicit state machine.

Pure module: no OpenTelemetry and no SDK imports. SDK adapters translate what they
see (chunks, exceptions, close calls, garbage collection) into :class:`Event` values;
:class:`StreamLifecycle` applies the transition table, keeps timestamps and reaches
exactly one terminal :class:`TerminationReason`. The terminal state is sticky: events
after it are ignored, like h11's sticky error state. An event that the table does not
allow raises :class:`LifecycleError`; it never passes silently.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Optional, Union


class State(enum.Enum):
    """Where one stream is."""

    REQUESTING = "requesting"  # request sent, no response yet
    OPEN = "open"  # response 200 received, no content yet
    STREAMING = "streaming"  # at least one content / tool-call delta delivered
    FINISHING = "finishing"  # finish reason seen, waiting for the end marker
    DONE = "done"  # terminal


class Event(enum.Enum):
    """What an adapter observed."""

    RESPONSE_OPENED = "response_opened"
    REQUEST_FAILED = "request_failed"
    TOKEN = "token"
    FINISH_COMPLETED = "finish_completed"
    FINISH_LENGTH = "finish_length"
    FINISH_CONTENT_FILTER = "finish_content_filter"
    END_MARKER = "end_marker"
    EOF = "eof"
    ERROR_EVENT = "error_event"
    TRANSPORT_ERROR = "transport_error"
    TIMEOUT = "timeout"
    CANCEL = "cancel"
    ABANDON = "abandon"
    CONSUMER_ERROR = "consumer_error"


class TerminationReason(str, enum.Enum):
    """How a stream ended (DESIGN.md, termination reasons)."""

    COMPLETED = "completed"
    LENGTH = "length"
    CONTENT_FILTER = "content_filter"
    SERVER_ERROR_EVENT = "server_error_event"
    CONNECTION_DROPPED = "connection_dropped"
    IDLE_TIMEOUT = "idle_timeout"
    TRUNCATED = "truncated"
    REQUEST_FAILED = "request_failed"
    CLIENT_CANCELLED = "client_cancelled"
    CLIENT_ABANDONED = "client_abandoned"
    CONSUMER_ERROR = "consumer_error"


class Outcome(str, enum.Enum):
    """Availability verdict of one stream."""

    GOOD = "good"
    BAD = "bad"
    EXCLUDED = "excluded"


class LifecycleError(RuntimeError):
    """An event arrived that the transition table does not allow in the current state."""


#: Finish events and the reason a stream ends with when its end marker follows.
FINISH_EVENTS: Mapping[Event, TerminationReason] = {
    Event.FINISH_COMPLETED: TerminationReason.COMPLETED,
    Event.FINISH_LENGTH: TerminationReason.LENGTH,
    Event.FINISH_CONTENT_FILTER: TerminationReason.CONTENT_FILTER,
}


class _Finished(enum.Enum):
    """Transition target "end with the finish reason recorded earlier"."""

    FINISHED = "finished"


FINISHED = _Finished.FINISHED

Target = Union[State, TerminationReason, _Finished]

# Rules of this table (read it as h11's _state.py):
# - a row is (state, event): target; the target is the next live state, a terminal reason, or
#   FINISHED (the finish reason recorded when the stream entered FINISHING);
# - a (state, event) pair that is not in the table is illegal: StreamLifecycle.feed raises
#   LifecycleError, nothing passes silently;
# - DONE has no rows: the terminal state is sticky and later events are ignored;
# - the first finish event decides the finish reason; the end marker (or a clean end of
#   iteration, for SDKs that hide it) turns it into the terminal reason.
TRANSITIONS: Mapping[tuple[State, Event], Target] = {
    # Request phase: nothing delivered yet.
    (State.REQUESTING, Event.RESPONSE_OPENED): State.OPEN,
    (State.REQUESTING, Event.REQUEST_FAILED): TerminationReason.REQUEST_FAILED,
    (State.REQUESTING, Event.TRANSPORT_ERROR): TerminationReason.REQUEST_FAILED,
    (State.REQUESTING, Event.TIMEOUT): TerminationReason.REQUEST_FAILED,
    (State.REQUESTING, Event.CANCEL): TerminationReason.CLIENT_CANCELLED,
    (State.REQUESTING, Event.ABANDON): TerminationReason.CLIENT_ABANDONED,
    (State.REQUESTING, Event.CONSUMER_ERROR): TerminationReason.CONSUMER_ERROR,
    # Response open, no content yet.
    (State.OPEN, Event.TOKEN): State.STREAMING,
    (State.OPEN, Event.FINISH_COMPLETED): State.FINISHING,
    (State.OPEN, Event.FINISH_LENGTH): State.FINISHING,
    (State.OPEN, Event.FINISH_CONTENT_FILTER): State.FINISHING,
    (State.OPEN, Event.END_MARKER): TerminationReason.TRUNCATED,
    (State.OPEN, Event.ERROR_EVENT): TerminationReason.SERVER_ERROR_EVENT,
    (State.OPEN, Event.TRANSPORT_ERROR): TerminationReason.CONNECTION_DROPPED,
    (State.OPEN, Event.TIMEOUT): TerminationReason.IDLE_TIMEOUT,
    (State.OPEN, Event.CANCEL): TerminationReason.CLIENT_CANCELLED,
    (State.OPEN, Event.ABANDON): TerminationReason.CLIENT_ABANDONED,
    (State.OPEN, Event.CONSUMER_ERROR): TerminationReason.CONSUMER_ERROR,
    (State.OPEN, Event.EOF): TerminationReason.TRUNCATED,
    # Content flowing.
    (State.STREAMING, Event.TOKEN): State.STREAMING,
    (State.STREAMING, Event.FINISH_COMPLETED): State.FINISHING,
    (State.STREAMING, Event.FINISH_LENGTH): State.FINISHING,
    (State.STREAMING, Event.FINISH_CONTENT_FILTER): State.FINISHING,
    (State.STREAMING, Event.END_MARKER): TerminationReason.TRUNCATED,
    (State.STREAMING, Event.ERROR_EVENT): TerminationReason.SERVER_ERROR_EVENT,
    (State.STREAMING, Event.TRANSPORT_ERROR): TerminationReason.CONNECTION_DROPPED,
    (State.STREAMING, Event.TIMEOUT): TerminationReason.IDLE_TIMEOUT,
    (State.STREAMING, Event.CANCEL): TerminationReason.CLIENT_CANCELLED,
    (State.STREAMING, Event.ABANDON): TerminationReason.CLIENT_ABANDONED,
    (State.STREAMING, Event.CONSUMER_ERROR): TerminationReason.CONSUMER_ERROR,
    (State.STREAMING, Event.EOF): TerminationReason.TRUNCATED,
    # Finish reason seen: more tokens / finishes may follow (n > 1, trailing usage chunks).
    (State.FINISHING, Event.TOKEN): State.FINISHING,
    (State.FINISHING, Event.FINISH_COMPLETED): State.FINISHING,
    (State.FINISHING, Event.FINISH_LENGTH): State.FINISHING,
    (State.FINISHING, Event.FINISH_CONTENT_FILTER): State.FINISHING,
    (State.FINISHING, Event.END_MARKER): FINISHED,
    (State.FINISHING, Event.ERROR_EVENT): TerminationReason.SERVER_ERROR_EVENT,
    (State.FINISHING, Event.TRANSPORT_ERROR): TerminationReason.CONNECTION_DROPPED,
    (State.FINISHING, Event.TIMEOUT): TerminationReason.IDLE_TIMEOUT,
    (State.FINISHING, Event.CANCEL): TerminationReason.CLIENT_CANCELLED,
    (State.FINISHING, Event.ABANDON): TerminationReason.CLIENT_ABANDONED,
    (State.FINISHING, Event.CONSUMER_ERROR): TerminationReason.CONSUMER_ERROR,
    (State.FINISHING, Event.EOF): TerminationReason.TRUNCATED,
}


@dataclass
class StreamLifecycle:
    """State of one stream. Timestamps are monotonic nanoseconds supplied by the caller."""

    started_ns: int
    state: State = State.REQUESTING
    reason: Optional[TerminationReason] = None
    finish: Optional[TerminationReason] = None
    first_token_ns: Optional[int] = None
    ended_ns: Optional[int] = None
    history: list[Event] = field(default_factory=list)
    keep_history: bool = False

    @property
    def done(self) -> bool:
        """True once a terminal reason is set."""
        return self.state is State.DONE

    def token(self, now_ns: int) -> None:
        """Fast path for a content delta (the per-chunk hot path)."""
        if self.state is not State.STREAMING:
            self.feed(Event.TOKEN, now_ns)

    def feed(self, event: Event, now_ns: int) -> Optional[TerminationReason]:
        """Apply one event; return the terminal reason if this event ended the stream."""
        if self.state is State.DONE:
            return None
        try:
            target = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise LifecycleError(f"event {event.value} is not allowed in state {self.state.value}") from None
        if self.keep_history:
            self.history.append(event)
        if event is Event.TOKEN and self.first_token_ns is None:
            self.first_token_ns = now_ns
        if isinstance(target, State):
            if target is State.FINISHING and self.finish is None:
                self.finish = FINISH_EVENTS[event]
            self.state = target
            return None
        reason = target if isinstance(target, TerminationReason) else self.finish
        assert reason is not None  # FINISHING always recorded a finish reason
        self.state = State.DONE
        self.reason = reason
        self.ended_ns = now_ns
        return reason

    @property
    def time_to_first_token_ns(self) -> Optional[int]:
        """Request start to first content delta, if one arrived."""
        return None if self.first_token_ns is None else self.first_token_ns - self.started_ns

    @property
    def time_to_completion_ns(self) -> Optional[int]:
        """Request start to the terminal event, once terminal."""
        return None if self.ended_ns is None else self.ended_ns - self.started_ns


@dataclass(frozen=True)
class OutcomePolicy:
    """Maps a terminal reason (and HTTP status for ``request_failed``) to an SLI outcome.

    ``request_failed`` follows its own rule unless listed explicitly: bad for 429, 5xx and
    no status (connect errors), excluded for other 4xx.
    """

    good: frozenset[TerminationReason] = frozenset(
        {TerminationReason.COMPLETED, TerminationReason.LENGTH, TerminationReason.CONTENT_FILTER}
    )
    excluded: frozenset[TerminationReason] = frozenset(
        {
            TerminationReason.CLIENT_CANCELLED,
            TerminationReason.CLIENT_ABANDONED,
            TerminationReason.CONSUMER_ERROR,
        }
    )

    def __post_init__(self) -> None:
        both = self.good & self.excluded
        if both:
            names = ", ".join(sorted(r.value for r in both))
            raise ValueError(f"reasons cannot be both good and excluded: {names}")

    @classmethod
    def from_names(
        cls, good: Optional[Iterable[str]] = None, excluded: Optional[Iterable[str]] = None
    ) -> OutcomePolicy:
        """Build from reason names; unknown names raise ValueError listing the valid ones."""
        default = cls()
        return cls(
            good=default.good if good is None else parse_reasons(good, "good_reasons"),
            excluded=default.excluded if excluded is None else parse_reasons(excluded, "excluded_reasons"),
        )

    def outcome(self, reason: TerminationReason, http_status: Optional[int] = None) -> Outcome:
        """The availability verdict for one terminal reason."""
        if reason in self.good:
            return Outcome.GOOD
        if reason in self.excluded:
            return Outcome.EXCLUDED
        client_error = http_status is not None and 400 <= http_status < 500 and http_status != 429
        if reason is TerminationReason.REQUEST_FAILED and client_error:
            return Outcome.EXCLUDED
        return Outcome.BAD


def parse_reasons(names: Iterable[str], key: str) -> frozenset[TerminationReason]:
    """Parse reason names, raising a ValueError that names the key and the valid values."""
    out = set()
    valid = ", ".join(r.value for r in TerminationReason)
    for name in names:
        try:
            out.add(TerminationReason(name.strip()))
        except ValueError:
            raise ValueError(f"{key}: unknown termination reason {name!r}; valid: {valid}") from None
    return frozenset(out)
