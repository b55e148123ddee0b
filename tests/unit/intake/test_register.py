"""Building registered and lifecycle events, and finding earlier complaints a customer names."""

from __future__ import annotations

import json
from datetime import UTC, datetime

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
