"""Types of the optional C hot path (``_speedups.c``)."""

from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any, Optional

_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

class Counters:
    chunks: int
    hot: bool
    sse: bool

class SendHook:
    def __init__(
        self,
        resp: Counters,
        send: _Send,
        full: _Send,
        failed: Optional[Callable[[], Awaitable[None]]] = None,
    ) -> None: ...
    def __call__(self, message: MutableMapping[str, Any]) -> Awaitable[None]: ...

class CheckedSend(Coroutine[Any, Any, Any]):
    def send(self, value: Any) -> Any: ...
    def throw(self, *args: Any) -> Any: ...
    def close(self) -> None: ...
    def __await__(self) -> Any: ...
