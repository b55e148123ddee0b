"""A worker started while its broker is down waits for it, then works."""

from __future__ import annotations

import signal

import pytest

from services.devstack.local_kafka import LocalKafka
from services.kernel.kafka import ensure_topics
from tests.conftest import wait_for, wait_ready
from tests.e2e.test_pipeline import new_complaint, submit
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.e2e


def test_a_worker_started_before_its_broker_waits_not_ready_then_processes(
    cf, worker_factory, tmp_path
):
    # Given a broker of its own with the topics made, then stopped
    home = tmp_path / "outage"
    kafka = LocalKafka(home, heap="256m").start()
    settings = cf.model_copy(update={"kafka_bootstrap_servers": kafka.bootstrap})
    ensure_topics(settings)
    kafka.stop()
    intake = worker_factory("intake", settings)
    try:
        # When intake starts with the broker down, it waits past a first failed bootstrap
        wait_for(
            lambda: intake.proc.poll() is not None or "try 2)" in intake.log.read_text(),
            timeout=180,
            what="intake to try the broker twice",
        )
        assert intake.proc.poll() is None, intake.log.read_text()[-2000:]
        # ...alive and not ready
        assert intake.status("/healthz") == 200
        assert intake.status("/readyz") == 503
        log = intake.log.read_text()
        assert "waiting for Kafka" in log

        # Then once the broker is back, intake becomes ready and takes in a complaint
        kafka = LocalKafka(home, heap="256m").start()
        assert kafka.bootstrap == settings.kafka_bootstrap_servers
        wait_ready([intake], timeout=180)
        registered = TopicReader(settings, "complaints.registered.v1")
        submit(settings, [new_complaint("LATE-1", "ev-late-1", "billing", "账单错误")])
        got = wait_for(registered.poll, timeout=120, what="the complaint registered")
        assert len(got) == 1
        registered.close()
    finally:
        if intake.proc.poll() is None:
            intake.proc.send_signal(signal.SIGTERM)
            intake.proc.wait(timeout=60)
        kafka.stop()
