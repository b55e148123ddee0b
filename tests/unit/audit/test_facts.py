"""What the audit reads of a raw record: the identity intake de-duplicates on, when it has one."""

from __future__ import annotations

import json

from schemas.envelope import complaint_id_for
from services.audit.facts import raw_row
from services.audit.reading import Message


def record(value: bytes | None) -> Message:
    return Message(partition=2, offset=41, key=None, value=value, headers=[])


def test_a_raw_record_is_known_by_its_source_and_event_id_as_intake_strips_them():
    # Given a record whose ids carry the spaces intake's models strip
    doc = {"source": " sh-cc ", "event_id": "ev-1 ", "complaint_ref": "R-9", "type": "x"}

    # When the audit reads it
    row = raw_row(record(json.dumps(doc).encode()))

    # Then it is known as intake knows it, with the complaint it belongs to
    assert row == (2, 41, "sh-cc", "ev-1", complaint_id_for("sh-cc", "R-9"), None)


def test_a_record_without_identity_is_kept_by_where_it_is():
    for value in (None, b"", b"\xff\xfe", b"[1, 2]", b'{"source": 5, "event_id": []}', b"{" * 5000):
        # When a record is not JSON, not an object, or names no usable ids
        row = raw_row(record(value))

        # Then only its place is known (its dead letter must name that place)
        assert row == (2, 41, None, None, None, None)


def test_ids_no_event_could_carry_are_not_an_identity():
    # Given ids far past what intake accepts, and one with a NUL
    long = {"source": "s" * 300, "event_id": "e", "complaint_ref": "r"}
    nul = {"source": "s\u0000", "event_id": "e\u0000", "complaint_ref": "r"}

    # Then the long one has none, and the NUL never reaches the database
    assert raw_row(record(json.dumps(long).encode()))[2] is None
    assert "\x00" not in "".join(str(v) for v in raw_row(record(json.dumps(nul).encode())))
