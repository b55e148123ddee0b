"""Every Prometheus metric, defined once on an injected registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
BREACH_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 60, 300, 3600)


@dataclass(frozen=True)
class Metrics:
    complaints_received: Counter
    complaints_rejected: Counter
    complaints_routed: Counter
    sla_warnings: Counter
    sla_breaches: Counter
    sla_escalations: Counter
    sla_timers_active: Gauge
    sla_breach_lag: Histogram
    notifications: Counter
    open_complaints: Gauge
    stage_latency: Histogram
    consumer_lag: Gauge
    dead_letters: Counter
    emerging_issues: Counter
    events_processed: Counter
    consumer_rejoins: Counter
    loop_failures: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> Metrics:
        def counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
            return Counter(f"complaintflow_{name}", doc, labels, registry=registry)

        def gauge(name: str, doc: str, labels: tuple[str, ...]) -> Gauge:
            return Gauge(f"complaintflow_{name}", doc, labels, registry=registry)

        return cls(
            complaints_received=counter(
                "complaints_received", "New complaints registered by intake.", ("channel",)
            ),
            complaints_rejected=counter(
                "complaints_rejected", "Raw events rejected by intake.", ("reason",)
            ),
            complaints_routed=counter(
                "complaints_routed", "Routing decisions made.", ("department", "priority")
            ),
            sla_warnings=counter(
                "sla_warnings", "SLA warnings before a breach.", ("target", "priority")
            ),
            sla_breaches=counter(
                "sla_breaches", "SLA targets breached.", ("target", "priority", "department")
            ),
            sla_escalations=counter("sla_escalations", "Escalations after a breach.", ("level",)),
            sla_timers_active=gauge(
                "sla_timers_active", "Open SLA timers held by this instance.", ("target",)
            ),
            sla_breach_lag=Histogram(
                "complaintflow_sla_breach_lag_seconds",
                "Time from an SLA deadline to its breach event.",
                buckets=BREACH_LAG_BUCKETS,
                registry=registry,
            ),
            notifications=counter(
                "notifications", "Notification outcomes.", ("channel", "kind", "outcome")
            ),
            open_complaints=gauge(
                "open_complaints", "Complaints not yet resolved.", ("department", "priority")
            ),
            stage_latency=Histogram(
                "complaintflow_stage_latency_seconds",
                "Time from an event's time to its processing, per stage.",
                ("stage",),
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            consumer_lag=gauge("consumer_lag", "Records not yet consumed.", ("group", "topic")),
            dead_letters=counter(
                "dead_letters", "Messages sent to dead letters.", ("worker", "reason")
            ),
            emerging_issues=counter("emerging_issues", "Emerging issues detected.", ("category",)),
            events_processed=counter(
                "events_processed",
                "Input events processed, per worker and topic.",
                ("worker", "topic"),
            ),
            consumer_rejoins=counter(
                "consumer_rejoins",
                "Consumers replaced after staying out of a stable group for a minute.",
                ("worker",),
            ),
            loop_failures=counter(
                "loop_failures",
                "Polls or periodic jobs rolled back and retried, by the step that failed"
                " (`passing` for database or broker outages).",
                ("worker", "stage"),
            ),
        )
