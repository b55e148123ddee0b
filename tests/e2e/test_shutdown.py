"""Stopping a worker mid-load: it finishes the poll in flight, commits, leaves its group, exits 0.

Nothing is lost or repeated: what the stopped worker committed is exactly what it produced,
and a new instance takes up from there.
"""

from __future__ import annotations

import json
import signal

import psycopg
import pytest
from kafka import KafkaAdminClient

from schemas.envelope import complaint_id_for
from tests.conftest import wait_for, wait_ready
from tests.e2e.test_pipeline import new_complaint, submit
from tests.kafka_helpers import TopicReader, committed_all

pytestmark = pytest.mark.e2e
COMPLAINTS = 3000
BATCH = 20
"""Small polls: many transactions, so the signal lands while records are still waiting."""
STOP_AFTER = 60
"""Registered complaints seen before the signal is sent."""


def committed(admin: KafkaAdminClient, group: str) -> int:
    offsets = admin.list_group_offsets(group).get(group, {})
    return sum(o.offset for o in offsets.values() if o.offset > 0)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_signalled_worker_commits_what_it_did_and_leaves_its_group(cf, worker_factory, sig):
    intake = worker_factory("intake", cf, CF_MAX_BATCH=str(BATCH))
    wait_ready([intake])
    refs = [f"STOP-{i}" for i in range(COMPLAINTS)]
    registered = TopicReader(cf, "complaints.registered.v1")
    admin = KafkaAdminClient(**cf.kafka("test-admin").as_dict())
    group = cf.group("intake")

    # Given intake working through a load of complaints
    submit(cf, [new_complaint(ref, f"ev-{ref}", "billing", "账单错误") for ref in refs])
    wait_for(lambda: len(registered.poll()) >= STOP_AFTER, what=f"{STOP_AFTER} registrations")

    # When it is signalled mid-load
    intake.proc.send_signal(sig)

    # Then it exits 0, and its group has no member left
    assert intake.proc.wait(timeout=60) == 0, intake.log.read_text()[-3000:]
    [described] = admin.describe_groups([group]).values()
    assert described["members"] == [], described
    assert described["group_state"] == "Empty", described
    log = intake.log.read_text()
    assert f"{sig.name} received; the poll in flight is done" in log
    assert "intake stopped" in log

    # And what it committed (database and offsets) is exactly what it produced, short of the load
    done = committed(admin, group)
    before = [json.loads(m.value)["complaint_id"] for m in registered.read_to_end()]
    with psycopg.connect(cf.db_url(), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM intake.complaints").fetchone()
    assert row is not None
    assert STOP_AFTER <= done < COMPLAINTS, f"stopped after {done} of {COMPLAINTS}"
    assert len(before) == len(set(before)) == done == row[0]

    # When a new instance takes over
    wait_ready([worker_factory("intake", cf, CF_MAX_BATCH=str(BATCH))])
    raw = TopicReader(cf, "complaints.raw.v1")
    wait_for(lambda: committed_all(admin, group, raw), timeout=300, what="every complaint taken in")

    # Then every complaint was registered exactly once
    ids = [json.loads(m.value)["complaint_id"] for m in registered.read_to_end()]
    assert sorted(ids) == sorted(complaint_id_for("e2e-cc", ref) for ref in refs)
    raw.close()
    registered.close()
    admin.close()
