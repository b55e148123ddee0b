"""The SLA timer's logic against the real database, driven by an injected clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from schemas.common import Priority, Status
from schemas.envelope import CloudEvent, encode
from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.registry import LIFECYCLE, ROUTED
from schemas.routed import RoutedComplaint
from services.runtime.clock import FrozenClock
from services.runtime.db import migrate
from services.runtime.metrics import Metrics
from services.runtime.worker import Record
from services.sla_timer.app import SlaTimer

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)


def record(spec, model, offset: int) -> Record:
    ce = CloudEvent(id=f"ce-{offset}", type=spec.ce_type, source="/test", time=T0)
    return Record(
        spec=spec,
        topic=spec.name,
        partition=2,
        offset=offset,
        key=b"k",
        value=encode(model),
        headers=ce.headers(),
        timestamp_ms=0,
    )


def routed(cid: str, priority: Priority = Priority.P1, version: int = 1) -> RoutedComplaint:
    return RoutedComplaint(
        complaint_id=cid,
        version=version,
        category="safety",
        department="quality",
        queue="safety",
        priority=priority,
        sla_policy=f"standard-{priority.value}",
        reasons=["test"],
        occurred_at=T0,
        routed_at=T0,
    )


def status(cid: str, value: Status, at: datetime) -> LifecycleEvent:
    return LifecycleEvent(
        complaint_id=cid,
        kind=LifecycleKind.STATUS,
        source="t",
        source_event_id=f"{cid}-{value}",
        occurred_at=at,
        recorded_at=at,
        channel="phone",
        status=value,
    )


def new_timer(cf, clock: FrozenClock, conn: psycopg.Connection) -> SlaTimer:
    handler = SlaTimer(cf, Metrics.create(CollectorRegistry()), clock)
    migrate(conn, handler.schema, handler.migrations)
    handler.start(conn)
    handler.assigned({2}, conn)
    return handler


def kinds(emits) -> list[str]:
    return [json.loads(encode(e.value))["kind"] for e in emits]


def test_breach_warning_escalation_driven_by_the_clock(cf):
    clock = FrozenClock(T0)
    with psycopg.connect(cf.db_url()) as conn:
        timer = new_timer(cf, clock, conn)
        # Given a P1 complaint routed at T0 (4 h to resolve)
        assert kinds(timer.handle(record(ROUTED, routed("c1"), 1), conn)) == ["started"]
        assert timer.next_wakeup() == pytest.approx(2 * 3600)
        # When 2 h pass, Then the 50% warning and nothing else
        clock.advance(timedelta(hours=2))
        assert kinds(timer.tick(conn)) == ["warning"]
        # When the deadline passes by 0.3 s, Then the breach, marked 0.3 s late
        clock.advance(timedelta(hours=2, seconds=0.3))
        emits = list(timer.tick(conn))
        # (the 75% and 90% warnings fell due in the same step: after the deadline they are noise)
        assert kinds(emits) == ["breached"]
        breach = emits[0].value
        assert breach.late_by_seconds == pytest.approx(0.3)
        # P1 starts escalating at the department manager, an hour after the deadline
        clock.advance(timedelta(hours=1))
        escalated = [e.value for e in timer.tick(conn)]
        assert [e.escalated_to for e in escalated] == ["department_manager"]
        conn.commit()


def test_resolution_stops_the_clock_and_wait_pauses_it(cf):
    clock = FrozenClock(T0)
    with psycopg.connect(cf.db_url()) as conn:
        timer = new_timer(cf, clock, conn)
        timer.handle(record(ROUTED, routed("c2", Priority.P3), 1), conn)
        clock.advance(timedelta(hours=10))
        paused = timer.handle(
            record(LIFECYCLE, status("c2", Status.WAITING_ON_CUSTOMER, clock.now()), 2), conn
        )
        assert kinds(paused) == ["paused"]
        clock.advance(timedelta(hours=100))  # far past the original deadline, but paused
        assert list(timer.tick(conn)) == []
        resumed = timer.handle(
            record(LIFECYCLE, status("c2", Status.IN_PROGRESS, clock.now()), 3), conn
        )
        assert kinds(resumed) == ["resumed"]
        assert resumed[0].value.deadline == clock.now() + timedelta(hours=62)
        clock.advance(timedelta(hours=1))
        met = timer.handle(record(LIFECYCLE, status("c2", Status.RESOLVED, clock.now()), 4), conn)
        assert kinds(met) == ["met"] and met[0].value.elapsed_seconds == 11 * 3600
        clock.advance(timedelta(hours=500))
        assert list(timer.tick(conn)) == []


def test_timers_survive_a_restart_and_fire_late_once(cf):
    clock = FrozenClock(T0)
    with psycopg.connect(cf.db_url()) as conn:
        first = new_timer(cf, clock, conn)
        first.handle(record(ROUTED, routed("c3", Priority.P1), 1), conn)
        conn.commit()
    # When the instance is gone for the whole deadline and a new one takes the partition
    clock.advance(timedelta(hours=4, minutes=30))
    with psycopg.connect(cf.db_url()) as conn:
        second = new_timer(cf, clock, conn)
        emits = list(second.tick(conn))
        conn.commit()
        # Then the breach fires at once, marked 30 minutes late; stale warnings are dropped
        assert kinds(emits) == ["breached"]
        assert emits[0].value.late_by_seconds == pytest.approx(1800)
    with psycopg.connect(cf.db_url()) as conn:
        third = new_timer(cf, clock, conn)
        assert list(third.tick(conn)) == []  # not emitted twice after another restart
