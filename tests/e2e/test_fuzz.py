"""Hostile input at scale, through Kafka and the HTTP API, into all six workers: every record
is accounted for by the audit, no worker stalls, and the customer data planted in it never
comes out in clear downstream."""

from __future__ import annotations

import urllib.error
import urllib.request

import psycopg
import pytest
from kafka import KafkaProducer

from schemas.registry import RAW, TOPICS
from services.audit.run import caught_up
from services.chaos.hostile import PLANTED, records
from services.commands.workers import WORKERS
from services.devstack.ports import free_port
from tests.conftest import wait_for, wait_ready
from tests.e2e.test_audit import balanced_audit
from tests.e2e.test_pipeline import metric
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.e2e

KAFKA_RECORDS = 2000
HTTP_RECORDS = 200
API_KEY = "fuzz-api-key-0123456789"
CLEAR = [
    PLANTED["name"].encode(),
    b"Quartzfield",
    PLANTED["email"].encode(),
    b"8765 4321",
    b"87654321",
    PLANTED["national_id"].encode(),
]


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={"X-API-Key": API_KEY})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.timeout(900)
def test_hostile_records_are_all_accounted_for_and_leak_nothing(cf, worker_factory, mail_catcher):
    # Given all six workers, intake's HTTP API on, follow-ups held for 5 s at most
    port = free_port()
    extra = {
        "intake": {
            "CF_INTAKE_HTTP_PORT": str(port),
            "CF_INTAKE_API_KEYS": f"*={API_KEY}",
            "CF_INTAKE_ORPHAN_GRACE_SECONDS": "5",
        },
        "notification": mail_catcher.env,
    }
    workers = [worker_factory(name, cf, **extra.get(name, {})) for name in WORKERS]
    wait_ready(workers)

    # When thousands of hostile records go onto the raw topic
    producer = KafkaProducer(
        **cf.kafka("fuzz").as_dict(), acks="all", max_request_size=4 * 1024 * 1024, linger_ms=20
    )
    for r in records(KAFKA_RECORDS, seed=15):
        producer.send(cf.topic(RAW.name), key=r.key, value=r.value)
    producer.flush()
    producer.close()
    # And hundreds more to the HTTP API
    url = f"http://127.0.0.1:{port}/v1/events"
    answers = [post(url, r.value or b"") for r in records(HTTP_RECORDS, seed=16)]

    # Then the API answered each with acceptance or a specific refusal, never an error
    assert set(answers) <= {202, 400, 411, 413, 422}, sorted(set(answers))
    accepted = answers.count(202)
    assert 0 < accepted < HTTP_RECORDS

    # And the books balance: every record applied once or dead-lettered once with a reason
    report = balanced_audit(cf, mail_catcher.folder, timeout=300)
    checked = {o.check: o.checked for o in report.outcomes}
    assert checked["raw events"] == KAFKA_RECORDS + accepted
    assert checked["dead letters"] > KAFKA_RECORDS // 2

    # And no worker stalled: all ready, all caught up, intake never rolled back a poll
    assert caught_up(cf)
    for w in workers:
        assert w.proc.poll() is None, f"{w.name} exited: {w.log.read_text()[-2000:]}"
        assert w.status("/readyz") == 200
    intake = workers[0]
    wait_for(
        lambda: metric(intake.metrics(), "complaintflow_consumer_lag") == 0,
        what="intake's consumer_lag at 0",
    )
    assert metric(intake.metrics(), "complaintflow_loop_failures_total") == 0

    # And the planted customer data is nowhere in clear downstream: topics and archive
    for spec in TOPICS.values():
        if spec.name == RAW.name:
            continue
        reader = TopicReader(cf, spec.name)
        for m in reader.read_to_end():
            seen = b"".join([m.key or b"", m.value or b"", *m.headers.values()])
            leaked = [c for c in CLEAR if c in seen]
            assert not leaked, f"{spec.name} carries {leaked}"
        reader.close()
    with psycopg.connect(cf.db_url()) as conn:
        for table, column in (
            ("analytics.events", "payload::text"),
            ("analytics.complaints", "complaints::text"),
        ):
            for clear in CLEAR:
                found = conn.execute(
                    f"SELECT count(*) FROM {table} WHERE {column} LIKE %s",
                    (f"%{clear.decode()}%",),
                ).fetchone()
                assert found == (0,), f"{table} holds {clear!r}"
