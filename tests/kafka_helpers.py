"""Reading our topics in tests, through a real consumer on the real broker."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from services.kernel.settings import Settings


@dataclass(frozen=True)
class Message:
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    partition: int


class TopicReader:
    """Reads a whole topic from the beginning, accumulating what it has seen."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.consumer = KafkaConsumer(
            **settings.kafka(f"test-reader-{uuid.uuid4().hex[:6]}").as_dict(),
            enable_auto_commit=False,
            group_id=None,
        )
        self.name = name = settings.topic(topic)
        parts = self.consumer.partitions_for_topic(name) or set()
        self.consumer.assign([TopicPartition(name, p) for p in parts])
        self.consumer.seek_to_beginning()
        self.messages: list[Message] = []

    def poll(self) -> list[Message]:
        for recs in self.consumer.poll(timeout_ms=300).values():
            for r in recs:
                self.messages.append(Message(r.key, r.value, dict(r.headers or []), r.partition))
        return self.messages

    def wait(self, predicate: Any, timeout: float = 60) -> list[Message]:
        """Messages matching `predicate` once at least one is there (else what was found)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.poll() if predicate(m)]
            if found:
                return found
        return []

    def end_offsets(self) -> dict[TopicPartition, int]:
        return dict(self.consumer.end_offsets(list(self.consumer.assignment())))

    def read_to_end(self, timeout: float = 60) -> list[Message]:
        """Every message on the topic when called: reads each partition up to its end offset."""
        ends = self.end_offsets()
        deadline = time.monotonic() + timeout
        while any(self.consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not read to its end in {timeout:.0f}s")
            self.poll()
        return self.messages

    def close(self) -> None:
        self.consumer.close()


def committed_all(admin: KafkaAdminClient, group: str, reader: TopicReader) -> bool:
    """Whether `group` has committed every message now on `reader`'s topic.

    Workers commit only once what they emitted for a record is on the broker, so then every
    output of those messages can be read.
    """
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    except KafkaError:  # e.g. the coordinator moving: not known yet
        return False
    committed = {tp: o.offset for tp, o in offsets.items()}
    return all(committed.get(tp, 0) >= end for tp, end in reader.end_offsets().items())
