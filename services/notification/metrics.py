"""The notification worker's metrics."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.kernel.metrics import counter, gauge


@dataclass(frozen=True)
class NotificationMetrics:
    notifications: Counter
    circuit_open: Gauge
    """1 while a channel's circuit is open (or probing), 0 when closed."""
    circuit_opened: Counter
    surveys_closed: Counter
    """Surveys ended: `answered`, or `no_answer` once the link expired (never escalated)."""

    @classmethod
    def create(cls, registry: CollectorRegistry) -> NotificationMetrics:
        return cls(
            notifications=counter(
                registry,
                "notifications",
                "Notification outcomes.",
                ("channel", "kind", "outcome"),
            ),
            circuit_open=gauge(
                registry,
                "notification_circuit_open",
                "1 while the channel's circuit is open: its provider keeps failing.",
                ("channel",),
            ),
            circuit_opened=counter(
                registry,
                "notification_circuit_opened",
                "Times a channel's circuit opened.",
                ("channel",),
            ),
            surveys_closed=counter(
                registry,
                "surveys_closed",
                "Satisfaction surveys ended, by how: answered or no_answer (the link expired).",
                ("outcome",),
            ),
        )
