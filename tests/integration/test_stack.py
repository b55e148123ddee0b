"""The registry's topics and the workers' migrations on the real broker and database."""

from __future__ import annotations

import psycopg
import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from schemas.registry import TOPICS
from services.analytics.migrations import MIGRATIONS as ANALYTICS
from services.kernel.db import migrate
from services.kernel.kafka import ensure_topics

pytestmark = pytest.mark.integration


def test_topics_are_created_from_the_registry(cf):
    admin = KafkaAdminClient(**cf.kafka("test-admin").as_dict())
    try:
        described = {t["name"]: t for t in admin.describe_topics([cf.topic(n) for n in TOPICS])}
        for name, spec in TOPICS.items():
            assert len(described[cf.topic(name)]["partitions"]) == spec.partitions
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, cf.topic("complaints.stats.v1"))]
        )
        stats = configs["topic"][cf.topic("complaints.stats.v1")]
        assert stats["cleanup.policy"]["value"] == "compact"
    finally:
        admin.close()
    # Creating again is a no-op
    assert ensure_topics(cf) == []


def test_migrations_apply_once(cf):
    with psycopg.connect(cf.db_url()) as conn:
        assert migrate(conn, "analytics", ANALYTICS) == len(ANALYTICS) == 8
        assert migrate(conn, "analytics", ANALYTICS) == 0
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics'"
            " ORDER BY 1"
        ).fetchall()
        assert [t for (t,) in tables] == [
            "alerts",
            "category_names",
            "complaints",
            "events",
            "schema_migrations",
            "sla_targets",
            "stats_published",
        ]
