"""Crashes and restarts: timers fire late but once, de-duplication holds across restarts."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from kafka import KafkaAdminClient

from schemas.envelope import complaint_id_for
from schemas.sla import SlaEvent
from services.kernel.clock import FrozenClock
from services.sla_timer.app import SlaTimer
from services.sla_timer.settings import SlaSettings
from tests.conftest import wait_for, wait_ready
from tests.e2e.test_pipeline import new_complaint, submit
from tests.kafka_helpers import Message, TopicReader, committed_all

pytestmark = pytest.mark.e2e
SLA_SCALE = 1 / 72  # P3: 1 h to resolve (P2: 20 min), far past the test's timeout
DOWN_PAST_DEADLINE = timedelta(minutes=5)  # past the team lead, short of the manager (20 min)


def test_sla_timer_killed_mid_flight_breaches_late_once_after_restart(
    cf, worker_factory, runner_factory
):
    cf = SlaSettings.of(cf).model_copy(update={"sla_scale": SLA_SCALE})
    timer = worker_factory("sla_timer", cf)
    wait_ready([worker_factory("intake", cf), worker_factory("routing", cf), timer])
    cid = complaint_id_for("e2e-cc", "CRASH-1")
    sla = TopicReader(cf, "complaints.sla.v1")

    def resolve(kind: str, messages: list[Message]) -> list[SlaEvent]:
        events = [SlaEvent.model_validate_json(m.value) for m in messages]
        return [
            e for e in events if e.complaint_id == cid and e.kind == kind and e.target == "resolve"
        ]

    def timer_row(conn: psycopg.Connection) -> tuple | None:
        return conn.execute(
            "SELECT state, escalation_level FROM sla_timer.timers"
            " WHERE complaint_id = %s AND target = 'resolve'",
            (cid,),
        ).fetchone()

    # Given a started SLA timer, its state committed, its deadline far away (P3: an hour)
    submit(cf, [new_complaint("CRASH-1", "ev-c1", "billing", "账单错误")])
    started = wait_for(lambda: resolve("started", sla.poll()), what="SLA started")[0]
    with psycopg.connect(cf.db_url(), autocommit=True) as conn:
        wait_for(lambda: timer_row(conn), what="the timer's row")

    # When the timer worker is killed -9; no instance can have breached: the deadline lies
    # beyond the test's own timeout
    timer.proc.send_signal(signal.SIGKILL)
    timer.proc.wait(timeout=10)
    assert started.deadline > datetime.now(UTC) + timedelta(minutes=10)
    assert not resolve("breached", sla.read_to_end())

    # And a new instance starts on a clock past the deadline, as if it had been down through it
    restarted_at = started.deadline + DOWN_PAST_DEADLINE
    runner_factory(SlaTimer, cf, clock=FrozenClock(restarted_at))

    # Then it breaches at once, late by the time it was down past the deadline, exactly once,
    # with the escalation levels due by then, each once (its clock stands still: nothing more)
    with psycopg.connect(cf.db_url(), autocommit=True) as conn:
        wait_for(lambda: timer_row(conn) == ("breached", 2), what="breach and escalations")
    messages = sla.read_to_end()
    [breach] = resolve("breached", messages)
    assert breach.deadline == started.deadline and breach.emitted_at == restarted_at
    assert breach.late_by_seconds == pytest.approx(DOWN_PAST_DEADLINE.total_seconds())
    assert sorted(e.level for e in resolve("escalated", messages)) == [1, 2]
    sla.close()


def test_intake_deduplicates_across_a_restart(cf, worker_factory):
    intake = worker_factory("intake", cf)
    wait_ready([intake])
    registered = TopicReader(cf, "complaints.registered.v1")
    line = new_complaint("DUP-1", "ev-d1", "billing", "重复投诉")
    submit(cf, [line])
    wait_for(lambda: registered.poll(), what="first registration")

    # When intake restarts and the same call-center event arrives again
    intake.proc.send_signal(signal.SIGTERM)
    intake.proc.wait(timeout=30)
    worker_factory("intake", cf)
    submit(cf, [line, new_complaint("DUP-2", "ev-d2", "billing", "另一个投诉")])

    # Then once intake has taken in every raw event, only the new complaint was registered
    raw = TopicReader(cf, "complaints.raw.v1")
    admin = KafkaAdminClient(**cf.kafka("test-admin").as_dict())
    wait_for(lambda: committed_all(admin, cf.group("intake"), raw), what="raw events taken in")
    ids = [json.loads(m.value)["complaint_id"] for m in registered.read_to_end()]
    assert sorted(ids) == sorted(
        [complaint_id_for("e2e-cc", "DUP-1"), complaint_id_for("e2e-cc", "DUP-2")]
    )
    admin.close()
    raw.close()
    registered.close()
