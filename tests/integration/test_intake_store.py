"""Intake's tables on the real database: the contacts vault and its migration."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from schemas.registry import LIFECYCLE, RAW
from services.intake import store
from services.intake.app import Intake
from services.intake.migrations import MIGRATIONS
from services.kernel.clock import FrozenClock
from services.kernel.db import migrate
from services.kernel.handler import Record
from services.kernel.sealing import Sealer

pytestmark = pytest.mark.integration


def test_migration_moves_each_customer_vault_row_to_their_latest_complaint(cf):
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    with psycopg.connect(cf.db_url()) as conn:
        migrate(conn, "intake", MIGRATIONS[:2])
        for cid, token, days in (("c1", "cus_a", 0), ("c2", "cus_a", 3), ("c3", "cus_b", 1)):
            conn.execute(
                "INSERT INTO intake.complaints (complaint_id, customer_token, category,"
                " registered_at) VALUES (%s, %s, 'billing', %s)",
                (cid, token, t0 + timedelta(days=days)),
            )
        conn.execute(
            "INSERT INTO intake.vault VALUES ('cus_a', 'sealed-a', %s), ('cus_b', 'sealed-b', %s)",
            (t0, t0),
        )
        assert migrate(conn, "intake", MIGRATIONS) == 1
        rows = conn.execute(
            "SELECT complaint_id, customer_token, sealed FROM intake.contacts ORDER BY 1"
        ).fetchall()
        assert [(c, t, bytes(s)) for c, t, s in rows] == [
            ("c2", "cus_a", b"sealed-a"),
            ("c3", "cus_b", b"sealed-b"),
        ]
        assert conn.execute("SELECT to_regclass('intake.vault')").fetchone() == (None,)


def test_contacts_are_kept_per_complaint_and_the_latest_is_found(cf):
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    with psycopg.connect(cf.db_url()) as conn:
        migrate(conn, "intake", MIGRATIONS)
        store.save_contacts(
            conn, [("c1", "cus_a", b"old", t0), ("c2", "cus_a", b"new", t0 + timedelta(days=1))]
        )
        store.save_contacts(conn, [("c1", "cus_a", b"again", t0 + timedelta(days=2))])  # replay
        assert store.latest_contact(conn, "cus_a") == b"new"
        assert store.latest_contact(conn, "cus_nobody") is None
        assert conn.execute("SELECT count(*) FROM intake.contacts").fetchone() == (2,)


def test_a_held_event_that_cannot_be_opened_is_dead_lettered_not_retried_forever(cf):
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    clock = FrozenClock(t0)
    with psycopg.connect(cf.db_url()) as conn:
        intake = Intake(cf, CollectorRegistry(), clock)
        intake.reject = lambda rec, exc: exc  # type: ignore[assignment,return-value]
        migrate(conn, intake.schema, intake.migrations)
        intake.start(conn)
        intake.assigned({1}, conn)
        # Given a follow-up held under a key that is not this installation's
        store.hold(
            conn,
            [
                store.Held(
                    source="cc",
                    event_id="ev-1",
                    complaint_id="c-never",
                    topic="complaints.raw.v1",
                    partition=1,
                    offset=7,
                    sealed=Sealer(b"another-key", "held-events").seal(b"{}"),
                    held_at=t0,
                )
            ],
        )
        # When its grace runs out
        clock.advance(intake.settings.intake_orphan_grace_seconds + 1)
        rejected = list(intake.tick(conn))
        # Then it is rejected as unreadable, once, and the tick does not fail
        assert [r.reason for r in rejected] == ["unreadable_held_event"]  # type: ignore[attr-defined]
        assert conn.execute("SELECT count(*) FROM intake.pending").fetchone() == (0,)


def _raw(offset: int, doc: dict[str, object]) -> Record:
    base = {
        "source": "cc",
        "complaint_ref": "R-PII",
        "occurred_at": "2026-03-01T09:00:00+08:00",
        "channel": "phone",
        "language": "en",
    }
    return Record(
        spec=RAW,
        topic="complaints.raw.v1",
        partition=1,
        offset=offset,
        key=b"cc:R-PII",
        value=json.dumps({**base, **doc}, ensure_ascii=False).encode(),
        headers=[],
        timestamp_ms=0,
    )


def test_follow_ups_are_redacted_with_the_name_the_complaint_gave(cf):
    t0 = datetime(2026, 3, 1, 2, tzinfo=UTC)
    with psycopg.connect(cf.db_url()) as conn:
        intake = Intake(cf, CollectorRegistry(), FrozenClock(t0))
        migrate(conn, intake.schema, intake.migrations)
        intake.start(conn)
        new = {
            "type": "complaint.new",
            "event_id": "n1",
            "customer": {"name": "John Smith", "phone": "13912345678"},
            "description": "no signal",
        }
        note = {"type": "complaint.contact", "note": "JOHN  SMITH called again"}
        # Given a follow-up held before its complaint, one in the same poll, one in a later poll
        out = list(intake.handle_batch([_raw(1, {**note, "event_id": "c0"})], conn))
        out += intake.handle_batch([_raw(2, new), _raw(3, {**note, "event_id": "c1"})], conn)
        out += intake.handle_batch([_raw(4, {**note, "event_id": "c2"})], conn)
        comment = {"type": "survey.answered", "score": 1, "comment": "john smith is unhappy"}
        out += intake.handle_batch([_raw(5, {**comment, "event_id": "s1"})], conn)
        # Then none of their lifecycle events names the customer
        lifecycle = [e.value.model_dump_json() for e in out if e.topic.name == LIFECYCLE.name]
        assert len(lifecycle) == 4
        for text in lifecycle:
            assert "smith" not in text.lower() and "[name]" in text
