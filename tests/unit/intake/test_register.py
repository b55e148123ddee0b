"""Building registered and lifecycle events, and finding earlier complaints a customer names."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from schemas.raw import MAX_TEXT
from services.intake import pii, register
from services.intake.validate import parse

NOW = datetime(2026, 3, 15, 2, 0, tzinfo=UTC)


def new(**over: object):
    doc = {
        "type": "complaint.new",
        "source": "sh-cc",
        "event_id": "e1",
        "complaint_ref": "R1",
        "occurred_at": "2026-03-15T09:00:00+08:00",
        "channel": "电话",
        "language": "zh-CN",
        "customer": {"name": "张伟", "phone": "13812345678", "national_id": "11010519491231002X"},
        "category": " Billing ",
        "description": "第二次投诉，上次编号 CF-7KQ2-M9XD，电话 13812345678",
    }
    doc.update(over)
    return parse(json.dumps(doc, ensure_ascii=False).encode(), now=NOW)


def test_registered_keeps_no_pii_and_normalises():
    event = new()
    reg = register.registered(event, complaint_id="c1", token="cus_x", now=NOW, repeat=None)
    dumped = reg.model_dump_json()
    for secret in ("13812345678", "张伟", "11010519491231002X"):
        assert secret not in dumped
    assert reg.category == "billing" and reg.contact_masked == "138****5678"
    assert reg.source_utc_offset == "+08:00" and reg.occurred_at.hour == 1


def test_the_place_travels_downstream_with_pii_patterns_redacted():
    # Given a complaint about a street corner whose place text also holds a phone number
    event = new(place="解放路与中山路路口 13912345678")
    # When it is registered
    reg = register.registered(event, complaint_id="c1", token="t", now=NOW, repeat=None)
    # Then the place is on the registered complaint, without the number
    assert reg.place is not None and reg.place.startswith("解放路与中山路路口")
    assert "13912345678" not in reg.place
    assert (
        register.registered(new(), complaint_id="c1", token="t", now=NOW, repeat=None).place is None
    )


@pytest.mark.parametrize(
    ("given", "archived"),
    [
        ("31.2304,121.4737", "31.230,121.474"),
        ("31.23042, 121.47368", "31.230,121.474"),
        ("-33.8688,151.2093", "-33.869,151.209"),
        ("-0.0001,0.0002", "0.000,0.000"),
    ],
)
def test_a_place_given_as_coordinates_is_kept_on_a_110_metre_grid(given, archived):
    # Given customers at one station whose phones report it metres apart
    event = new(place=given)
    # When their complaints are registered
    reg = register.registered(event, complaint_id="c1", token="t", now=NOW, repeat=None)
    # Then the place is the coordinates to three decimals: not a phone mark (the local-number
    # pattern once took `121.4737` for one), and the same place for all of them
    assert reg.place == archived


def test_coordinates_within_a_place_text_are_redacted():
    event = new(place="出口 B 31.2304,121.4737")
    reg = register.registered(event, complaint_id="c1", token="t", now=NOW, repeat=None)
    assert reg.place == "出口 B [location]"


def test_references_the_customer_names_are_found():
    assert register.mentioned_references(new()) == ["CF-7KQ2-M9XD"]
    assert register.mentioned_references(new(related_ref="R0", description="again")) == ["R0"]


def test_anonymous_customers_never_share_a_token():
    a = pii.customer_token(
        b"k", phone=None, email=None, national_id=None, name="张伟", anonymous="sh-cc:R1"
    )
    b = pii.customer_token(
        b"k", phone=None, email=None, national_id=None, name="张伟", anonymous="sh-cc:R2"
    )
    assert a != b


SECRETS = ("13912345678", "nana@example.cn", "张伟")


def test_every_free_text_field_of_a_complaint_is_redacted():
    # Given a complaint whose classification fields hold contact data and the customer's name
    event = new(
        product="张伟的宽带 13912345678",
        category="billing nana@example.cn",
        sub_category="张伟 13912345678",
        customer={"name": "张伟", "phone": "13812345678", "region": "张伟家 nana@example.cn"},
    )
    # When it is registered, Then none of them travels downstream
    dumped = register.registered(
        event, complaint_id="c1", token="t", now=NOW, repeat=None
    ).model_dump_json()
    for secret in SECRETS:
        assert secret not in dumped


def follow_up(kind: str, **fields: object):
    return new(type=kind, event_id="e2", **fields)


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("complaint.contact", {"note": "张伟 again, call 13912345678"}),
        ("complaint.status", {"status": "resolved", "root_cause": "张伟 nana@example.cn"}),
        ("complaint.status", {"status": "resolved", "corrective_action": "call 张伟"}),
        ("survey.answered", {"score": 2, "comment": "I am 张伟, 13912345678"}),
        (
            "complaint.transfer",
            {"agent": "a1", "department": "nana@example.cn", "owner": "张伟 13912345678"},
        ),
        ("complaint.transfer", {"agent": "a1", "queue": "q 13912345678", "note": "张伟"}),
        ("complaint.recategorised", {"agent": "a1", "category": "张伟", "note": "13912345678"}),
    ],
)
def test_every_free_text_field_of_a_follow_up_is_redacted_with_the_customers_name(kind, fields):
    # Given a follow-up that names the customer (known from the complaint) and contact data
    event = follow_up(kind, **fields)
    # When it becomes a lifecycle event, Then neither travels downstream
    dumped = register.lifecycle(
        event, complaint_id="c1", now=NOW, names=("张伟",)
    ).model_dump_json()
    for secret in SECRETS:
        assert secret not in dumped


def test_a_text_of_the_longest_size_travels_whole():
    text = "账单" * (MAX_TEXT // 2)
    reg = register.registered(
        new(description=text), complaint_id="c1", token="cus_x", now=NOW, repeat=None
    )
    assert reg.description == text and not reg.text_truncated


def test_a_text_that_redaction_grows_past_the_limit_is_cut_and_marked():
    # Given a note that names the customer (two letters, redacted as six) tens of thousands of times
    note = "Al " * (MAX_TEXT // 3)
    event = follow_up("complaint.contact", note=note.strip(), customer={"name": "Al"})
    done = register.lifecycle(event, complaint_id="c1", now=NOW, names=("Al",))
    # Then it is cut at the limit, and says so
    assert done.note is not None and len(done.note) == MAX_TEXT
    assert done.note.startswith("[name] [name]") and done.text_truncated
    assert not register.lifecycle(
        follow_up("complaint.contact", note="short"), complaint_id="c1", now=NOW
    ).text_truncated
