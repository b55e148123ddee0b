"""Reading our topics in tests, through a real consumer on the real broker."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition

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
        name = settings.topic(topic)
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

    def close(self) -> None:
        self.consumer.close()
