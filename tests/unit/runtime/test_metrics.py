"""Metrics are defined once, on an injected registry, with low-cardinality labels."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from services.runtime.metrics import Metrics


def test_metrics_on_a_fresh_registry():
    registry = CollectorRegistry()
    m = Metrics.create(registry)
    m.complaints_received.labels("phone").inc()
    m.sla_breach_lag.observe(0.2)
    text = generate_latest(registry).decode()
    assert 'complaintflow_complaints_received_total{channel="phone"} 1.0' in text
    assert "complaintflow_sla_breach_lag_seconds_bucket" in text
    # A second registry is independent: no duplicate-registration error, no shared values.
    other = CollectorRegistry()
    Metrics.create(other)
    assert 'channel="phone"' not in generate_latest(other).decode()


def test_no_label_is_a_complaint_or_customer_id():
    m = Metrics.create(CollectorRegistry())
    for metric in vars(m).values():
        assert not {"complaint_id", "customer", "customer_token"} & set(metric._labelnames)
