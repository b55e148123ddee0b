"""End to end on a three-broker cluster: one broker killed mid-run (SIGKILL, a leader of the
raw topic's partitions) and brought back loses nothing, duplicates nothing, and the
pipeline keeps flowing while it is down."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaAdminClient
from pydantic import SecretStr

from schemas.envelope import complaint_id_for
from schemas.registry import RAW, ROUTED, TOPICS
from services.commands.workers import WORKERS
from services.devstack.local_kafka_cluster import LocalKafkaCluster, partitions
from services.kernel.db import with_database
from services.kernel.kafka import ensure_topics
from services.kernel.settings import Settings
from tests.conftest import wait_for, wait_ready
from tests.e2e.test_audit import balanced_audit
from tests.e2e.test_pipeline import new_complaint, submit
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.e2e

CATEGORIES = ("billing", "contract", "delivery")


@pytest.fixture
def cluster_cf() -> Iterator[tuple[LocalKafkaCluster, Settings]]:
    """A cluster of its own (not the session's single broker), a database, and settings
    that replicate every topic three times."""
    home = Path("/tmp") / f"cf-cluster-{uuid.uuid4().hex[:8]}"
    home.mkdir()
    pg = None
    admin_url = os.environ.get("DATABASE_URL")
    if not admin_url:
        from services.devstack.local_postgres import LocalPostgres

        pg = LocalPostgres(home).start()
        admin_url = pg.url
    cluster = LocalKafkaCluster(home, heap="320m").start()
    tag = uuid.uuid4().hex[:10]
    db = f"cf_{tag}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    try:
        yield (
            cluster,
            Settings(
                kafka_bootstrap_servers=cluster.bootstrap,
                database_url=with_database(admin_url, db),
                topic_prefix=f"t{tag}.",
                home=home / "cf",
                poll_timeout_ms=100,
                pii_key=SecretStr(f"test-pii-key-{tag}"),
                topic_replication=3,
            ),
        )
    finally:
        cluster.stop()
        if pg is not None:
            assert pg.proc is not None
            LocalPostgres.stop_pid(pg.proc.pid)
        else:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        subprocess.run(["rm", "-rf", str(home)], check=False)


def complaints(batch: str, n: int) -> tuple[list[str], set[str]]:
    """`n` new complaints of `batch`, and their complaint ids."""
    refs = [f"{batch}-{i}" for i in range(n)]
    lines = [
        new_complaint(ref, f"ev-{ref}", CATEGORIES[i % 3], "账单多扣了200元")
        for i, ref in enumerate(refs)
    ]
    return lines, {complaint_id_for("e2e-cc", ref) for ref in refs}


def routed_ids(reader: TopicReader) -> set[str]:
    return {json.loads(m.value)["complaint_id"] for m in reader.poll()}


def test_a_broker_killed_mid_run_loses_nothing_and_the_pipeline_keeps_flowing(
    cluster_cf, worker_factory, mail_catcher
):
    cluster, cf = cluster_cf
    # Given the product's topics replicated three times, two in-sync replicas required
    ensure_topics(cf)
    names = [cf.topic(spec.name) for spec in TOPICS.values()]
    admin = KafkaAdminClient(**cf.kafka("test-broker-loss").as_dict())
    try:
        assert all(len(p["replica_nodes"]) == 3 for p in partitions(admin, names))
        # And every worker running on the cluster, with a mail server
        workers = [
            worker_factory(
                name,
                cf,
                CF_TOPIC_REPLICATION="3",
                **(mail_catcher.env if name == "notification" else {}),
            )
            for name in WORKERS
        ]
        wait_ready(workers, timeout=120)
        routed = TopicReader(cf, ROUTED.name)

        # When complaints flow
        before, before_ids = complaints("BEFORE", 12)
        submit(cf, before)
        wait_for(lambda: before_ids <= routed_ids(routed), timeout=120, what="BEFORE routed")

        # And the broker leading the raw topic's first partition is killed (SIGKILL)
        victim = cluster.leader(cf.topic(RAW.name), 0)
        cluster.kill(victim)

        # Then complaints submitted while it is down are registered and routed all the same
        during, during_ids = complaints("DURING", 12)
        submit(cf, during)
        wait_for(
            lambda: during_ids <= routed_ids(routed),
            timeout=180,
            what=lambda: f"DURING routed (missing {len(during_ids - routed_ids(routed))})",
        )
        assert cluster.nodes[victim].proc is None, "the killed broker is still down"

        # When the broker comes back and more complaints follow
        cluster.restart(victim)
        after, after_ids = complaints("AFTER", 12)
        submit(cf, after)
        wait_for(lambda: after_ids <= routed_ids(routed), timeout=120, what="AFTER routed")

        # Then it catches up: every partition is fully in sync again
        cluster.wait_in_sync(timeout=120)
        assert all(len(p["isr_nodes"]) == 3 for p in partitions(admin, names))
        routed.close()
    finally:
        admin.close()

    # And the books balance: each raw event applied exactly once, nothing lost or doubled
    report = balanced_audit(cf, mail_catcher.folder, timeout=180)
    checked = {o.check: o.checked for o in report.outcomes}
    assert checked["raw events"] == 36 and checked["dead letters"] == 0
    assert checked["routing"] == 36
    assert checked["notifications"] >= 36
    assert not any(o.skipped for o in report.outcomes)
