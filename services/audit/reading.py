"""Reading a topic whole: from its beginning to the end offsets it had when reading began, so
an audit sees one fixed cut of every topic however busy the broker is."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

from schemas.registry import TopicSpec
from services.kernel.settings import Settings

STALL_SECONDS = 60.0
"""How long a read may get nothing before it is given up (the broker is gone)."""


@dataclass(frozen=True, slots=True)
class Message:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def end_offsets(settings: Settings, specs: list[TopicSpec]) -> dict[str, dict[int, int]]:
    """The end offset of every partition of these topics now: the cut the audit reads to."""
    consumer = _consumer(settings)
    try:
        out: dict[str, dict[int, int]] = {}
        for spec in specs:
            parts = _partitions(consumer, settings.topic(spec.name))
            ends = consumer.end_offsets(parts)
            out[spec.name] = {tp.partition: ends[tp] for tp in parts}
        return out
    finally:
        consumer.close()


def read_topic(
    settings: Settings,
    spec: TopicSpec,
    ends: dict[int, int],
    *,
    advanced: Callable[[int], None] = lambda n: None,
) -> Iterator[Message]:
    """Every message of `spec` up to `ends`, partition by partition in offset order within
    each; `advanced(n)` is told as each batch of n messages is read."""
    consumer = _consumer(settings)
    try:
        name = settings.topic(spec.name)
        parts = [TopicPartition(name, p) for p in sorted(ends)]
        consumer.assign(parts)
        consumer.seek_to_beginning()
        todo = {tp for tp in parts if consumer.position(tp) < ends[tp.partition]}
        consumer.pause(*[tp for tp in parts if tp not in todo])
        quiet_since = time.monotonic()
        while todo:
            batch = consumer.poll(timeout_ms=500)
            if not batch:
                if time.monotonic() - quiet_since > STALL_SECONDS:
                    raise RuntimeError(
                        f"{name}: nothing read for {STALL_SECONDS:.0f}s before its end offsets"
                    )
                continue
            quiet_since = time.monotonic()
            for tp, records in batch.items():
                end = ends[tp.partition]
                kept = [r for r in records if r.offset < end]
                for r in kept:
                    yield Message(r.partition, r.offset, r.key, r.value, list(r.headers or []))
                advanced(len(kept))
                if tp in todo and consumer.position(tp) >= end:
                    todo.discard(tp)
                    consumer.pause(tp)
    finally:
        consumer.close()


def _consumer(settings: Settings) -> KafkaConsumer:
    return KafkaConsumer(
        **settings.kafka(f"complaintflow-audit-{uuid.uuid4().hex[:8]}").as_dict(),
        group_id=None,
        enable_auto_commit=False,
        max_poll_records=5000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )


def _partitions(consumer: KafkaConsumer, name: str) -> list[TopicPartition]:
    found = consumer.partitions_for_topic(name)
    if not found:
        raise RuntimeError(
            f"topic {name} does not exist (create it: complaintflow topics --create)"
        )
    return [TopicPartition(name, p) for p in sorted(found)]
