"""Two SLA timer instances share the partitions; one is killed: every breach once (per ce_id)."""

from __future__ import annotations

import json
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from services.kernel.clock import FrozenClock
from services.sla_timer.app import SlaTimer
from services.sla_timer.settings import SlaSettings
from tests.conftest import wait_for, wait_ready
from tests.e2e.test_pipeline import new_complaint, submit
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.e2e
SLA_SCALE = 1 / 72  # P3: 1 h to resolve (P2, a repeat: 20 min), far past the test's timeout


def test_breaches_exactly_once_with_two_instances_and_a_crash(cf, worker_factory, runner_factory):
    cf = SlaSettings.of(cf).model_copy(update={"sla_scale": SLA_SCALE})
    clock = FrozenClock(datetime.now(UTC))
    first = worker_factory("sla_timer", cf)
    second = runner_factory(SlaTimer, cf, clock=clock)  # its clock moves when the test says
    wait_ready([worker_factory("intake", cf), worker_factory("routing", cf), first])
    wait_for(lambda: second._ready, what="second sla_timer ready")
    sla = TopicReader(cf, "complaints.sla.v1")

    def resolve_events(kind: str) -> list[dict]:
        # Consumers de-duplicate on ce_id (a replay after a crash re-sends the same id), so
        # "exactly once" means one distinct event id per complaint, target and level.
        unique = {m.headers["ce_id"]: json.loads(m.value) for m in sla.poll()}
        return [d for d in unique.values() if d["kind"] == kind and d["target"] == "resolve"]

    # Given 24 open complaints spread over the partitions, their timers on both instances
    submit(cf, [new_complaint(f"SO-{i}", f"so-{i}", "billing", "账单错误") for i in range(24)])
    wait_for(lambda: len(resolve_events("started")) >= 24, what="24 resolve timers")

    # When one instance is killed, long before the deadlines (no breach can precede it)
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    deadlines = [datetime.fromisoformat(d["deadline"]) for d in resolve_events("started")]
    assert min(deadlines) > datetime.now(UTC) + timedelta(minutes=10)
    assert not resolve_events("breached")
    # And the survivor's clock passes them all
    breached_at = clock.advance(max(deadlines) + timedelta(minutes=1) - clock.now())

    # Then the survivor takes over the partitions and every complaint breaches exactly once,
    # all from the survivor: once the database holds the 24 breaches, their events are on the
    # topic (they are flushed before the state commits)
    with psycopg.connect(cf.db_url(), autocommit=True) as conn:
        wait_for(
            lambda: (
                conn.execute(
                    "SELECT count(*) FROM sla_timer.timers WHERE target = 'resolve'"
                    " AND state = 'breached'"
                ).fetchone()
                == (24,)
            ),
            timeout=90,
            what="24 breaches",
        )
    sla.read_to_end()
    breaches = Counter(d["complaint_id"] for d in resolve_events("breached"))
    assert len(breaches) == 24 and set(breaches.values()) == {1}
    assert {datetime.fromisoformat(d["emitted_at"]) for d in resolve_events("breached")} == {
        breached_at
    }
    # And each escalation level due by then (the owner's at the breach itself) once
    levels = Counter((d["complaint_id"], d["level"]) for d in resolve_events("escalated"))
    assert {cid for cid, level in levels if level == 1} == set(breaches)
    assert set(levels.values()) == {1}
