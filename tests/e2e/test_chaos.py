"""End to end, in `make test` at small scale: workers killed (-9 and SIGTERM), the database
connections cut and the broker restarted while a load flows — and the books still balance."""

from __future__ import annotations

import pytest

from services.chaos.faults import KINDS, Broker
from services.chaos.run import Plan, chaos
from services.kernel.kafka import ensure_topics

pytestmark = pytest.mark.e2e


def test_a_short_chaos_run_loses_nothing_and_does_nothing_twice(cf, tmp_path):
    # Given a broker this test may restart, and every worker under supervision
    home = tmp_path / "chaos"
    broker = Broker(home)
    try:
        settings = cf.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap})
        ensure_topics(settings)
        plan = Plan(
            complaints=30,
            seed=20261202,
            faults=4,
            spread=8,
            second_wave_after=6,
            drain_timeout=150,
        )

        # When faults of every kind hit while 30 complaints and their stories flow
        result = chaos(settings, plan, home=home, broker=broker, say=lambda line: None)
    finally:
        broker.stop()

    # Then every kind was injected, the workers hit came back, and the books balance
    assert {f.kind for f in result.injected} == set(KINDS)
    assert sum(result.restarts.values()) >= 2, result.summary()
    assert result.balanced, result.summary()
    assert result.report is not None
    checked = {o.check: o.checked for o in result.report.outcomes}
    assert checked["raw events"] == result.events and checked["routing"] == 30
