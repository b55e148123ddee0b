"""The analytics worker on the real broker and database publishes the figures per dimension and
event-time window to complaints.stats.v1, and shows the live backlog and SLA compliance as
gauges (the week of tests/figures_story.py, consumed from its topics)."""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta

import psycopg
import pytest
from kafka import KafkaProducer

from schemas.envelope import CloudEvent, encode
from schemas.lifecycle import LifecycleEvent
from schemas.registered import RegisteredComplaint
from schemas.registry import ALERTS, LIFECYCLE, REGISTERED, ROUTED, SLA
from schemas.routed import RoutedComplaint
from services.analytics import alerts
from services.analytics.app import Analytics
from services.analytics.periods import Period
from services.kernel.clock import FrozenClock
from tests.conftest import wait_for
from tests.figures_story import BASE, warnings, week
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.integration
TOPIC = {RegisteredComplaint: REGISTERED, LifecycleEvent: LIFECYCLE, RoutedComplaint: ROUTED}


def publish_week(cf) -> int:
    producer = KafkaProducer(**cf.kafka("stats-test").as_dict(), acks="all")
    events = week(BASE)
    for i, model in enumerate(events):
        spec = TOPIC.get(type(model), SLA)
        ce = CloudEvent(id=f"week-{i}", type=spec.ce_type, source="/test", time=BASE)
        producer.send(
            cf.topic(spec.name), key=model.complaint_id.encode(), value=encode(model),
            headers=ce.headers(),
        )  # fmt: skip
    producer.flush(30)
    producer.close()
    return len(events)


def test_figures_per_window_reach_the_stats_topic_and_the_gauges(cf, runner_factory):
    # Given the week's events on their topics, and analytics running at the week's end
    publish_week(cf)
    runner = runner_factory(Analytics, cf, clock=FrozenClock(BASE + timedelta(days=7)))
    reader = TopicReader(cf, "complaints.stats.v1")
    latest: dict[str, dict] = {}

    def published(key: str, **expected: object) -> bool:
        for m in reader.poll():
            latest[m.key.decode()] = json.loads(m.value)
        got = latest.get(key, {})
        return all(got.get(k) == v for k, v in expected.items())

    # Then each window's figures are the week's (ISO week 10 of 2026 starts on BASE); the
    # first publication may come before the week is archived, and on a busy machine the next
    # up to a minute after it (`publish_after`)
    wait_for(
        lambda: published(
            "category=billing@week:2026-W10",
            received=4, open=2, resolved=2, breached=1, reopened=1, repeats=1,
            csat_responses=2, csat_mean=3.5,
            resolve_median_seconds=172800.0, resolve_p90_seconds=86400 + 0.9 * 172800,
        ),
        what="billing's week", timeout=150,
    )  # fmt: skip
    wait_for(
        lambda: published(
            "category=delivery@day:2026-03-04",
            window="day", window_start="2026-03-04T00:00:00Z", received=1, open=1, escalated=1,
        ),
        what="C's day",
    )  # fmt: skip
    # ... and the whole archive's (F, G before the week and I after it count there)
    wait_for(lambda: published("category=billing", window="all", received=7), what="billing")
    wait_for(lambda: published("source=taipei-cc", received=1, open=1), what="Taipei")
    assert "category=billing@week:2026-W09" in latest  # F and G's week
    # ... and each hour of the last 48 (E's), but not the hours before (A's)
    wait_for(
        lambda: published(
            "place=Oxford St store@day:2026-03-02", window="day", received=1, resolved=1
        ),
        what="A's place",
    )
    wait_for(
        lambda: published(
            "category=billing@hour:2026-03-08T23",
            window="hour", window_start="2026-03-08T23:00:00Z", received=1, open=1,
        ),
        what="E's hour",
    )  # fmt: skip
    assert not [k for k in latest if "@hour:2026-03-02" in k or "@hour:2026-03-05" in k]
    reader.close()

    # And the gauges show the backlog open now and the SLA compliance of the last 7 days
    def scrape() -> str:
        url = f"http://127.0.0.1:{runner.settings.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode()

    wanted = (
        'complaintflow_backlog_complaints{age_band="3-7d",department="logistics"} 2.0',
        'complaintflow_backlog_complaints{age_band="7-30d",department="finance"} 1.0',
        'complaintflow_sla_compliance_ratio{priority="all",target="acknowledge"} 0.5',
        'complaintflow_sla_compliance_ratio{priority="P3",target="resolve"} 0.3333333333333333',
        'complaintflow_sla_targets_decided{priority="all",target="resolve"} 3.0',
    )
    wait_for(lambda: all(line in scrape() for line in wanted), what="the gauges")


def test_the_worker_keeps_each_early_warning_episode_once(cf, runner_factory):
    # Given the week's early warnings on their topic, each message twice (a replay)
    producer = KafkaProducer(**cf.kafka("alerts-test").as_dict(), acks="all")
    sent = warnings(BASE)
    for i, alert in enumerate(sent + sent):
        ce = CloudEvent(id=f"alert-{i % len(sent)}", type=ALERTS.ce_type, source="/t", time=BASE)
        producer.send(
            cf.topic(ALERTS.name), key=alert.alert_key.encode(), value=encode(alert),
            headers=ce.headers(),
        )  # fmt: skip
    producer.flush(30)
    producer.close()
    # When analytics consumes them
    runner_factory(Analytics, cf, clock=FrozenClock(BASE + timedelta(days=7)))

    def kept() -> list[tuple]:
        with psycopg.connect(cf.db_url()) as conn:
            if conn.execute("SELECT to_regclass('analytics.alerts')").fetchone() == (None,):
                return []
            return conn.execute(
                "SELECT alert_key, status, revision, peak_count FROM analytics.alerts ORDER BY 1"
            ).fetchall()

    # Then each episode is one row at its latest revision, whatever order they came in
    wait_for(lambda: len(kept()) == 4, what="the four episodes")
    assert kept() == [
        ("collective:oxford:2026", "open", 1, 3),
        ("emerging_issue:later:2026", "open", 1, 4),
        ("spike:north:2026", "closed", 3, 5),
        ("spike:old:2026", "closed", 3, 4),
    ]
    with psycopg.connect(cf.db_url()) as conn:
        week_alerts = alerts.of_period(conn, Period(BASE, BASE + timedelta(days=7)))
    assert [a.kind for a in week_alerts] == ["spike", "collective"]
