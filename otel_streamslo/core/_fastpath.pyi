"""Types of the C token fast path (``_fastpath.c``); see :mod:`otel_streamslo.core.shapes`."""

from typing import Any, Callable

class Shapes:
    """``token_shapes`` of one adapter class, compiled for records of ``record_type``."""

    def __init__(self, shapes: tuple[Any, ...], record_type: type) -> None: ...

class TokenReader:
    """Called ``(rec, chunk)`` per chunk: counts a token-shaped chunk, hands any other to ``on_chunk``."""

    primed: bool
    def __init__(self, shapes: Shapes, on_chunk: Callable[[Any, Any], None]) -> None: ...
    def __call__(self, rec: Any, chunk: Any) -> None: ...
