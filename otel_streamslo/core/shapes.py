"""Token shapes: the chunk an adapter reads as exactly one delivered token, counted in C.

Most chunks of a stream are one content delta, and all an adapter does with one is
``rec.token()``. An adapter class may declare those shapes as ``token_shapes``; the observed loops
then call :func:`chunk_reader`'s result instead of ``adapter.on_chunk``: the C ``TokenReader``
(``core/_fastpath.c``, built at install on CPython 3.10+) counts a chunk of one of those shapes
itself and hands every other chunk, and the first of each stream, to ``on_chunk``. The record ends
the same either way; the C path reads the fields from the objects' instance dicts (where attribute
access would return the same), so the SDK's per-chunk loop keeps the interpreter's caches.

A shape is a tuple of tests, all of which must hold; a test is ``(path, check)`` or
``(path, "eq", value)``. A path is a tuple of steps from the chunk: a field name, or :data:`ONLY`
(a list of exactly one item: that item). Checks: :data:`IS_NONE`, :data:`TEXT` (a non-empty
``str``), ``"eq"`` (a ``str`` equal to ``value``). Without the extension, or with
``OTEL_STREAMSLO_PURE_PYTHON=1``, ``on_chunk`` reads every chunk.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional, Union

from otel_streamslo.core.config import pure_python_requested
from otel_streamslo.core.record import StreamRecord

logger = logging.getLogger(__name__)

#: A path step: the list holds exactly one item; go on from that item.
ONLY = 0
IS_NONE = "none"
TEXT = "text"
EQ = "eq"

Step = Union[str, int]
Test = Union[tuple[tuple[Step, ...], str], tuple[tuple[Step, ...], str, str]]
Shape = tuple[Test, ...]
Reader = Callable[[StreamRecord, Any], None]

_COMPILED: dict[type, Any] = {}


def _load() -> Any:
    if pure_python_requested():
        return None
    try:
        import otel_streamslo.core._fastpath as fastpath
    except ImportError:
        return None
    return fastpath


_fastpath = _load()


def compiled(adapter_type: type) -> Optional[Any]:
    """The C ``Shapes`` of ``adapter_type.token_shapes`` (compiled once), or None."""
    try:
        return _COMPILED[adapter_type]
    except KeyError:
        pass
    shapes: Optional[tuple[Shape, ...]] = getattr(adapter_type, "token_shapes", None)
    out = None
    if _fastpath is not None and shapes:
        try:
            out = _fastpath.Shapes(shapes, StreamRecord)
        except Exception:
            logger.debug("otel_streamslo: token shapes of %r rejected", adapter_type, exc_info=True)
    _COMPILED[adapter_type] = out
    return out


def chunk_reader(adapter: Any) -> Reader:
    """What the observed loop calls per chunk: the C reader over ``adapter.on_chunk``, or ``on_chunk``."""
    on_chunk: Reader = adapter.on_chunk
    shapes = compiled(type(adapter))
    if shapes is None:
        return on_chunk
    return _fastpath.TokenReader(shapes, on_chunk)  # type: ignore[no-any-return,union-attr]
