"""Validation never crashes: any bytes give a typed event or a refusal with a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.validate import parse
from services.kernel.errors import PoisonMessage

NOW = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
FIELDS = (
    "type",
    "source",
    "event_id",
    "complaint_ref",
    "occurred_at",
    "channel",
    "language",
    "customer",
    "description",
    "status",
    "due_at",
    "note",
)
TYPES = (
    "complaint.new",
    "complaint.contact",
    "complaint.status",
    "complaint.transfer",
    "complaint.recategorised",
    "callback.promised",
    "compensation.offered",
    "survey.answered",
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def base() -> dict[str, object]:
    return {
        "type": "complaint.new",
        "source": "sh-cc",
        "event_id": "e1",
        "complaint_ref": "R1",
        "occurred_at": "2026-03-15T17:59:00+08:00",
        "channel": "phone",
        "language": "en",
        "customer": {"name": "Jane Doe", "phone": "13812345678"},
        "description": "the line is down",
    }


@st.composite
def events(draw: st.DrawFn) -> bytes:
    """Plausible events with some fields replaced by anything JSON can carry."""
    doc = base()
    doc["type"] = draw(st.sampled_from(TYPES))
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        doc[name] = draw(json_values)
    return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode()


def accepted_or_refused(value: bytes) -> None:
    try:
        parse(value, now=NOW)
    except PoisonMessage as exc:
        assert exc.reason and exc.errors and all(isinstance(e, str) for e in exc.errors)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_any_bytes_are_accepted_or_refused_with_a_reason(value):
    accepted_or_refused(value)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_any_mutated_event_is_accepted_or_refused_with_a_reason(value):
    accepted_or_refused(value)
