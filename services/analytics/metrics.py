"""The analytics worker's metrics."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry


@dataclass(frozen=True)
class AnalyticsMetrics:
    """None of its own yet: the archive's flow is the kernel's (early warning counts the
    emerging issues, `services/early_warning/metrics.py`)."""

    @classmethod
    def create(cls, registry: CollectorRegistry) -> AnalyticsMetrics:
        return cls()
