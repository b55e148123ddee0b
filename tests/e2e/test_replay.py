"""End to end: a dead letter replayed after its cause is gone is applied once, and replaying
it again changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from kafka import KafkaAdminClient

from schemas.registry import RAW
from services.kernel.kafka import producer
from tests.conftest import settings_env, wait_for, wait_ready
from tests.e2e.test_pipeline import new_complaint, raw
from tests.kafka_helpers import TopicReader, committed_all

pytestmark = pytest.mark.e2e


def send(cf, line: str) -> None:
    sender = producer(cf, client_id="test-replay")
    sender.send(cf.topic(RAW.name), key=b"e2e-cc:ORPH-1", value=line.encode()).get(timeout=60)
    sender.close()


def cli(cf, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.commands.cli", "dead-letters", *args],
        capture_output=True,
        text=True,
        env=settings_env(cf),
        timeout=300,
    )


def test_a_replayed_orphan_is_applied_once_however_often_it_is_replayed(cf, worker_factory):
    # Given intake, holding a follow-up for its complaint for one second only
    intake = worker_factory("intake", cf, CF_INTAKE_ORPHAN_GRACE_SECONDS="1")
    wait_ready([intake])
    rejected = TopicReader(cf, "complaints.rejected.v1")
    lifecycle = TopicReader(cf, "complaints.lifecycle.v1")
    raw_topic = TopicReader(cf, "complaints.raw.v1")
    admin = KafkaAdminClient(**cf.kafka("test-replay").as_dict())

    # When a follow-up comes and its complaint does not, it is dead-lettered as an orphan
    send(cf, raw("complaint.contact", "ORPH-1", "ev-1", note="还没人联系我"))
    letters = rejected.wait(lambda m: json.loads(m.value)["reason"] == "orphan_event")
    assert len(letters) == 1
    letter_id = letters[0].headers["ce_id"].decode()
    # And then the complaint comes
    send(cf, new_complaint("ORPH-1", "ev-2", "billing", "账单错误"))

    # When an operator lists the orphans to replay
    dry = cli(cf, "replay", "--reason", "orphan_event", "--dry-run")

    # Then the letter is listed, without its content, and nothing is sent
    assert dry.returncode == 0, dry.stderr
    assert "Would replay 1 of 1" in dry.stdout and letter_id in dry.stdout
    assert "还没人联系我" not in dry.stdout
    wait_for(lambda: committed_all(admin, cf.group("intake"), raw_topic), what="intake idle")
    assert len(raw_topic.read_to_end()) == 2

    # When it is replayed
    done = cli(cf, "replay", "--reason", "orphan_event")
    assert done.returncode == 0 and "Replayed 1 of 1" in done.stdout, done.stderr

    # Then the follow-up is applied, once, and its record names the dead letter
    def applied() -> list:
        return [m for m in lifecycle.poll() if json.loads(m.value)["source_event_id"] == "ev-1"]

    wait_for(applied, what="the replayed follow-up applied")
    replayed = raw_topic.read_to_end()[-1]
    assert replayed.headers["cf_replay_of"].decode() == letter_id

    # When it is replayed again
    again = cli(cf, "replay", "--id", letter_id)
    assert again.returncode == 0 and "Replayed 1 of 1" in again.stdout

    # Then intake takes it as the duplicate it is: still one application, no new dead letter
    wait_for(lambda: len(raw_topic.read_to_end()) == 4, what="the second replay on raw")
    wait_for(lambda: committed_all(admin, cf.group("intake"), raw_topic), what="intake idle")
    lifecycle.read_to_end()
    assert len(applied()) == 1
    assert len(rejected.read_to_end()) == 1
    admin.close()
