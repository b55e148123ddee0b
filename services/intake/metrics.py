"""Intake's metrics."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from services.kernel.metrics import counter


@dataclass(frozen=True)
class IntakeMetrics:
    complaints_received: Counter
    complaints_rejected: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> IntakeMetrics:
        return cls(
            complaints_received=counter(
                registry, "complaints_received", "New complaints registered.", ("channel",)
            ),
            complaints_rejected=counter(
                registry, "complaints_rejected", "Raw events rejected.", ("reason",)
            ),
        )
