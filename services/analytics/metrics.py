"""The analytics worker's metrics."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from services.kernel.metrics import counter


@dataclass(frozen=True)
class AnalyticsMetrics:
    emerging_issues: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> AnalyticsMetrics:
        return cls(
            emerging_issues=counter(
                registry, "emerging_issues", "Emerging issues detected.", ("category",)
            )
        )
