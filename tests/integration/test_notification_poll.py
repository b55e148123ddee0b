"""A whole poll is decided as its records would be one by one: the same notices, the same
outcomes, the same facts kept of each complaint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from schemas.common import Channel, Language, Priority, Status
from schemas.envelope import CloudEvent, encode
from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.registered import RegisteredComplaint
from schemas.registry import LIFECYCLE, REGISTERED, ROUTED, SLA, TopicSpec
from schemas.routed import RoutedComplaint
from schemas.sla import SlaEvent, SlaEventKind, SlaTarget
from services.kernel.clock import FrozenClock
from services.kernel.db import migrate
from services.kernel.handler import Record, Rejected
from services.notification.app import Notification

pytestmark = pytest.mark.integration
AT = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def record(spec: TopicSpec, cid: str, model: BaseModel, n: int) -> Record:
    ce = CloudEvent(id=f"ce-{cid}-{n}", type=spec.ce_type, source="/test", time=AT)
    return Record(spec, spec.name, 0, n, cid.encode(), encode(model), ce.headers(), 0)


def story(x: str, y: str) -> list[Record]:
    """A complaint routed and given its deadline before it is registered, routed again (a
    replay, then a new owner), progressed, resolved, warned, followed up; and a second one
    registered with no deadline yet."""

    def registered(cid: str) -> RegisteredComplaint:
        return RegisteredComplaint(
            complaint_id=cid,
            reference=f"CF-{cid.upper()}",
            source="test-cc",
            external_ref=cid,
            source_event_id=f"ev-{cid}",
            occurred_at=AT - timedelta(minutes=5),
            source_utc_offset="+08:00",
            registered_at=AT,
            channel=Channel.PHONE,
            language=Language.ZH_HANS,
            category="billing",
            description="话费多扣了200元",
            customer_token=f"tok-{cid}",
            contact_masked="139****5678",
            time_zone="Asia/Shanghai",
        )

    def routed(version: int, owner: str, priority: Priority = Priority.P2) -> RoutedComplaint:
        return RoutedComplaint(
            complaint_id=x,
            version=version,
            category="billing",
            department="finance",
            queue="billing",
            owner=owner,
            priority=priority,
            sla_policy=f"standard-{priority.value}",
            reasons=["test"],
            special_periods=["double-11"] if version > 1 else [],
            occurred_at=AT,
            routed_at=AT,
        )

    def sla(kind: SlaEventKind, target: str, deadline: datetime) -> SlaEvent:
        return SlaEvent(
            complaint_id=x,
            kind=kind,
            target=SlaTarget(target),
            policy="standard-P2",
            priority=Priority.P2,
            department="finance",
            deadline=deadline,
            emitted_at=AT,
        )

    def status(s: Status, n: int) -> LifecycleEvent:
        return LifecycleEvent(
            complaint_id=x,
            kind=LifecycleKind.STATUS,
            status=s,
            source="test-cc",
            source_event_id=f"ev-{x}-{n}",
            occurred_at=AT,
            recorded_at=AT,
            channel=Channel.PHONE,
        )

    models: list[tuple[TopicSpec, str, Any]] = [
        (ROUTED, x, routed(1, "en-telecom-01")),
        (SLA, x, sla(SlaEventKind.STARTED, "resolve", AT + timedelta(days=2))),
        (REGISTERED, x, registered(x)),
        (ROUTED, x, routed(1, "en-telecom-01")),
        (ROUTED, x, routed(2, "en-telecom-02", Priority.P1)),
        (LIFECYCLE, x, status(Status.IN_PROGRESS, 1)),
        (LIFECYCLE, x, status(Status.RESOLVED, 2)),
        (SLA, x, sla(SlaEventKind.WARNING, "resolve", AT + timedelta(days=2))),
        (SLA, x, sla(SlaEventKind.STARTED, "follow_up", AT + timedelta(days=3))),
        (REGISTERED, y, registered(y)),
    ]
    return [record(spec, key, m, n) for n, (spec, key, m) in enumerate(models)]


def plain(v: Any, x: str, y: str) -> Any:
    """`v` with the complaints' ids (in any case) as 'x' and 'y'."""
    if not isinstance(v, str):
        return v
    for cid, name in ((x, "x"), (y, "y")):
        v = v.replace(cid, name).replace(cid.upper(), name)
    return v


