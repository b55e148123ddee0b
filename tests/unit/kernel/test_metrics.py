"""Metrics are defined once, on an injected registry, with low-cardinality labels."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from services.commands.workers import WORKERS, handler_class
from services.kernel.metrics import Metrics, ProblemMetrics
from services.sla_timer.metrics import SlaMetrics


def test_metrics_on_a_fresh_registry():
    registry = CollectorRegistry()
    m = Metrics.create(registry)
    sla = SlaMetrics.create(registry)
    m.dead_letters.labels("intake", "invalid_json").inc()
    sla.sla_breach_lag.observe(0.2)
    text = generate_latest(registry).decode()
    assert 'complaintflow_dead_letters_total{reason="invalid_json",worker="intake"} 1.0' in text
    assert "complaintflow_sla_breach_lag_seconds_bucket" in text
    # A second registry is independent: no duplicate-registration error, no shared values.
    other = CollectorRegistry()
    Metrics.create(other)
    assert "invalid_json" not in generate_latest(other).decode()


def test_no_label_is_a_complaint_or_customer_id():
    registry = CollectorRegistry()
    families = [Metrics.create(registry), ProblemMetrics.create(registry)]
    families += [handler_class(name).metrics_class.create(registry) for name in WORKERS]
    for family in families:
        for metric in vars(family).values():
            assert not {"complaint_id", "customer", "customer_token"} & set(metric._labelnames)
