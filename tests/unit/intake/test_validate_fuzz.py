"""Validation never crashes: any bytes give a typed event or a refusal with a reason."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.chaos.fuzz import _kafka, events


def accepted_or_refused(value: bytes) -> None:
    assert _kafka(value) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_any_bytes_are_accepted_or_refused_with_a_reason(value):
    accepted_or_refused(value)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_any_mutated_event_is_accepted_or_refused_with_a_reason(value):
    accepted_or_refused(value)
