"""Thin Kafka edges on kafka-python: clients and topic creation from the registry."""

from __future__ import annotations

import logging
import time
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas.registry import TOPICS, TopicSpec
from services.kernel.settings import Settings

log = logging.getLogger(__name__)


def producer(settings: Settings, *, client_id: str, **overrides: Any) -> KafkaProducer:
    """An idempotent producer that waits for all in-sync replicas (no loss on broker failover)."""
    cfg: dict[str, Any] = {
        **settings.kafka(client_id).as_dict(),
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "batch_size": 64 * 1024,
        "max_in_flight_requests_per_connection": 5,
        "retries": 2**31 - 1,
        "delivery_timeout_ms": 120_000,
    }
    cfg.update(overrides)
    return KafkaProducer(**cfg)


def consumer(settings: Settings, *, group: str, client_id: str, **overrides: Any) -> KafkaConsumer:
    """A consumer in `group` that commits only what has been fully processed."""
    cfg: dict[str, Any] = {
        **settings.kafka(client_id).as_dict(),
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": settings.max_batch,
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 2_000,
        "max_poll_interval_ms": 300_000,
        "isolation_level": "read_committed",
        # A short long-poll: requests queued behind an idle fetch on the same connection
        # (offset lookups, commits) wait at most this long.
        "fetch_max_wait_ms": 100,
    }
    cfg.update(overrides)
    return KafkaConsumer(**cfg)


MIN_ISR_FROM_REPLICATION = 3
"""From this replication factor on, a topic is made with `min.insync.replicas` 2."""


def new_topic(settings: Settings, spec: TopicSpec) -> NewTopic:
    """How `spec` is created on this broker: replicated `CF_TOPIC_REPLICATION` times (or the
    spec's own factor when higher), with two in-sync replicas required once there are three."""
    replication = max(spec.replication, settings.topic_replication)
    config = spec.topic_config()
    if replication >= MIN_ISR_FROM_REPLICATION:
        config.setdefault("min.insync.replicas", "2")
    return NewTopic(
        name=settings.topic(spec.name),
        num_partitions=spec.partitions,
        replication_factor=replication,
        topic_configs=config,
    )


def ensure_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> list[str]:
    """Create every registry topic missing on the broker; returns the names created."""
    wanted = specs if specs is not None else list(TOPICS.values())
    admin = KafkaAdminClient(**settings.kafka("complaintflow-admin").as_dict())
    try:
        existing = set(admin.list_topics())
        new = [new_topic(settings, s) for s in wanted if settings.topic(s.name) not in existing]
        created: list[str] = []
        for topic in new:
            try:
                admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
        _wait_for_leaders(admin, {t.name: t.num_partitions for t in new})
        return created
    finally:
        admin.close()


def _wait_for_leaders(admin: KafkaAdminClient, wanted: dict[str, int], timeout: float = 30) -> None:
    """Block until every topic in `wanted` has all its partitions in the metadata."""
    deadline = time.monotonic() + timeout
    while wanted:
        described = admin.describe_topics(list(wanted))
        ready = {
            t["name"]
            for t in described
            if len(t.get("partitions") or []) == wanted.get(t["name"])
            and all(p.get("leader_id", -1) >= 0 for p in t["partitions"])
        }
        wanted = {name: n for name, n in wanted.items() if name not in ready}
        if not wanted:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"topics without leaders after {timeout:.0f}s: {sorted(wanted)}")
        time.sleep(0.1)
