"""A worker whose consumer is left out of its group joins again (real broker and database)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from kafka import KafkaAdminClient
from kafka.structs import MemberState

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


@pytest.fixture
def intake_runner(cf, runner_factory) -> WorkerRunner:
    """An intake worker running in this process, so the test can reach its consumer."""
    return runner_factory(Intake, cf)


def _registers_after(
    cf, runner: WorkerRunner, stuck: Callable[[], bool], *, replaced_within: float
) -> None:
    """Given a working member, When `stuck` keeps it so until its consumer is replaced (within
    `replaced_within` seconds), Then work goes on: the next complaint is registered and both
    offsets are committed."""
    producer = kf.producer(cf, client_id="test-feed")
    admin = KafkaAdminClient(**cf.kafka("test-admin").as_dict())
    registered = TopicReader(cf, "complaints.registered.v1")
    try:
        wait_for(lambda: runner._ready, what="intake ready")
        send_raw(producer, cf, new_complaint("M-1", "m1", "billing", "账单错误").encode())
        producer.flush()
        wait_for(lambda: len(registered.poll()) == 1, what="first complaint registered")
        wait_for(lambda: _committed(cf, admin) == 1, what="first offset committed")

        wait_for(stuck, timeout=replaced_within, what="a new consumer")
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
        producer.close()
        admin.close()
        registered.close()


def test_a_member_whose_join_was_dropped_is_replaced_at_once(cf, intake_runner):
    runner = intake_runner
    stuck = None

    def join_dropped_until_replaced() -> bool:
        """What the client does on its own when a join outlives the poll that sent it:
        "rebalancing", though it wants no join, so none is ever taken up."""
        nonlocal stuck
        if stuck is None:
            stuck = runner.consumer
        if runner.consumer is not stuck:
            return True
        coordinator = stuck._coordinator
        with coordinator._lock:
            coordinator.state = MemberState.REBALANCING
            coordinator.rejoin_needed = False
        return False

    # The grace for members merely out of a stable group (60 s) is left as it is: replaced
    # well within it, the member was recognised as one whose join was dropped.
    _registers_after(cf, runner, join_dropped_until_replaced, replaced_within=20)


def test_a_member_out_of_a_stable_group_too_long_is_replaced(cf, intake_runner, monkeypatch):
    monkeypatch.setattr(worker_module, "MEMBERSHIP_GRACE_S", 2.0)
    runner = intake_runner
    stuck = None

    def join_never_completes_until_replaced() -> bool:
        """A member that wants a join the coordinator never completes."""
        nonlocal stuck
        if stuck is None:
            stuck = runner.consumer
            monkeypatch.setattr(stuck._coordinator, "ensure_active_group", lambda **_: False)
        if runner.consumer is not stuck:
            return True
        coordinator = stuck._coordinator
        with coordinator._lock:
            coordinator.state = MemberState.REBALANCING
            coordinator.rejoin_needed = True
        return False

    _registers_after(cf, runner, join_never_completes_until_replaced, replaced_within=40)
