"""A worker whose consumer is left out of its group joins again (real broker and database)."""

from __future__ import annotations

import json
import threading

import pytest
from kafka import KafkaAdminClient
from kafka.structs import MemberState

from services.devstack.ports import free_port
from services.intake.app import Intake
from services.kernel import kafka as kf
from services.kernel import loop as worker_module
from services.kernel.loop import WorkerRunner
from services.sdk.submit import send_raw
from tests.conftest import wait_for
from tests.e2e.test_pipeline import new_complaint
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.integration


def _committed(cf, admin: KafkaAdminClient) -> int:
    group = cf.group("intake")
    offsets = admin.list_group_offsets(group).get(group, {})
    return sum(o.offset for tp, o in offsets.items() if o.offset > 0)


def test_a_member_stuck_rebalancing_is_replaced_and_work_goes_on(cf, monkeypatch):
    monkeypatch.setattr(worker_module, "MEMBERSHIP_GRACE_S", 2.0)
    cf = cf.model_copy(update={"metrics_port": free_port()})
    runner = WorkerRunner(Intake, cf)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    producer = kf.producer(cf, client_id="test-feed")
    admin = KafkaAdminClient(**cf.kafka("test-admin").as_dict())
    registered = TopicReader(cf, "complaints.registered.v1")
    try:
        wait_for(lambda: runner._ready, what="intake ready")
        send_raw(producer, cf, new_complaint("M-1", "m1", "billing", "账单错误").encode())
        producer.flush()
        wait_for(lambda: len(registered.poll()) == 1, what="first complaint registered")
        wait_for(lambda: _committed(cf, admin) == 1, what="first offset committed")
        stuck = runner.consumer

        def stuck_until_replaced() -> bool:
            """What the client does on its own, rarely: "rebalancing" with no join under way,
            for good (set again on every check, in case a join was in flight when it was set)."""
            if runner.consumer is not stuck:
                return True
            coordinator = stuck._coordinator
            with coordinator._lock:
                coordinator.state = MemberState.REBALANCING
                coordinator.rejoin_needed = False
            return False

        wait_for(stuck_until_replaced, timeout=60, what="a new consumer")
        assert runner.metrics.consumer_rejoins.labels("intake")._value.get() == 1
        wait_for(
            lambda: runner.consumer.group_metadata().state == MemberState.STABLE,
            what="stable again",
        )
        send_raw(producer, cf, new_complaint("M-2", "m2", "billing", "又错了").encode())
        producer.flush()
        wait_for(lambda: len(registered.poll()) == 2, what="second complaint registered")
        wait_for(lambda: _committed(cf, admin) == 2, what="both offsets committed")
        refs = sorted(json.loads(m.value)["external_ref"] for m in registered.messages)
        assert refs == ["M-1", "M-2"]
    finally:
        runner.stop()
        thread.join(30)
        producer.close()
        admin.close()
    assert not thread.is_alive()
