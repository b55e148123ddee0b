"""Two SLA timer instances share the partitions; one is killed: every breach once (per ce_id)."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter

import pytest

from services.sla_timer.settings import SlaSettings
from tests.conftest import wait_for, wait_ready
from tests.e2e.test_pipeline import new_complaint, submit
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.e2e
SLA_SCALE = 6 / (72 * 3600)  # P3: 6 s to resolve


def test_breaches_exactly_once_with_two_instances_and_a_crash(cf, worker_factory):
    cf = SlaSettings.of(cf).model_copy(update={"sla_scale": SLA_SCALE})
    first, second = worker_factory("sla_timer", cf), worker_factory("sla_timer", cf)
    wait_ready([worker_factory("intake", cf), worker_factory("routing", cf), first, second])
    sla = TopicReader(cf, "complaints.sla.v1")

    def resolve_events(kind: str) -> list[dict]:
        # Consumers de-duplicate on ce_id (a replay after a crash re-sends the same id), so
        # "exactly once" means one distinct event id per complaint, target and level.
        unique = {m.headers["ce_id"]: json.loads(m.value) for m in sla.poll()}
        return [d for d in unique.values() if d["kind"] == kind and d["target"] == "resolve"]

    # Given 24 open complaints spread over the partitions, their timers on both instances
    submit(cf, [new_complaint(f"SO-{i}", f"so-{i}", "billing", "账单错误") for i in range(24)])
    wait_for(lambda: len(resolve_events("started")) >= 24, what="24 resolve timers")

    # When one instance is killed before the deadlines
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)

    # Then the survivor takes over its partitions and every complaint breaches exactly once
    wait_for(
        lambda: len({d["complaint_id"] for d in resolve_events("breached")}) >= 24,
        timeout=90,
        what="24 breaches",
    )
    time.sleep(2)
    breaches = Counter(d["complaint_id"] for d in resolve_events("breached"))
    assert len(breaches) == 24 and set(breaches.values()) == {1}
    levels = Counter((d["complaint_id"], d["level"]) for d in resolve_events("escalated"))
    assert levels and set(levels.values()) == {1}
    assert second.proc.poll() is None
