"""Validation of raw events: every refusal names its reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from schemas.raw import NewComplaint, StatusChange
from services.intake.validate import MAX_EVENT_BYTES, parse
from services.kernel.errors import PoisonMessage

NOW = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)


def event(**over: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "type": "complaint.new",
        "source": "sh-cc",
        "event_id": "e1",
        "complaint_ref": "R1",
        "occurred_at": "2026-03-15T17:59:00+08:00",
        "channel": "微信",
        "language": "zh-CN",
        "customer": {"name": "张伟", "phone": "13812345678"},
        "description": "  网络断了  ",
    }
    doc.update(over)
    return doc


def refuse(value: bytes) -> PoisonMessage:
    with pytest.raises(PoisonMessage) as info:
        parse(value, now=NOW)
    return info.value


def test_a_valid_new_complaint_parses_with_its_offset_kept():
    parsed = parse(json.dumps(event()).encode(), now=NOW)
    assert isinstance(parsed, NewComplaint)
    assert parsed.occurred_at.utcoffset() == timedelta(hours=8)
    assert parsed.description == "网络断了"


def test_a_place_is_kept_on_one_line_with_single_spaces():
    parsed = parse(json.dumps(event(place="  Corner of King St\n &  5th ")).encode(), now=NOW)
    assert isinstance(parsed, NewComplaint)
    assert parsed.place == "Corner of King St & 5th"
    coords = parse(json.dumps(event(place="22.28, 114.16")).encode(), now=NOW)
    assert isinstance(coords, NewComplaint) and coords.place == "22.28, 114.16"


def test_a_status_change_parses():
    parsed = parse(json.dumps(event(type="complaint.status", status="resolved")).encode(), now=NOW)
    assert isinstance(parsed, StatusChange)


@pytest.mark.parametrize(
    ("value", "reason", "needle"),
    [
        (b"", "empty", "no value"),
        (b"\xff\xfe{}", "invalid_utf8", "not UTF-8"),
        (b'{"type": ', "invalid_json", "not JSON"),
        (b"[1, 2]", "invalid_json", "JSON object"),
        (json.dumps(event(type="complaint.teleport")).encode(), "unknown_type", "teleport"),
        (json.dumps(event(description="")).encode(), "validation", "description"),
        (
            json.dumps(event(occurred_at="2026-03-15T10:00:00")).encode(),
            "validation",
            "occurred_at",
        ),
        (json.dumps(event(channel="pigeon")).encode(), "validation", "pigeon"),
        (json.dumps(event(language="fr")).encode(), "validation", "fr"),
        (
            json.dumps(event(occurred_at="2026-03-16T10:00:00+00:00")).encode(),
            "future_time",
            "in the future",
        ),
        (b"{" + b" " * MAX_EVENT_BYTES + b"}", "too_large", "limit"),
        (json.dumps(event(place="95.1,10")).encode(), "validation", "off the globe"),
        (json.dumps(event(place="x" * 201)).encode(), "validation", "place"),
        (json.dumps(event(place="Gate\u0007 3")).encode(), "control_characters", "U+0007"),
    ],
)
def test_bad_input_is_refused_with_a_specific_reason(value, reason, needle):
    refused = refuse(value)
    assert refused.reason == reason
    assert any(needle in e for e in refused.errors), refused.errors


def test_every_invalid_field_is_named():
    doc = event(customer="not an object", description="")
    refused = refuse(json.dumps(doc).encode())
    text = " ".join(refused.errors)
    assert "customer" in text and "description" in text
    assert refused.event_id == "sh-cc:e1"


@pytest.mark.parametrize("escape", ["\\u0000", "\\u001b", "\\u001B", "\\u0008", "\\u000b"])
def test_escaped_control_characters_are_refused_as_control_characters(escape):
    # Given a JSON string holding an escaped control character
    value = json.dumps(event(description="x")).replace('"x"', f'"a{escape}b"').encode()
    # When it is validated, Then it is refused for that reason and the field is named
    refused = refuse(value)
    assert refused.reason == "control_characters"
    assert any("description" in e and "U+00" in e for e in refused.errors), refused.errors


def test_a_raw_control_character_is_refused_as_control_characters():
    refused = refuse(json.dumps(event()).encode().replace(b"sh-cc", b"sh\x1bcc"))
    assert refused.reason == "control_characters"
    assert any("U+001B" in e for e in refused.errors), refused.errors


@pytest.mark.parametrize("escape", ["\\u0009", "\\u000a", "\\u000D"])
def test_escaped_tab_newline_and_return_are_text(escape):
    value = json.dumps(event(description="x")).replace('"x"', f'"a{escape}b"').encode()
    assert isinstance(parse(value, now=NOW), NewComplaint)


def test_an_escaped_backslash_before_u0000_is_text_not_a_control_character():
    value = json.dumps(event(description="path C:\\u0000")).encode()
    parsed = parse(value, now=NOW)
    assert isinstance(parsed, NewComplaint) and parsed.description == "path C:\\u0000"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at"),
        ({"occurred_at": "0001-01-01T00:00:00+00:00"}, "occurred_at"),
        ({"occurred_at": "1969-12-31T23:59:59+00:00"}, "occurred_at"),
        (
            {"type": "callback.promised", "due_at": "9999-12-31T23:00:00-05:00"},
            "due_at",
        ),
        (
            {"type": "callback.promised", "due_at": "9999-12-31T23:59:59+00:00"},
            "due_at",
        ),
        (
            {"type": "callback.promised", "due_at": "2028-03-15T09:00:00+08:00"},
            "due_at",
        ),
        (
            {"type": "callback.promised", "due_at": "0001-01-01T00:00:00+14:00"},
            "due_at",
        ),
    ],
)
def test_a_time_the_workers_cannot_compute_with_is_refused(over, field):
    # Given an event whose time is outside what the workers compute with, When validated,
    # Then it is refused up front (a 202 is a promise) and the field is named
    refused = refuse(json.dumps(event(**over)).encode())
    assert refused.reason == "invalid_time"
    assert any(field in e for e in refused.errors), refused.errors


def test_a_callback_promised_within_a_year_is_accepted():
    doc = event(type="callback.promised", due_at="2026-12-31T09:00:00-05:00")
    assert parse(json.dumps(doc).encode(), now=NOW).type == "callback.promised"


@pytest.mark.parametrize(
    ("over", "secret"),
    [
        ({"channel": "jane.doe@example.com"}, "jane.doe@example.com"),
        ({"channel": "+86 139 0000 1234"}, "0000 1234"),
        ({"language": "13900001234"}, "13900001234"),
        ({"type": "jane.doe@example.com"}, "jane.doe@example.com"),
        ({"channel": "张伟"}, "张伟"),  # the customer's own name
    ],
)
def test_a_refusal_never_echoes_a_value_that_may_be_personal_data(over, secret):
    refused = refuse(json.dumps(event(**over), ensure_ascii=False).encode())
    assert secret not in " ".join(refused.errors), refused.errors
