"""Hostile input found by a probe: a record with an 800 KB key and a non-JSON value must end
as one bounded dead letter, and intake must go on registering what follows."""

from __future__ import annotations

import json

import pytest
from kafka import KafkaProducer

from schemas.registry import RAW
from tests.conftest import wait_for, wait_ready
from tests.e2e.test_pipeline import metric, new_complaint, submit
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.e2e
BROKER_LIMIT = 1024 * 1024


def test_an_800_kb_key_ends_as_a_bounded_dead_letter_and_intake_goes_on(cf, worker_factory):
    intake = worker_factory("intake", cf)
    wait_ready([intake])
    # Given a raw record with an 800 KB key and a value that is not JSON, on every partition
    producer = KafkaProducer(
        **cf.kafka("hostile").as_dict(), acks="all", max_request_size=4 * BROKER_LIMIT
    )
    for partition in range(RAW.partitions):
        producer.send(
            cf.topic(RAW.name), key=b"k" * 800_000, value=b"not json {", partition=partition
        ).get(timeout=30)
    producer.close()
    # And ordinary complaints after it
    submit(cf, [new_complaint(f"AFTER-{i}", f"a{i}", "billing", "账单错误") for i in range(12)])
    # Then every one of them is registered
    registered = TopicReader(cf, "complaints.registered.v1")
    wait_for(lambda: len(registered.poll()) >= 12, timeout=90, what="the later complaints")
    # And each hostile record is one dead letter, bounded in size, with its reason
    rejected = TopicReader(cf, "complaints.rejected.v1")
    wait_for(lambda: len(rejected.poll()) >= RAW.partitions, what="the dead letters")
    letters = rejected.poll()
    assert len(letters) == RAW.partitions
    for m in letters:
        letter = json.loads(m.value)
        assert letter["reason"] == "invalid_json" and letter["original_key_truncated"]
        assert len(m.value) + len(m.key or b"") < BROKER_LIMIT // 4
    # And the worker is ready with nothing left to do
    assert intake.status("/readyz") == 200
    wait_for(
        lambda: (
            "complaintflow_consumer_lag{" in intake.metrics()
            and metric(intake.metrics(), "complaintflow_consumer_lag") == 0
            and metric(intake.metrics(), "complaintflow_events_processed_total") >= 18
        ),
        timeout=120,
        what="consumer_lag back to 0",
    )
    assert metric(intake.metrics(), "complaintflow_loop_failures_total") == 0
