"""The driver interface: everything the contract suite needs to know about one SDK API surface.

A driver runs one streamed API of one SDK (e.g. openai chat completions) against the chaos
provider. The suite never imports an SDK itself; it asks the driver. See ../README.md.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar, Optional

from tests.contract.faults import ENDINGS, FAULTS, Expect

VOLATILE = frozenset(
    {
        "id",
        "call_id",
        "created",
        "created_at",
        "completed_at",  # openai Responses: a wall-clock second, differs between two runs
        "sequence_number",
        "item_id",
        "system_fingerprint",
        "request_id",
        "toolUseId",  # Bedrock Converse
    }
)


def installed_version(module: str) -> str:
    """The installed version of an SDK (``"0"`` when it has no ``__version__``)."""
    return str(getattr(importlib.import_module(module), "__version__", "0"))


def has_attr(module: str, owner: str, attr: str) -> bool:
    """Whether ``module.owner.attr`` exists in the installed SDK (a missing module is False)."""
    try:
        return hasattr(getattr(importlib.import_module(module), owner), attr)
    except (ImportError, AttributeError):
        return False


def plain_http_client(sdk: Any, *, asynchronous: bool) -> dict[str, Any]:
    """``http_client=`` kwargs for a loopback ``http://`` client that skips loading CA certificates.

    Building the default client loads the system's CA bundle (~0.2-0.5 s on a loaded machine),
    which the plain-HTTP chaos provider never needs. Empty where the SDK has no Default*HttpxClient.
    """
    cls = getattr(sdk, "DefaultAsyncHttpxClient" if asynchronous else "DefaultHttpxClient", None)
    return {} if cls is None else {"http_client": cls(verify=False)}


def scrub(value: Any) -> Any:
    """A comparable form of an SDK object: plain data without per-request ids and timestamps."""
    if hasattr(value, "model_dump"):
        return (type(value).__name__, scrub(value.model_dump()))
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


def has_name(exc: BaseException, names: tuple[str, ...]) -> bool:
    """Whether ``exc`` is an instance of a class called one of ``names`` (any module, any base)."""
    return any(cls.__name__ in names for cls in type(exc).__mro__)


class Driver:
    """One SDK API surface. Subclasses set the class attributes and implement the methods."""

    name: ClassVar[str]  # test id, e.g. "openai.chat"
    sdk: ClassVar[str]  # the SDK's import name
    provider: ClassVar[str]  # gen_ai.provider.name
    operation: ClassVar[str] = "chat"  # gen_ai.operation.name
    model: ClassVar[str]  # the model id the suite asks for
    modes: ClassVar[tuple[str, ...]] = ("raw", "helper")  # raw = create(stream=True); helper = .stream()
    faults: ClassVar[tuple[str, ...]] = tuple(FAULTS)  # the faults its protocol can produce
    finish: ClassVar[dict[str, str]]  # the provider's finish reason per fault name ("none": normal end)
    input_usage_at_start: ClassVar[bool] = False  # input tokens known before the end (bad streams too)
    variant: str = ""  # a configuration of the same surface (e.g. the SDK's own tracing), for ids
    asyncs: ClassVar[tuple[bool, ...]] = (False, True)  # sync and/or async clients the surface has
    endings: ClassVar[tuple[str, ...]] = ENDINGS  # how an app can leave it (no `with`: no with/raise)
    connect_error: ClassVar[str] = "APIConnectionError"  # what a connect error raises (and error.type)

    @property
    def id(self) -> str:
        return f"{self.name}[{self.variant}]" if self.variant else self.name

    # --- availability in the installed SDK version --------------------------------------------

    def missing(self, mode: str) -> Optional[str]:
        """Why this driver cannot run ``mode`` on the installed SDK (a skip message), or None."""
        return None

    # --- instrumentation ----------------------------------------------------------------------

    def instrumentor(self) -> Any:
        """A fresh instrumentor instance of this SDK."""
        raise NotImplementedError

    def instrument_kwargs(self) -> dict[str, Any]:
        """Extra ``instrument()`` keyword arguments of this variant."""
        return {}

    # --- the SDK ------------------------------------------------------------------------------

    def client(self, base_url: str, *, asynchronous: bool, read_timeout: float, tracer_provider: Any) -> Any:
        """An SDK client for the chaos provider at ``base_url``: no retries, the given read timeout.

        ``tracer_provider``: where an SDK that traces itself (a variant that turns that on) sends its spans.
        """
        raise NotImplementedError

    def base_url(self, chaos: Any) -> str:
        """The chaos provider's URL for this SDK."""
        raise NotImplementedError

    def start(self, client: Any, mode: str, headers: dict[str, str]) -> Any:
        """Sync: ``raw`` returns the stream; ``helper`` returns the stream manager (not entered)."""
        raise NotImplementedError

    async def astart(self, client: Any, mode: str, headers: dict[str, str]) -> Any:
        """Async: ``raw`` awaits and returns the stream; ``helper`` returns the manager."""
        raise NotImplementedError

    # --- what the application sees ------------------------------------------------------------

    def reason_override(self, fault: str, mode: str) -> Optional[Expect]:
        """Where this SDK makes a fault end differently from the table in faults.py."""
        return None

    def expect(self, fault: str, mode: str) -> Expect:
        return self.reason_override(fault, mode) or FAULTS[fault]

    def exception_names(self, fault: str, mode: str) -> Optional[tuple[str, ...]]:
        """Class names (any is fine) of what the app sees raised when consuming ``fault``; None: nothing."""
        raise NotImplementedError

    def wire_chunks(self, items: list[Any], mode: str) -> int:
        """How many provider chunks the items the app received stand for (helpers add derived events)."""
        return len(items)

    def unseen_chunks(self, fault: str, mode: str) -> int:
        """Chunks the instrumentation handed on that never reached the app (a helper failed on them)."""
        return 1 if mode == "helper" and fault.startswith("missing_fields") else 0

    def finish_reason(self, fault: str) -> Optional[str]:
        """``gen_ai.response.finish_reasons`` of a good stream consumed with ``fault``."""
        return self.finish.get(fault.split("@")[0], self.finish["none"])

    def reported_usage(self, items: list[Any], mode: str) -> Optional[tuple[int, int]]:
        """(input, output) tokens as the SDK reported them to the app in ``items``, None if absent."""
        raise NotImplementedError

    def tool_name(self) -> str:
        return "get_weather"

    def dump(self, item: Any) -> Any:
        """A comparable, id-free form of one item (transparency)."""
        return scrub(item)

    async def aclose(self, stream: Any) -> None:
        """Async ending ``close``: how the app closes an async stream early."""
        await stream.close()

    def final(self, stream: Any) -> Any:
        """Sync helper: what the helper's accumulator returns after iteration (None for raw)."""
        return None

    async def afinal(self, stream: Any) -> Any:
        return None

    def describe_exception(self, exc: BaseException) -> Any:
        """A comparable form of an exception the app saw (type and message without request ids)."""
        return (type(exc).__module__, type(exc).__qualname__, str(exc).split(" (request id")[0])

    # --- the span -----------------------------------------------------------------------------

    def response_model(self) -> Optional[str]:
        """``gen_ai.response.model`` of a stream that began; None where the API reports no model."""
        return self.model

    def span_name(self) -> str:
        return f"{self.operation} {self.model}"

    def span_scope(self) -> str:
        return "otel_streamslo"

    def good_status_ok(self) -> bool:
        """Whether a good stream's span status is OK (an SDK's own span) rather than UNSET (ours)."""
        return False
