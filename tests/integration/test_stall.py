"""A worker that truly makes no progress says so: /readyz 503, failures counted, lag shown."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

import pytest
from kafka import KafkaProducer

from services.kernel.kafka import ensure_topics
from services.kernel.loop import WorkerRunner
from tests.conftest import wait_for
from tests.e2e.test_pipeline import metric
from tests.integration import test_loop
from tests.integration.test_loop import IN, OUT, Echo, Faults

pytestmark = pytest.mark.integration


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_a_worker_stuck_on_an_outage_turns_not_ready_and_counts_it(cf, monkeypatch):
    # Given a worker whose every poll meets an outage that never passes
    monkeypatch.setattr(test_loop, "FAULTS", Faults(transient={b"stuck": 10**9}))
    ensure_topics(cf, [IN, OUT])
    producer = KafkaProducer(**cf.kafka("stall-test").as_dict(), acks="all")
    producer.send(cf.topic(IN.name), key=b"k", value=b"stuck", partition=0).get(timeout=30)
    producer.close()
    runner = WorkerRunner(Echo, cf.model_copy(update={"stalled_after_seconds": 3.0}))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: runner._ready, what="partitions assigned")
        # Then, once it has failed for longer than the limit, /readyz says so
        wait_for(lambda: status(f"{runner.ops.url}/readyz") == 503, what="/readyz 503")
        assert status(f"{runner.ops.url}/healthz") == 200  # the loop itself is alive
        scraped = urllib.request.urlopen(f"{runner.ops.url}/metrics", timeout=5).read().decode()
        assert metric(scraped, "complaintflow_loop_failures_total", stage="passing") >= 2
        wait_for(
            lambda: (
                metric(
                    urllib.request.urlopen(f"{runner.ops.url}/metrics", timeout=5).read().decode(),
                    "complaintflow_consumer_lag",
                )
                >= 1
            ),
            what="lag shown",
        )
    finally:
        runner.stop()
        thread.join(timeout=30)
