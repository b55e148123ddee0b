"""Choosing dead letters to replay, and opening their originals (no broker)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from schemas.rejected import DeadLetter
from services.commands.replay import Chosen, _opened, render
from services.kernel.sealing import Sealer, fingerprint

KEY = b"unit-test-pii-key-0123456789"
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def letter(original: bytes, **fields: object) -> DeadLetter:
    sealer = Sealer(KEY, "dead-letters")
    values: dict[str, object] = dict(
        worker="intake",
        reason="orphan_event",
        errors=["complaint X was not registered within 600s of this follow-up"],
        source_topic="complaints.raw.v1",
        source_partition=3,
        source_offset=17,
        source_event_id="sh-cc:ev-1",
        original_key_b64=base64.b64encode(b"sh-cc:R-1").decode(),
        original_value_b64=base64.b64encode(sealer.seal(original)).decode(),
        original_sealed=True,
        rejected_at=AT,
    )
    values.update(fields)
    return DeadLetter.model_validate(values)


def test_every_given_filter_must_match():
    d = letter(b"{}")
    assert Chosen().match("ce-1", d)
    assert Chosen(reasons=("orphan_event",), ids=("sh-cc:ev-1",)).match("ce-1", d)
    assert Chosen(ids=("ce-1",), since=AT).match("ce-1", d)
    assert not Chosen(reasons=("invalid_json",)).match("ce-1", d)
    assert not Chosen(topic="complaints.lifecycle.v1").match("ce-1", d)
    assert not Chosen(until=AT).match("ce-1", d)
    assert not Chosen(ids=("ce-2",)).match("ce-1", d)


def test_a_sealed_original_is_opened_with_its_key_and_key():
    r = _opened("ce-1", letter(b'{"type": "complaint.contact"}'), Sealer(KEY, "dead-letters"))
    assert r.value == b'{"type": "complaint.contact"}' and r.key == b"sh-cc:R-1"


def test_what_cannot_be_sent_whole_is_listed_with_why_and_never_its_content():
    other = b"another-key-0123456789abcdef"
    other_key = Sealer(other, "dead-letters")
    unreadable = _opened("ce-1", letter(b"secret 13912345678"), other_key)
    cut = _opened("ce-2", letter(b"x", original_truncated=True), Sealer(KEY, "dead-letters"))

    text = render([unreadable, cut], dry_run=True)

    assert unreadable.value is None and cut.value is None
    assert "Would replay 0 of 2" in text and "400 KiB" in text
    assert f"sealed under key {fingerprint(KEY)}, which is not in the key ring" in text
    assert "13912345678" not in text
