"""A worker started while its broker or its database is down waits for it, then works."""

from __future__ import annotations

import signal

import pytest

from services.devstack.local_kafka import LocalKafka
from services.devstack.local_postgres import LocalPostgres
from services.kernel.kafka import ensure_topics
from tests.conftest import wait_for, wait_ready
from tests.e2e.test_pipeline import new_complaint, submit
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.e2e


def waits_alive_not_ready(worker, service: str) -> None:
    """`worker` has failed to reach `service` twice and is still there, alive and not ready."""
    wait_for(
        lambda: worker.proc.poll() is not None or "try 2)" in worker.log.read_text(),
        timeout=180,
        what=f"{worker.name} to try {service} twice",
    )
    assert worker.proc.poll() is None, worker.log.read_text()[-2000:]
    assert worker.status("/healthz") == 200
    assert worker.status("/readyz") == 503
    assert f"waiting for {service}" in worker.log.read_text()


def takes_in_a_complaint(intake, settings, ref: str) -> None:
    """`intake` becomes ready and registers a complaint submitted then."""
    wait_ready([intake], timeout=180)
    registered = TopicReader(settings, "complaints.registered.v1")
    submit(settings, [new_complaint(ref, f"ev-{ref}", "billing", "账单错误")])
    got = wait_for(registered.poll, timeout=120, what=f"{ref} registered")
    assert len(got) == 1
    registered.close()


def stop(worker) -> None:
    if worker.proc.poll() is None:
        worker.proc.send_signal(signal.SIGTERM)
        worker.proc.wait(timeout=60)


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
        # When intake starts with the broker down, it waits: alive, not ready
        waits_alive_not_ready(intake, "Kafka")

        # Then once the broker is back, intake becomes ready and takes in a complaint
        kafka = LocalKafka(home, heap="256m").start()
        assert kafka.bootstrap == settings.kafka_bootstrap_servers
        takes_in_a_complaint(intake, settings, "LATE-1")
    finally:
        stop(intake)
        kafka.stop()


def test_a_worker_started_before_its_database_waits_not_ready_then_processes(
    cf, worker_factory, tmp_path
):
    # Given a database server of its own, not started yet
    pg = LocalPostgres(tmp_path / "outage")
    settings = cf.model_copy(update={"database_url": pg.url})
    intake = worker_factory("intake", settings)
    try:
        # When intake starts with the database down, it waits: alive, not ready
        waits_alive_not_ready(intake, "PostgreSQL")

        # Then once the database is up, intake migrates, becomes ready and takes in a complaint
        pg.start()
        takes_in_a_complaint(intake, settings, "LATE-2")
    finally:
        stop(intake)
        if pg.proc is not None:
            LocalPostgres.stop_pid(pg.proc.pid)
