"""The notification worker's metrics."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from services.kernel.metrics import counter


@dataclass(frozen=True)
class NotificationMetrics:
    notifications: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> NotificationMetrics:
        return cls(
            notifications=counter(
                registry,
                "notifications",
                "Notification outcomes.",
                ("channel", "kind", "outcome"),
            )
        )
