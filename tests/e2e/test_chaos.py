"""End to end, in `make test` at small scale, on a three-node Kafka cluster: workers killed
(-9 and SIGTERM), second and third instances joining and leaving, the database connections
cut and the database stopped for longer than the readiness window, a broker restarted, the
leader of the raw topic's partition 0 lost (-9) and brought back, the mail provider slow and
then refusing — while a load flows; and the books still balance."""

from __future__ import annotations

import pytest

from services.chaos.faults import KINDS, Broker
from services.chaos.run import Plan, chaos
from services.devstack.local_postgres import LocalPostgres
from services.kernel.kafka import ensure_topics

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(900)
def test_a_short_chaos_run_loses_nothing_and_does_nothing_twice(cf, tmp_path):
    # Given three brokers and a database this test may restart, lose and stop, every topic
    # replicated three times, every worker supervised
    home = tmp_path / "chaos"
    broker = Broker(home, nodes=3)
    pg = LocalPostgres(home).start()
    try:
        settings = cf.model_copy(
            update={
                "kafka_bootstrap_servers": broker.bootstrap,
                "database_url": pg.url,
                "topic_replication": broker.replication,
            }
        )
        ensure_topics(settings)
        plan = Plan(
            complaints=30,
            seed=20261202,
            faults=len(KINDS),
            spread=8,
            second_wave_after=6,
            drain_timeout=240,
            stalled_after=3,
            outage=8,
        )

        # When faults of every kind hit while 30 complaints and their stories flow
        result = chaos(settings, plan, home=home, broker=broker, database=pg, say=lambda line: None)
    finally:
        broker.stop()
        if pg.proc is not None:
            LocalPostgres.stop_pid(pg.proc.pid)

    # Then every kind was injected, the workers hit came back, and the books balance
    assert {f.kind for f in result.injected} == set(KINDS), result.summary()
    assert sum(result.restarts.values()) >= 2, result.summary()
    assert result.balanced, result.summary()
    assert result.passed, result.summary()
    assert result.report is not None
    checked = {o.check: o.checked for o in result.report.outcomes}
    assert checked["raw events"] == result.events and checked["routing"] == 30
    # An instance joined and one left; while the database was down, workers said not ready
    said = {f.kind: f.detail for f in result.injected}
    assert "started beside the others" in said["instance joined"], result.summary()
    assert "gone" in said["instance left"], result.summary()
    assert "not ready meanwhile: none" not in said["database stopped"], result.summary()
    # The broker lost led the raw topic's partition 0, events flowed while it was down, and
    # every partition was in sync again after it came back
    assert result.injected[0].kind == "broker lost", result.summary()
    assert "leader of complaints.raw.v1 partition 0" in said["broker lost"], result.summary()
    assert "nothing was left to process" not in said["broker lost"], result.summary()
    assert "every partition in sync" in said["broker lost"], result.summary()
    assert "in sync again" in said["broker restarted"], result.summary()
