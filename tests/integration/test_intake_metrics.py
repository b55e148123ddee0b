"""Intake's counters move once per event, on commit: a poll that is replayed (a failed flush)
or retried record by record (a failed set-based statement) is counted once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaTimeoutError

from schemas.registry import RAW
from services.intake import store
from services.intake.app import Intake
from services.kernel.loop import WorkerRunner

pytestmark = pytest.mark.integration


class Flaky:
    """The first flush fails (after the broker took the records); then, in the replay, a
    set-based statement fails."""

    flush = 1
    batches = 0


class FlakyRunner(WorkerRunner):
    def _produce(self, out):  # type: ignore[no-untyped-def]
        super()._produce(out)
        if out and Flaky.flush > 0:
            Flaky.flush -= 1
            raise KafkaTimeoutError("flush timed out")


def counted(runner: WorkerRunner, name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in runner.registry.collect():
        for s in family.samples:
            if s.name == f"complaintflow_{name}_total":
                key = s.labels.get("reason", "")
                out[key] = out.get(key, 0) + s.value
    return out


def test_rejections_are_counted_once_whatever_is_replayed(cf, monkeypatch):
    # Given 12 invalid and 8 valid raw events, in polls that fail once at the flush and once
    # in a set-based statement (so they are retried record by record)
    real = store.first_seen

    def first_seen(conn, keys, now):  # type: ignore[no-untyped-def]
        if len(keys) > 1:
            Flaky.batches += 1
            if Flaky.batches == 2:
                raise RuntimeError("the set-based statement failed")
        return real(conn, keys, now)

    monkeypatch.setattr(store, "first_seen", first_seen)
    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    producer = KafkaProducer(**cf.kafka("metrics-test").as_dict(), acks="all")
    for i in range(20):
        doc = {
            "type": "complaint.new" if i % 5 else "complaint.teleport",
            "source": "cc",
            "event_id": f"e{i}",
            "complaint_ref": f"R{i}",
            "occurred_at": at,
            "customer": {"name": "A B"},
            "description": "no signal" if i % 2 else "",
        }
        producer.send(cf.topic(RAW.name), key=f"cc:R{i}".encode(), value=json.dumps(doc).encode())
    producer.flush()
    producer.close()
    runner = FlakyRunner(Intake, cf)
    # When intake runs until idle
    thread = threading.Thread(target=runner.run, kwargs={"until_idle": True}, daemon=True)
    thread.start()
    thread.join(timeout=180)
    assert not thread.is_alive(), "intake did not become idle"
    # Then each refused event is counted once, by reason, as are its dead letters
    assert Flaky.flush == 0 and Flaky.batches >= 2
    rejected = counted(runner, "complaints_rejected")
    assert rejected == {"unknown_type": 4, "validation": 8}
    assert counted(runner, "dead_letters") == rejected
    assert sum(counted(runner, "complaints_received").values()) == 8
