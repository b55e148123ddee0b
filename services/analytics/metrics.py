"""The analytics worker's metrics."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.analytics.figures import Figures
from services.kernel.metrics import counter, gauge


@dataclass(frozen=True)
class AnalyticsMetrics:
    emerging_issues: Counter
    backlog: Gauge
    sla_compliance: Gauge
    sla_decided: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> AnalyticsMetrics:
        return cls(
            emerging_issues=counter(
                registry, "emerging_issues", "Emerging issues detected.", ("category",)
            ),
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
