"""PromQL of the dashboards: the variable filters, SLO series selectors, burn rates, percentiles.

The availability SLIs themselves come from :mod:`otel_streamslo.rules.sli`, the module the rules use.
"""

from __future__ import annotations

from otel_streamslo.rules import sli
from otel_streamslo.rules.conventions import (
    CALLS_METRIC,
    ERROR_BUDGET_RECORD,
    ERROR_RATIO_RECORD,
    MODEL_LABEL,
    PROVIDER_LABEL,
    SERVICE_LABEL,
    SLI_KIND_LABEL,
    TOKENS_AFTER_DISCONNECT_METRIC,
    TOKENS_DELIVERED_METRIC,
)

# Label matchers of the dashboard variables, for raw (non-SLO) metrics.
SERVICE = f'{SERVICE_LABEL}=~"$service"'
FILTER = f'{SERVICE}, {PROVIDER_LABEL}=~"$provider", {MODEL_LABEL}=~"$model"'
RATE = "$__rate_interval"
PERCENTILES = (0.5, 0.95, 0.99)
PER_MODEL = f"{PROVIDER_LABEL}, {MODEL_LABEL}"
# Span-metrics panels count spans as the default rules do: not those inferred from peers.
OURS = sli.inferred_matcher()


def slo_series(kind: str) -> str:
    """Matchers of the recorded series of one SLI kind for the selected services."""
    return f'sloth_service=~"$service", {SLI_KIND_LABEL}="{kind}"'


def stream_availability(window: str, by: str = "", fn: str = "rate") -> str:
    """Stream-aware availability of the raw span metrics, as the default rules count it."""
    return sli.availability(sli.stream_events(CALLS_METRIC, FILTER, sli.VerdictSelection()), window, by, fn)


def response_availability(window: str, by: str = "", fn: str = "rate") -> str:
    """User-facing availability of the app's streamed responses (server spans: no provider/model)."""
    return sli.availability(
        sli.response_events(CALLS_METRIC, SERVICE, sli.VerdictSelection()), window, by, fn
    )


def billing_gap(by: str = "") -> str:
    """Tokens received from providers after the user disconnected / all tokens delivered upstream."""
    after = sli.summed([sli.vector(TOKENS_AFTER_DISCONNECT_METRIC, FILTER)], RATE, by=by)
    delivered = sli.summed([sli.vector(TOKENS_DELIVERED_METRIC, FILTER)], RATE, by=by)
    return f"({after} or 0 * {delivered}) / {delivered}"


def http_availability(window: str, by: str = "", fn: str = "rate") -> str:
    """Naive HTTP availability of the same streams: what an HTTP-status dashboard shows."""
    return sli.availability(sli.http_events(CALLS_METRIC, FILTER), window, by, fn)


def burn(kind: str, window: str) -> str:
    """Burn rate of one SLO window: error ratio / error budget."""
    sel = slo_series(kind)
    return f"{ERROR_RATIO_RECORD}{window}{{{sel}}} / ignoring (sloth_window) {ERROR_BUDGET_RECORD}{{{sel}}}"


def quantiles(
    metric: str, extra: str = "", percentiles: tuple[float, ...] = PERCENTILES
) -> list[tuple[str, str]]:
    """(expr, legend) of percentiles of a classic histogram over the dashboard filters."""
    matchers = f"{FILTER}, {extra}" if extra else FILTER
    return [
        (
            f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{{matchers}}}[{RATE}])))",
            f"p{round(q * 100)}",
        )
        for q in percentiles
    ]


def sum_rate_by(by: str, metric: str, *matchers: str) -> str:
    """``sum by (label) (rate(metric{filters, matchers}[$__rate_interval]))``."""
    return f"sum by ({by}) (rate({sli.vector(metric, FILTER, *matchers)}[{RATE}]))"
