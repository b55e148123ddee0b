"""The SLA timer's metrics."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.kernel.metrics import counter, gauge, histogram

BREACH_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 60, 300, 3600)


@dataclass(frozen=True)
class SlaMetrics:
    sla_warnings: Counter
    sla_breaches: Counter
    sla_escalations: Counter
    sla_timers_active: Gauge
    sla_breach_lag: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> SlaMetrics:
        return cls(
            sla_warnings=counter(
                registry, "sla_warnings", "SLA warnings before a breach.", ("target", "priority")
            ),
            sla_breaches=counter(
                registry,
                "sla_breaches",
                "SLA targets breached.",
                ("target", "priority", "department"),
            ),
            sla_escalations=counter(
                registry, "sla_escalations", "Escalations after a breach.", ("level",)
            ),
            sla_timers_active=gauge(
                registry,
                "sla_timers_active",
                "Open SLA timers held by this instance.",
                ("target",),
            ),
            sla_breach_lag=histogram(
                registry,
                "sla_breach_lag_seconds",
                "Time from an SLA deadline to its breach event.",
                BREACH_LAG_BUCKETS,
            ),
        )
