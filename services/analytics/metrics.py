"""The analytics worker's metrics."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge

from services.analytics.figures import Figures
from services.kernel.metrics import gauge


@dataclass(frozen=True)
class AnalyticsMetrics:
    backlog: Gauge
    sla_compliance: Gauge
    sla_decided: Gauge
    figures_seconds: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> AnalyticsMetrics:
        return cls(
            backlog=gauge(
                registry,
                "backlog_complaints",
                "Complaints open now, by department and how long since they happened.",
                ("department", "age_band"),
            ),
            sla_compliance=gauge(
                registry,
                "sla_compliance_ratio",
                "SLA targets due in the last 7 days (event time) met on time, over those met or"
                ' breached; all priorities as priority="all".',
                ("target", "priority"),
            ),
            sla_decided=gauge(
                registry,
                "sla_targets_decided",
                "SLA targets due in the last 7 days (event time) met or breached: the"
                " compliance ratio's denominator.",
                ("target", "priority"),
            ),
            figures_seconds=gauge(
                registry,
                "analytics_figures_seconds",
                "How long computing the published figures and the gauges took, the last time;"
                " the next publication waits fifty times as long (at least 5 s; at most 60 s,"
                " or ten times as long when a minute would give them over a tenth of the time).",
                (),
            ),
        )

    def show(self, live: Figures) -> None:
        """Set the gauges to the live figures (labels no longer present are dropped)."""
        self.backlog.clear()
        for department, bands in live.backlog.items():
            for band, n in bands.items():
                self.backlog.labels(department, band).set(n)
        self.sla_compliance.clear()
        self.sla_decided.clear()
        for (target, priority), got in live.sla.items():
            labels = (target, "all" if priority == "*" else priority)
            self.sla_decided.labels(*labels).set(got.met + got.breached)
            if got.rate is not None:
                self.sla_compliance.labels(*labels).set(got.rate)
