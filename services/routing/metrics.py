"""Routing's metrics."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.kernel.metrics import counter, gauge


@dataclass(frozen=True)
class RoutingMetrics:
    complaints_routed: Counter
    complaints_classified: Counter
    open_complaints: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> RoutingMetrics:
        return cls(
            complaints_routed=counter(
                registry, "complaints_routed", "Routing decisions made.", ("department", "priority")
            ),
            complaints_classified=counter(
                registry,
                "complaints_classified",
                "First routing decisions by how the category was found (label, model, keywords,"
                " none).",
                ("method",),
            ),
            open_complaints=gauge(
                registry,
                "open_complaints",
                "Complaints not yet resolved.",
                ("department", "priority"),
            ),
        )
