"""The SLA timer against the real database, driven by an injected clock (no sleeping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from schemas.common import Priority, Status
from schemas.envelope import CloudEvent, encode
from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.notifications import Audience, NotificationOutcome, Outcome
from schemas.registry import LIFECYCLE, NOTIFICATIONS, ROUTED
from schemas.routed import RoutedComplaint
from services.kernel.clock import FrozenClock
from services.kernel.db import migrate
from services.kernel.handler import Record, Rejected
from services.sla_timer.app import SOON_BATCH, SOON_S, SlaTimer

pytestmark = pytest.mark.integration
MON = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)  # Monday 09:00 in London (GMT)
_offsets = iter(range(1, 10_000))


def record(spec, model) -> Record:
    offset = next(_offsets)
    ce = CloudEvent(id=f"ce-{offset}", type=spec.ce_type, source="/test", time=MON)
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


def routed(
    cid: str,
    priority: Priority,
    at: datetime,
    *,
    version: int = 1,
    department: str = "quality",
    source: str = "london-cc",
) -> Record:
    return record(
        ROUTED,
        RoutedComplaint(
            complaint_id=cid,
            source=source,
            version=version,
            category="billing",
            department=department,
            queue="q",
            priority=priority,
            sla_policy=f"standard-{priority.value}",
            reasons=["test"],
            occurred_at=at,
            routed_at=at,
        ),
    )


def status(cid: str, value: Status, at: datetime) -> Record:
    return record(
        LIFECYCLE,
        LifecycleEvent(
            complaint_id=cid,
            kind=LifecycleKind.STATUS,
            source="london-cc",
            source_event_id=f"{cid}-{value}-{at.isoformat()}",
            occurred_at=at,
            recorded_at=at,
            channel="phone",
            status=value,
        ),
    )


def new_timer(cf, clock: FrozenClock, conn: psycopg.Connection) -> SlaTimer:
    handler = SlaTimer(cf, CollectorRegistry(), clock)
    migrate(conn, handler.schema, handler.migrations)
    handler.start(conn)
    handler.assigned({2}, conn)
    return handler


def events(emits, target: str = "resolve") -> list[tuple[str, object]]:
    out = []
    for e in emits:
        if e.value.target.value == target:
            out.append((e.value.kind.value, e.value.threshold_pct or e.value.level))
    return out


def test_p1_round_the_clock_warn_breach_escalate(cf):
    clock = FrozenClock(MON)
    with psycopg.connect(cf.db_url()) as conn:
        timer = new_timer(cf, clock, conn)
        # Given a P1 complaint routed now (4 h, 24x7, escalation starts at the team lead)
        started = timer.handle(routed("c1", Priority.P1, MON), conn)
        assert {e.value.target.value for e in started} == {
            "acknowledge",
            "resolve",
            "keep_informed",
        }
        resolve = next(e.value for e in started if e.value.target.value == "resolve")
        assert resolve.deadline == MON + timedelta(hours=4)
        # When 2 h pass, Then the 50% warning of resolve
        clock.advance(timedelta(hours=2))
        assert ("warning", 50) in events(timer.tick(conn))
        # When the deadline passes by 0.3 s, Then the breach, 0.3 s late (stale warnings dropped)
        clock.advance(timedelta(hours=2, seconds=0.3))
        fired = list(timer.tick(conn))
        assert events(fired) == [("breached", None), ("escalated", 2)]
        breach = next(
            e.value
            for e in fired
            if e.value.kind.value == "breached" and e.value.target.value == "resolve"
        )
        assert breach.late_by_seconds == pytest.approx(0.3)
        # And later levels follow on the wall clock, each once
        clock.advance(timedelta(hours=3))
        levels = [lvl for kind, lvl in events(timer.tick(conn)) if kind == "escalated"]
        assert levels == [3, 4, 5]
        clock.advance(timedelta(days=3))
        assert events(timer.tick(conn)) == []


def test_p3_counts_business_hours_only(cf):
    friday = datetime(2026, 3, 13, 16, 0, tzinfo=UTC)
    clock = FrozenClock(friday)
    with psycopg.connect(cf.db_url()) as conn:
        timer = new_timer(cf, clock, conn)
        started = timer.handle(routed("c2", Priority.P3, friday), conn)
        ack = next(e.value for e in started if e.value.target.value == "acknowledge")
        # 4 business hours from Friday 16:00 in London: 1.5 h on Friday, 2.5 h on Monday
        assert ack.deadline == datetime(2026, 3, 16, 11, 30, tzinfo=UTC)
        clock.advance(timedelta(days=2))  # the weekend: nothing falls due
        assert list(timer.tick(conn)) == []
        acked = timer.handle(status("c2", Status.ACKNOWLEDGED, clock.now()), conn)
        assert ("met", None) in events(acked, "acknowledge")


def test_waiting_pauses_resolution_and_answer_resumes(cf):
    clock = FrozenClock(MON)
    with psycopg.connect(cf.db_url()) as conn:
        timer = new_timer(cf, clock, conn)
        timer.handle(routed("c3", Priority.P1, MON), conn)
        clock.advance(timedelta(hours=1))
        paused = timer.handle(status("c3", Status.WAITING_ON_CUSTOMER, clock.now()), conn)
        assert ("paused", None) in events(paused)
        clock.advance(timedelta(hours=10))  # far past the deadline, but paused
        assert events(list(timer.tick(conn))) == []
        resumed = timer.handle(status("c3", Status.IN_PROGRESS, clock.now()), conn)
        back = next(e.value for e in resumed if e.value.kind.value == "resumed")
        assert back.deadline == clock.now() + timedelta(hours=3)
        clock.advance(timedelta(minutes=30))
        done = timer.handle(status("c3", Status.RESOLVED, clock.now()), conn)
        met = next(
            e.value
            for e in done
            if e.value.kind.value == "met" and e.value.target.value == "resolve"
        )
        assert met.elapsed_seconds == pytest.approx(1.5 * 3600)
        # And the follow-up survey clock starts at the resolution, and the survey meets it
        assert ("started", None) in events(done, "follow_up")
        clock.advance(timedelta(hours=2))
        survey = LifecycleEvent(
            complaint_id="c3",
            kind=LifecycleKind.SURVEY_ANSWERED,
            source="london-cc",
            source_event_id="c3-survey",
            occurred_at=clock.now(),
            recorded_at=clock.now(),
            channel="phone",
            score=4,
        )
        assert ("met", None) in events(timer.handle(record(LIFECYCLE, survey), conn), "follow_up")
        clock.advance(timedelta(days=30))
        assert events(list(timer.tick(conn))) == []  # resolve is over: nothing more


def test_priority_change_keeps_time_used_and_reopen_starts_again(cf):
    clock = FrozenClock(MON)
    with psycopg.connect(cf.db_url()) as conn:
        timer = new_timer(cf, clock, conn)
        timer.handle(routed("c4", Priority.P1, MON), conn)
        clock.advance(timedelta(hours=1))
        moved = timer.handle(routed("c4", Priority.P1, MON, version=2, department="finance"), conn)
        resolve = next(e.value for e in moved if e.value.target.value == "resolve")
        assert resolve.department == "finance" and resolve.deadline == MON + timedelta(hours=4)
        clock.advance(timedelta(minutes=30))
        timer.handle(status("c4", Status.RESOLVED, clock.now()), conn)
        clock.advance(timedelta(hours=1))
        reopened = timer.handle(status("c4", Status.REOPENED, clock.now()), conn)
        again = next(e.value for e in reopened if e.value.target.value == "resolve")
        assert again.kind.value == "started"
        assert again.deadline == clock.now() + timedelta(hours=4)
        assert ("cancelled", None) in events(reopened, "follow_up")


def test_a_deadline_passed_while_down_fires_late_once_after_restart(cf):
    clock = FrozenClock(MON)
    with psycopg.connect(cf.db_url()) as conn:
        first = new_timer(cf, clock, conn)
        first.handle(routed("c5", Priority.P1, MON), conn)
        conn.commit()
    clock.advance(timedelta(hours=4, minutes=5))  # no instance runs through the deadline
    with psycopg.connect(cf.db_url()) as conn:
        second = new_timer(cf, clock, conn)
        fired = list(second.tick(conn))
        conn.commit()
        breach = [
            e.value
            for e in fired
            if e.value.kind.value == "breached" and e.value.target.value == "resolve"
        ]
        assert len(breach) == 1 and breach[0].late_by_seconds == pytest.approx(300)
        assert ("warning", 50) not in events(fired)  # stale warnings are dropped
    with psycopg.connect(cf.db_url()) as conn:
        third = new_timer(cf, clock, conn)
        assert "breached" not in [kind for kind, _ in events(third.tick(conn))]


def test_a_breach_whose_transaction_rolls_back_fires_again(cf):
    clock = FrozenClock(MON)
    with psycopg.connect(cf.db_url()) as conn:
        timer = new_timer(cf, clock, conn)
        timer.handle(routed("c9", Priority.P1, MON), conn)
        conn.commit()
        clock.advance(timedelta(hours=4, seconds=1))
        # Given a breach fired in a transaction that then rolls back (the broker did not ack)
        timer.hooks.begin()
        first = events(timer.tick(conn))
        conn.rollback()
        timer.hooks.rolled_back()
        assert ("breached", None) in first
        # Then the next pass fires it again: it was never lost from the due queue
        timer.hooks.begin()
        again = events(timer.tick(conn))
        conn.commit()
        timer.hooks.committed()
        assert again == first
        # And once it committed, it is not fired a third time
        assert ("breached", None) not in events(timer.tick(conn))


def test_one_poll_applies_each_complaints_events_in_order_as_one_set(cf):
    clock = FrozenClock(MON)
    with psycopg.connect(cf.db_url()) as conn:
        timer = new_timer(cf, clock, conn)
        broken = Record(
            spec=LIFECYCLE,
            topic=LIFECYCLE.name,
            partition=2,
            offset=next(_offsets),
            key=b"k",
            value=b"{not json",
            headers=CloudEvent(id="ce-broken", type="t", source="/test", time=MON).headers(),
            timestamp_ms=0,
        )
        # Given one poll carrying a status before its routing decision, the decision, and
        # the complaint's later events, beside another complaint and a broken record
        poll = [
            status("c20", Status.ACKNOWLEDGED, MON),
            routed("c20", Priority.P1, MON),
            routed("c21", Priority.P1, MON),
            broken,
            status("c20", Status.WAITING_ON_CUSTOMER, MON + timedelta(minutes=5)),
            status("c21", Status.RESOLVED, MON + timedelta(minutes=6)),
        ]
        # When it is handled as one set
        out = list(timer.handle_batch(poll, conn))
        # Then the broken record alone is refused, with its reason
        refused = [r for r in out if isinstance(r, Rejected)]
        assert [(r.record.offset, r.error.reason) for r in refused] == [
            (broken.offset, "schema_violation")
        ]
        # And each complaint's events were applied in order, each seeing the one before
        kinds = [
            (e.value.complaint_id, e.value.target.value, e.value.kind.value)
            for e in out
            if not isinstance(e, Rejected)
        ]
        assert ("c20", "acknowledge", "started") not in kinds  # acknowledged before routing
        assert ("c20", "resolve", "paused") in kinds
        assert ("c21", "resolve", "met") in kinds and ("c21", "follow_up", "started") in kinds
        # And the rows hold the final state of every timer, each written once
        rows = {
            (cid, target): state
            for cid, target, state in conn.execute(
                "SELECT complaint_id, target, state FROM sla_timer.timers"
                " WHERE complaint_id IN ('c20', 'c21')"
            )
        }
        assert rows[("c20", "acknowledge")] == "met"
        assert rows[("c20", "resolve")] == "paused"
        assert rows[("c21", "resolve")] == "met"
        assert rows[("c21", "follow_up")] == "active"
        # And only live steps are due: the paused resolve clock waits for the customer
        clock.advance(timedelta(hours=5))
        fired = {(e.value.complaint_id, e.value.target.value) for e in timer.tick(conn)}
        assert ("c20", "resolve") not in fired and ("c21", "resolve") not in fired


def test_polls_are_small_while_a_step_falls_due_soon(cf):
    clock = FrozenClock(MON)
    with psycopg.connect(cf.db_url()) as conn:
        timer = new_timer(cf, clock, conn)
        # Given nothing due: polls as large as the setting allows
        assert timer.batch_limit() is None
        timer.handle(routed("c30", Priority.P1, MON), conn)
        conn.commit()
        first = timer.queue.next_due()
        assert first is not None and timer.batch_limit() is None  # minutes away
        # When the first step is a second away, Then polls are small until it has fired
        clock.advance(timedelta(seconds=first - clock.now().timestamp() - 1))
        assert timer.batch_limit() == SOON_BATCH
        clock.advance(timedelta(seconds=2))
        list(timer.tick(conn))
        conn.commit()
        following = timer.queue.next_due()
        assert following is not None and following > clock.now().timestamp() + SOON_S
        assert timer.batch_limit() is None


def test_firings_of_an_imported_complaint_are_marked_historical(cf):
    # Given a P1 complaint from nine months ago, imported now, and one from today
    clock = FrozenClock(MON)
    long_ago = MON - timedelta(days=270)
    with psycopg.connect(cf.db_url()) as conn:
        timer = new_timer(cf, clock, conn)
        timer.handle(routed("old", Priority.P1, long_ago), conn)
        timer.handle(routed("new", Priority.P1, MON), conn)
        # When its breach and every escalation level fire at once, and today's complaint breaches
        clock.advance(timedelta(hours=4, seconds=1))
        fired = [e.value for e in timer.tick(conn) if e.value.target.value == "resolve"]
    old = [e for e in fired if e.complaint_id == "old"]
    new = [e for e in fired if e.complaint_id == "new"]
    # Then the old firings say they are history; today's do not
    assert {e.kind.value for e in old} == {"breached", "escalated"} and len(old) == 5
    assert all(e.historical for e in old)
    assert [e.kind.value for e in new] == ["breached", "escalated"]
    assert not any(e.historical for e in new)


def survey(cid: str, outcome: Outcome, at: datetime, kind: str = "survey") -> Record:
    return record(
        NOTIFICATIONS,
        NotificationOutcome(
            notification_key=f"{cid}:{kind}",
            complaint_id=cid,
            kind=kind,
            audience=Audience.CUSTOMER,
            recipient=f"tok-{cid}",
            channel="email",
            language="en",
            outcome=outcome,
            attempts=1,
            at=at,
        ),
    )


def test_the_follow_up_is_met_by_the_survey_sent_whether_or_not_it_is_answered(cf):
    clock = FrozenClock(MON)
    with psycopg.connect(cf.db_url()) as conn:
        timer = new_timer(cf, clock, conn)
        # Given two P1 complaints resolved now: their follow-up clocks start
        for cid in ("f1", "f2"):
            timer.handle(routed(cid, Priority.P1, MON), conn)
            started = timer.handle(status(cid, Status.RESOLVED, MON), conn)
            assert ("started", None) in events(started, "follow_up")
        # When f1's survey is queued (nothing yet), then sent; other notices change nothing
        clock.advance(timedelta(hours=1))
        assert events(timer.handle(survey("f1", Outcome.QUEUED, clock.now()), conn)) == []
        assert timer.handle(survey("f2", Outcome.SENT, clock.now(), kind="resolution"), conn) == []
        sent = timer.handle(survey("f1", Outcome.SENT, clock.now()), conn)
        # Then f1's follow-up is met by the sending: the customer need not answer
        assert events(sent, "follow_up") == [("met", None)]
        # When the follow-up deadline passes by a week with no answer and no survey for f2
        clock.advance(timedelta(days=7))
        fired = list(timer.tick(conn))
        # Then f1 has nothing more to say; f2, whose survey never went out, is breached for its
        # owner, and nobody higher up hears of it
        assert [e.value.complaint_id for e in fired if e.value.target.value == "follow_up"] == [
            "f2"
        ] * len(events(fired, "follow_up"))
        assert ("breached", None) in events(fired, "follow_up")
        assert not [k for k, _ in events(fired, "follow_up") if k == "escalated"]
        clock.advance(timedelta(days=30))
        assert events(timer.tick(conn), "follow_up") == []
        # And a late answer from f1 changes nothing
        late = timer.handle(
            record(
                LIFECYCLE,
                LifecycleEvent(
                    complaint_id="f1",
                    kind=LifecycleKind.SURVEY_ANSWERED,
                    source="london-cc",
                    source_event_id="f1",
                    occurred_at=clock.now(),
                    recorded_at=clock.now(),
                    channel="web",
                    score=4,
                ),
            ),
            conn,
        )
        assert events(late, "follow_up") == []


def lifecycle(cid: str, kind: LifecycleKind, at: datetime, **fields: object) -> Record:
    return record(
        LIFECYCLE,
        LifecycleEvent(
            complaint_id=cid,
            kind=kind,
            source="london-cc",
            source_event_id=f"{cid}-{kind}-{at.isoformat()}",
            occurred_at=at,
            recorded_at=at,
            channel="phone",
            **fields,
        ),
    )


def only(emits, kind: str, target: str):
    found = [
        e.value for e in emits if e.value.kind.value == kind and e.value.target.value == target
    ]
    assert len(found) == 1, found
    return found[0]


def test_an_imported_history_is_clocked_as_it_happened(cf):
    # Given a P1 complaint of a year ago (24x7: acknowledge 15 min, keep informed hourly,
    # resolve 4 h) imported now, the real clock firing every passed deadline between its events
    clock = FrozenClock(MON)
    t0 = MON - timedelta(days=365)
    cid = "hist"
    with psycopg.connect(cf.db_url()) as conn:
        timer = new_timer(cf, clock, conn)

        def read(rec: Record) -> list:
            out = list(timer.handle(rec, conn))
            clock.advance(timedelta(seconds=1))
            fired = list(timer.tick(conn))
            assert all(e.value.historical for e in fired if e.value.kind.value == "breached")
            return out

        read(routed(cid, Priority.P1, t0))
        # When its agent acknowledged it after 10 min, asked the customer at 1 h, promised a
        # callback at 1 h 30 for 3 h, heard back at 2 h 30 and resolved it at 5 h
        acked = read(status(cid, Status.ACKNOWLEDGED, t0 + timedelta(minutes=10)))
        paused = read(status(cid, Status.WAITING_ON_CUSTOMER, t0 + timedelta(hours=1)))
        promised = read(
            lifecycle(
                cid,
                LifecycleKind.CALLBACK_PROMISED,
                t0 + timedelta(hours=1, minutes=30),
                due_at=t0 + timedelta(hours=3),
            )
        )
        resumed = read(status(cid, Status.IN_PROGRESS, t0 + timedelta(hours=2, minutes=30)))
        resolved = read(status(cid, Status.RESOLVED, t0 + timedelta(hours=5)))
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT target, state, started_at, used_seconds, deadline FROM sla_timer.timers"
                " WHERE complaint_id = %s",
                (cid,),
            ).fetchall()
        }
    # Then every clock counted the time of then, although each had breached (historically)
    # before the event that stopped or paused it was read
    assert only(acked, "met", "acknowledge").elapsed_seconds == 600
    assert only(acked, "met", "keep_informed").elapsed_seconds == 600
    assert only(paused, "paused", "resolve").deadline == t0 + timedelta(hours=4)
    assert only(paused, "met", "keep_informed").elapsed_seconds == 50 * 60
    assert only(promised, "started", "callback").deadline == t0 + timedelta(hours=3)
    # The resolve clock stood still while the customer was asked: 1 h used, 3 h left
    assert only(resumed, "resumed", "resolve").deadline == t0 + timedelta(hours=5, minutes=30)
    assert only(resumed, "met", "callback").elapsed_seconds == 3600
    met = only(resolved, "met", "resolve")
    assert met.elapsed_seconds == 3.5 * 3600
    assert met.occurred_at == t0 + timedelta(hours=5) and met.emitted_at > MON
    assert met.deadline == t0 + timedelta(hours=5, minutes=30)
    # And each target is met when it was, on or before its deadline of then
    for target, at in (
        ("acknowledge", t0 + timedelta(minutes=10)),
        ("callback", t0 + timedelta(hours=2, minutes=30)),
        ("resolve", t0 + timedelta(hours=5)),
    ):
        state, met_at, _, deadline = rows[target]
        assert (state, met_at) == ("met", at) and met_at <= deadline, target
    assert rows["resolve"][2] == 3.5 * 3600
    # But the customer went 2 h 30 without news before the resolution: keep-informed was late
    state, met_at, _, deadline = rows["keep_informed"]
    assert met_at == t0 + timedelta(hours=5) and deadline == t0 + timedelta(hours=3, minutes=30)


def test_an_event_read_late_counts_from_the_clock_it_finds(cf):
    # Given a P1 complaint paused at 1 h
    clock = FrozenClock(MON)
    with psycopg.connect(cf.db_url()) as conn:
        timer = new_timer(cf, clock, conn)
        timer.handle(routed("late", Priority.P1, MON), conn)
        clock.advance(timedelta(hours=1))
        timer.handle(status("late", Status.WAITING_ON_CUSTOMER, clock.now()), conn)
        clock.advance(timedelta(hours=1))
        # When a contact that happened before the pause is read now (a late event)
        early = timer.handle(
            lifecycle("late", LifecycleKind.CONTACT, MON + timedelta(minutes=30)), conn
        )
        # Then the clock stays paused: the customer answered nothing asked yet
        assert events(early) == []
        # And the answer at 2 h resumes it then, 3 h left
        back = timer.handle(status("late", Status.IN_PROGRESS, clock.now()), conn)
        assert only(back, "resumed", "resolve").deadline == MON + timedelta(hours=5)
        # And an event stamped in the future counts now
        clock.advance(timedelta(minutes=30))
        done = timer.handle(status("late", Status.RESOLVED, clock.now() + timedelta(hours=1)), conn)
        assert only(done, "met", "resolve").elapsed_seconds == 1.5 * 3600


def test_a_status_read_before_the_routing_decision_is_judged_when_it_comes(cf):
    # Given complaints whose acknowledgement (and one's resolution) were read before routing
    clock = FrozenClock(MON + timedelta(hours=2))
    with psycopg.connect(cf.db_url()) as conn:
        timer = new_timer(cf, clock, conn)
        assert (
            timer.handle(status("early", Status.ACKNOWLEDGED, MON + timedelta(minutes=5)), conn)
            == []
        )
        timer.handle(status("early", Status.ASSIGNED, MON + timedelta(minutes=8)), conn)
        timer.handle(status("slow", Status.ASSIGNED, MON + timedelta(minutes=40)), conn)
        timer.handle(status("slow", Status.RESOLVED, MON + timedelta(hours=1)), conn)
        # When their routing decisions (P1: acknowledge in 15 min, resolve in 4 h) arrive
        early = timer.handle(routed("early", Priority.P1, MON), conn)
        slow = timer.handle(routed("slow", Priority.P1, MON), conn)
    # Then each acknowledge target exists, met when the first status happened, judged against
    # the deadline of then: "early" in 5 min, on time; "slow" in 40 min, late
    ack = only(early, "met", "acknowledge")
    assert ack.elapsed_seconds == 300 and ack.deadline == MON + timedelta(minutes=15)
    assert {e.value.target.value for e in early} == {"acknowledge", "resolve", "keep_informed"}
    ack = only(slow, "met", "acknowledge")
    assert ack.elapsed_seconds == 40 * 60 and ack.deadline == MON + timedelta(minutes=15)
    done = only(slow, "met", "resolve")
    assert done.elapsed_seconds == 3600 and done.deadline == MON + timedelta(hours=4)
    # And the follow-up (the survey) is due from the resolution; no keep-informed clock starts
    assert only(slow, "started", "follow_up").occurred_at == MON + timedelta(hours=1)
    assert {e.value.target.value for e in slow} == {"acknowledge", "resolve", "follow_up"}


def test_an_imported_re_route_keeps_the_time_used_until_the_change(cf):
    # Given a P1 complaint of a year ago (a Monday, 09:00 in London), imported now
    clock = FrozenClock(MON)
    t0 = datetime(2025, 3, 17, 9, 0, tzinfo=UTC)
    with psycopg.connect(cf.db_url()) as conn:
        timer = new_timer(cf, clock, conn)
        timer.handle(routed("moved", Priority.P1, t0), conn)
        clock.advance(timedelta(seconds=1))
        timer.tick(conn)  # every deadline of then fires (historically)
        # When it was re-routed to P2 (resolve in a business day) an hour later, then
        moved = timer.handle(routed("moved", Priority.P2, t0 + timedelta(hours=1), version=2), conn)
    # Then 1 h was used then, and 7.5 business hours are left from 10:00 that Monday
    assert only(moved, "started", "resolve").deadline == t0 + timedelta(hours=8, minutes=30)
