"""Prometheus metrics: how each is defined (on an injected registry), and the kernel's own.

Every worker defines its domain metrics in its own `metrics.py` with these helpers; the
kernel's are the loop's: flow, latency, lag, dead letters, failures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

PREFIX = "complaintflow_"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


def counter(
    registry: CollectorRegistry, name: str, doc: str, labels: Sequence[str] = ()
) -> Counter:
    """`complaintflow_<name>_total`."""
    return Counter(PREFIX + name, doc, tuple(labels), registry=registry)


def gauge(registry: CollectorRegistry, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
    return Gauge(PREFIX + name, doc, tuple(labels), registry=registry)


def histogram(
    registry: CollectorRegistry,
    name: str,
    doc: str,
    buckets: Sequence[float],
    labels: Sequence[str] = (),
) -> Histogram:
    return Histogram(PREFIX + name, doc, tuple(labels), buckets=tuple(buckets), registry=registry)


@dataclass(frozen=True)
class Metrics:
    """The loop's metrics, the same on every worker."""

    stage_latency: Histogram
    consumer_lag: Gauge
    dead_letters: Counter
    events_processed: Counter
    consumer_rejoins: Counter
    loop_failures: Counter
    ready: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> Metrics:
        return cls(
            stage_latency=histogram(
                registry,
                "stage_latency_seconds",
                "Time from an event's time to its processing, per stage.",
                LATENCY_BUCKETS,
                ("stage",),
            ),
            consumer_lag=gauge(
                registry, "consumer_lag", "Records not yet processed.", ("group", "topic")
            ),
            dead_letters=counter(
                registry, "dead_letters", "Messages sent to dead letters.", ("worker", "reason")
            ),
            events_processed=counter(
                registry,
                "events_processed",
                "Input events processed (committed), per worker and topic.",
                ("worker", "topic"),
            ),
            consumer_rejoins=counter(
                registry,
                "consumer_rejoins",
                "Consumers replaced after staying out of a stable group for a minute.",
                ("worker",),
            ),
            loop_failures=counter(
                registry,
                "loop_failures",
                "Polls or periodic jobs rolled back and retried, by the step that failed"
                " (`passing` for database or broker outages).",
                ("worker", "stage"),
            ),
            ready=gauge(
                registry,
                "ready",
                "1 when the worker is ready (what `/readyz` answers with 200), else 0.",
            ),
        )


@dataclass(frozen=True)
class ProblemMetrics:
    """Configuration problems a worker runs on with (see `services/kernel/problems.py`)."""

    config_errors: Counter
    config_problems: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ProblemMetrics:
        return cls(
            config_errors=counter(
                registry,
                "config_errors",
                "Times a worker met a gap in its configuration and fell back (a policy routing"
                " names that is not defined, a calendar error, a roster edit that did not load).",
                ("worker", "kind"),
            ),
            config_problems=gauge(
                registry,
                "config_problems",
                "Configuration problems present now, per kind (0 once fixed): alert on > 0.",
                ("worker", "kind"),
            ),
        )
