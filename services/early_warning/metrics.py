"""The early-warning detector's metrics."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from services.kernel.metrics import counter, histogram

DETECT_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5)


@dataclass(frozen=True)
class EarlyWarningMetrics:
    emerging_issues: Counter
    alerts: Counter
    late_complaints: Counter
    detect_seconds: Histogram
    reread: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> EarlyWarningMetrics:
        return cls(
            emerging_issues=counter(
                registry,
                "emerging_issues",
                "Early-warning episodes opened (spike, collective, emerging_issue).",
                ("kind", "category"),
            ),
            alerts=counter(
                registry,
                "early_warning_alerts",
                "Messages on the alerts topic, by kind and status (open, updated, closed).",
                ("kind", "status"),
            ),
            late_complaints=counter(
                registry,
                "early_warning_late_complaints",
                "Complaints that arrived after their spike window had closed (not counted).",
            ),
            detect_seconds=histogram(
                registry,
                "early_warning_detect_seconds",
                "Time the detector spent on one complaint (or one clock tick).",
                DETECT_BUCKETS,
            ),
            reread=counter(
                registry,
                "early_warning_reread",
                "Messages the stream skipped (after a restart) that the worker read past it, so"
                " that no complaint goes uncounted, by topic (a source, or the internal signals).",
                ("topic",),
            ),
        )
