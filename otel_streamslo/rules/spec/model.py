"""What a validated spec is: one service, its SLO period and its SLOs (no I/O, no validation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Optional

from otel_streamslo.rules.conventions import DEFAULT_RUNBOOK_URL


class SpecError(ValueError):
    """A spec file is not valid; the message names the field and what is allowed."""


@dataclass(frozen=True)
class SLO:
    """One SLO: an error-ratio SLI as PromQL templates, its objective and whether it alerts."""

    name: str
    kind: str
    objective: Decimal  # percent, e.g. Decimal("99.5")
    description: str
    error_query: str  # PromQL of bad events per second, with WINDOW_PLACEHOLDER
    total_query: str  # PromQL of all counted events per second, with WINDOW_PLACEHOLDER
    alerting: bool = True
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def objective_ratio(self) -> Decimal:
        """Objective as a ratio, e.g. 0.995."""
        return self.objective / 100

    @property
    def error_budget(self) -> Decimal:
        """Allowed error ratio, e.g. 0.005."""
        return 1 - self.objective_ratio


@dataclass(frozen=True)
class Alerting:
    """Alert names and labels shared by the SLOs of one spec."""

    page_severity: str = "page"
    ticket_severity: str = "ticket"
    page_for: Optional[str] = None
    ticket_for: Optional[str] = None
    runbook_url: str = DEFAULT_RUNBOOK_URL
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleDeployment:
    """Where the rules go besides plain rule files: a PrometheusRule object, a Mimir ruler namespace."""

    operator_name: Optional[str] = None  # PrometheusRule metadata.name; default <service>-slos
    operator_namespace: Optional[str] = None
    operator_labels: Mapping[str, str] = field(default_factory=dict)  # e.g. the ruleSelector's labels
    operator_annotations: Mapping[str, str] = field(default_factory=dict)
    mimir_namespace: Optional[str] = None  # ruler namespace; default <service>


@dataclass(frozen=True)
class Spec:
    """A validated spec: one service, its SLO period and its SLOs."""

    version: str
    service: str
    period: str
    slos: tuple[SLO, ...]
    alerting: Alerting = field(default_factory=Alerting)
    labels: Mapping[str, str] = field(default_factory=dict)
    deployment: RuleDeployment = field(default_factory=RuleDeployment)

    @property
    def period_days(self) -> int:
        """Length of the SLO period in days."""
        return int(self.period[:-1])
