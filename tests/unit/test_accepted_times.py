"""A 202 is a promise: every time intake accepts, every worker can compute with."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.common import Priority
from schemas.raw import CallbackPromised, NewComplaint
from schemas.sla import SlaTarget
from services.intake import register, validate
from services.kernel.errors import PoisonMessage
from services.routing.severity import local_date
from services.sla_timer.policy_book import PolicyBook, load_default

NOW = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda m: timezone(timedelta(minutes=m))
)
# Mostly around now, sometimes anywhere a datetime can be.
instants = st.one_of(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2028, 1, 1)),
    st.datetimes(),
)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return load_default()


def iso(naive: datetime, offset: timezone) -> str:
    return naive.replace(tzinfo=offset).isoformat()


def new(occurred_at: str) -> bytes:
    return json.dumps(
        {
            "type": "complaint.new",
            "source": "shanghai-cc",
            "event_id": "e1",
            "complaint_ref": "R1",
            "occurred_at": occurred_at,
            "customer": {"name": "Jane Doe"},
            "description": "the line is down",
        }
    ).encode()


def callback(occurred_at: str, due_at: str) -> bytes:
    return json.dumps(
        {
            "type": "callback.promised",
            "source": "shanghai-cc",
            "event_id": "e2",
            "complaint_ref": "R1",
            "occurred_at": occurred_at,
            "due_at": due_at,
        }
    ).encode()


def accepted(value: bytes):  # noqa: ANN201 - the event type varies
    try:
        return validate.parse(value, now=NOW)
    except PoisonMessage:
        return None


@SETTINGS
@given(instants, offsets)
def test_an_accepted_complaint_is_registered_routed_and_timed(book, when, offset):
    event = accepted(new(iso(when, offset)))
    if event is None:
        return
    assert isinstance(event, NewComplaint)
    reg = register.registered(event, complaint_id="c1", token="t", now=NOW, repeat=None)
    local_date(reg.occurred_at, time_zone=None, utc_offset=reg.source_utc_offset)
    for priority in Priority:
        policy = book.resolve(priority)
        for target in (SlaTarget.ACKNOWLEDGE, SlaTarget.RESOLVE):
            calendar = book.calendar_for(policy, target, event.source)
            policy.plan_target(target, reg.occurred_at, calendar)
            calendar.business_time_between(reg.occurred_at, NOW)


@SETTINGS
@given(instants, offsets, instants, offsets)
def test_an_accepted_callback_is_recorded_and_timed(book, when, w_off, due, d_off):
    event = accepted(callback(iso(when, w_off), iso(due, d_off)))
    if event is None:
        return
    assert isinstance(event, CallbackPromised)
    life = register.lifecycle(event, complaint_id="c1", now=NOW)
    assert life.due_at is not None
    for priority in Priority:
        policy = book.resolve(priority)
        calendar = book.calendar_for(policy, SlaTarget.CALLBACK, event.source)
        policy.plan_target(SlaTarget.CALLBACK, NOW, calendar, due=life.due_at)
