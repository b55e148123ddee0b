"""Bare Kafka with kafka-python: the same raw events produced (acks=all) and consumed, the
figure the pipeline is held against beside Kafka's own tools."""

from __future__ import annotations

import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from rich.console import Console
from rich.progress import Progress

from schemas.registry import RAW, TOPICS
from services.kernel.settings import Settings

console = Console()


class Counter:
    """Counts records consumed so far; `until` waits for a running total."""

    def __init__(self, consumer: KafkaConsumer) -> None:
        self.consumer = consumer
        self.seen = 0

    def until(self, n: int, timeout: float, label: str) -> float:
        """Seconds until `n` records in all were consumed."""
        started = time.monotonic()
        with Progress(transient=True, console=console) as bar:
            task = bar.add_task(label, total=n)
            while self.seen < n and time.monotonic() - started < timeout:
                for recs in self.consumer.poll(timeout_ms=200, max_records=5000).values():
                    self.seen += len(recs)
                bar.update(task, completed=self.seen)
        if self.seen < n:
            raise RuntimeError(f"{label}: only {self.seen} of {n} records after {timeout:.0f}s")
        return time.monotonic() - started


def reader(s: Settings, topics: list[str]) -> KafkaConsumer:
    consumer = KafkaConsumer(**s.kafka("bench-reader").as_dict(), enable_auto_commit=False)
    tps = [TopicPartition(s.topic(t), p) for t in topics for p in range(TOPICS[t].partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning()
    return consumer


def bare_kafka(s: Settings, events: list[bytes]) -> dict[str, float]:
    topic = s.topic(RAW.name)
    prod = KafkaProducer(
        **s.kafka("bench-bare").as_dict(),
        acks="all",
        linger_ms=5,
        batch_size=64 * 1024,
        enable_idempotence=True,
    )
    started = time.monotonic()
    for i, ev in enumerate(events):
        prod.send(topic, key=str(i).encode(), value=ev)
    prod.flush()
    produce_s = time.monotonic() - started
    prod.close()
    consumer = reader(s, [RAW.name])
    consume_s = Counter(consumer).until(len(events), 120, "bare Kafka consume")
    consumer.close()
    return {"produce_per_s": len(events) / produce_s, "consume_per_s": len(events) / consume_s}
