"""CloudEvents headers and deterministic ids."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from schemas import envelope
from schemas.envelope import CloudEvent, complaint_id_for, derived_event_id, uuid5


def test_complaint_id_is_deterministic_per_source_and_reference():
    assert complaint_id_for("sh-cc", "R1") == complaint_id_for("sh-cc", "R1")
    assert complaint_id_for("sh-cc", "R1") != complaint_id_for("tp-cc", "R1")
    assert complaint_id_for("sh-cc", "R1") != complaint_id_for("sh-cc", "R2")


def test_derived_event_ids_are_stable_and_distinct():
    assert derived_event_id("registered", "s", "e1") == derived_event_id("registered", "s", "e1")
    assert derived_event_id("registered", "s", "e1") != derived_event_id("lifecycle", "s", "e1")


def test_cloudevent_headers_round_trip():
    event = CloudEvent(
        id="id-1",
        type="io.complaintflow.x.v1",
        source="/complaintflow/test",
        time=datetime(2026, 3, 15, 8, 0, tzinfo=UTC),
        subject="c-1",
    )
    headers = event.headers()
    names = [k for k, _ in headers]
    for required in ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"):
        assert required in names
    assert dict(headers)["ce_specversion"] == b"1.0"
    assert CloudEvent.from_headers(headers) == event


def test_missing_headers_are_reported_as_none():
    assert CloudEvent.from_headers([("ce_id", b"x")]) is None
    assert CloudEvent.from_headers(None) is None


@pytest.mark.parametrize(
    "name",
    [
        "",
        "complaint:hz-1:A-1",
        "rejected|intake|complaints.raw.v1|3|17",
        "投诉:客户 张三",
        "x" * 500,
    ],
)
def test_fast_uuid5_equals_the_standard_library(name: str) -> None:
    assert uuid5(name) == str(uuid.uuid5(envelope._NAMESPACE, name))
    assert uuid.UUID(uuid5(name)).version == 5
