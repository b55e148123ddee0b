"""Crashes and restarts: timers fire late but once, de-duplication holds across restarts."""

from __future__ import annotations

import json
import signal
import time

import pytest

from schemas.envelope import complaint_id_for
from services.sla_timer.settings import SlaSettings
from tests.conftest import wait_for, wait_ready
from tests.e2e.test_pipeline import new_complaint, submit
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.e2e
SLA_SCALE = 5 / (72 * 3600)  # P3: 5 s to resolve, escalations 1.25 s apart after


def test_sla_timer_killed_mid_flight_breaches_late_once_after_restart(cf, worker_factory):
    cf = SlaSettings.of(cf).model_copy(update={"sla_scale": SLA_SCALE})
    timer = worker_factory("sla_timer", cf)
    wait_ready([worker_factory("intake", cf), worker_factory("routing", cf), timer])
    cid = complaint_id_for("e2e-cc", "CRASH-1")
    sla = TopicReader(cf, "complaints.sla.v1")

    def events(kind: str) -> list[dict]:
        return [
            d
            for d in (json.loads(m.value) for m in sla.poll())
            if d["complaint_id"] == cid and d["kind"] == kind and d["target"] == "resolve"
        ]

    # Given a started SLA timer
    submit(cf, [new_complaint("CRASH-1", "ev-c1", "billing", "账单错误")])
    wait_for(lambda: events("started"), what="SLA started")

    # When the timer worker is killed -9 and stays down past the deadline
    timer.proc.send_signal(signal.SIGKILL)
    timer.proc.wait(timeout=10)
    deadline = events("started")[0]["deadline"]
    time.sleep(5.5)
    assert not events("breached")

    # Then a new instance emits the breach at once, marked late, exactly once
    worker_factory("sla_timer", cf)
    breached = wait_for(lambda: events("breached"), timeout=60, what="late breach")
    assert breached[0]["deadline"] == deadline and breached[0]["late_by_seconds"] > 0.5
    wait_for(lambda: len(events("escalated")) >= 2, timeout=30, what="escalations")
    assert len(events("breached")) == 1
    levels = [e["level"] for e in events("escalated")]
    assert len(levels) == len(set(levels))


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

    # Then only the new complaint is registered
    wait_for(lambda: len(registered.poll()) >= 2, what="second registration")
    time.sleep(1)
    ids = [json.loads(m.value)["complaint_id"] for m in registered.poll()]
    assert sorted(ids) == sorted(
        [complaint_id_for("e2e-cc", "DUP-1"), complaint_id_for("e2e-cc", "DUP-2")]
    )