def said(out: list[Any], x: str, y: str) -> list[tuple[Any, ...]]:
    """What the outcomes say."""
    assert not any(isinstance(o, Rejected) for o in out)
    return [
        tuple(plain(v, x, y) for v in o.value.model_dump(exclude={"complaint_id"}).values())
        for o in out
    ]


def kept(conn: psycopg.Connection, x: str, y: str) -> list[tuple[Any, ...]]:
    """What is known of the two complaints (every column)."""
    rows = conn.execute(
        "SELECT * FROM notification.complaints WHERE complaint_id = ANY(%s) ORDER BY"
        " complaint_id = %s DESC",
        ([x, y], x),
    ).fetchall()
    return [tuple(plain(v, x, y) for v in r) for r in rows]


def test_a_poll_tells_what_its_records_would_one_by_one(cf):
    with psycopg.connect(cf.db_url()) as conn:
        notify = Notification(cf, CollectorRegistry(), FrozenClock(AT))
        migrate(conn, notify.schema, notify.migrations)
        # Given the same story of two complaints, told once a record at a time
        one_by_one: list[Any] = []
        for rec in story("a1", "a2"):
            one_by_one += notify.handle_batch([rec], conn)
            conn.commit()
        # When it is told again of two other complaints in a single poll
        at_once = list(notify.handle_batch(story("b1", "b2"), conn))
        conn.commit()
        # Then the same notices went out, with the same outcomes
        assert said(at_once, "b1", "b2") == said(one_by_one, "a1", "a2")
        kinds = {o.value.kind for o in at_once}
        assert {"acknowledgement", "assigned", "progress", "resolution", "survey"} <= kinds
        # And the same is known of each complaint
        assert kept(conn, "b1", "b2") == kept(conn, "a1", "a2")
        # And the outbox holds the same notices
        assert (
            conn.execute(
                "SELECT count(*) FROM notification.outbox WHERE complaint_id IN ('b1', 'b2')"
            ).fetchone()
            == conn.execute(
                "SELECT count(*) FROM notification.outbox WHERE complaint_id IN ('a1', 'a2')"
            ).fetchone()
        )


def test_staff_notices_of_a_decision_read_before_the_registration_name_its_reference_once(cf):
    with psycopg.connect(cf.db_url()) as conn:
        notify = Notification(cf, CollectorRegistry(), FrozenClock(AT))
        migrate(conn, notify.schema, notify.migrations)
        records = story("d1", "d2")

        def staff() -> list[tuple[str, str, str]]:
            return conn.execute(
                "SELECT kind, recipient, subject FROM notification.outbox"
                " WHERE complaint_id = 'd1' AND audience = 'staff' ORDER BY 1, 2, 3"
            ).fetchall()

        # Given the complaint's routing decision read before its registration
        notify.handle_batch(records[:1], conn)
        conn.commit()
        # Then nobody is told yet: the notice would name the complaint by its id
        assert staff() == []
        # When the registration and the rest come
        notify.handle_batch(records[1:], conn)
        conn.commit()
        told = staff()
        # Then each owner hears of the assignment, management of the P1, by the reference
        # (the second owner is not in the roster: recorded dead, naming whom it was for)
        assigned = {r for k, r, _ in told if k == "assigned"}
        assert assigned == {"en-telecom-01", "nobody:owner 'en-telecom-02'"}
        assert any(k == "management_alert" for k, _, _ in told)
        assert all("CF-D1" in subject for _, _, subject in told), told
        # And a replay of it all tells nobody anything again
        assert said(list(notify.handle_batch(records, conn)), "d1", "d2") == []
        conn.commit()
        assert staff() == told
