"""Bare Kafka with kafka-python: the same raw events produced (acks=all) and consumed, the
figure the pipeline is held against beside Kafka's own tools; and what each message costs
the client in CPU, against librdkafka (the C client, through confluent-kafka, when it is
installed: it comes with the development extras) doing the same."""

from __future__ import annotations

import time
import uuid

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
    started, cpu = time.monotonic(), time.process_time()
    for i, ev in enumerate(events):
        prod.send(topic, key=str(i).encode(), value=ev)
    prod.flush()
    produce_s, produce_cpu = time.monotonic() - started, time.process_time() - cpu
    prod.close()
    consumer = reader(s, [RAW.name])
    cpu = time.process_time()
    consume_s = Counter(consumer).until(len(events), 120, "bare Kafka consume")
    consume_cpu = time.process_time() - cpu
    consumer.close()
    n = len(events)
    return {
        "produce_per_s": n / produce_s,
        "consume_per_s": n / consume_s,
        # The client's threads are this process's: its CPU is the client's own cost.
        "produce_cpu_us": 1e6 * produce_cpu / n,
        "consume_cpu_us": 1e6 * consume_cpu / n,
    }


def bare_librdkafka(s: Settings, events: list[bytes]) -> dict[str, float] | None:
    """The same with librdkafka, on a fresh topic (None when confluent-kafka is not installed,
    or the broker needs credentials this plain comparison does not pass)."""
    try:
        import confluent_kafka
    except ImportError:
        return None
    if s.kafka("bench-librdkafka").security_protocol != "PLAINTEXT":
        return None
    topic, n = s.topic(RAW.name), len(events)
    common = {"bootstrap.servers": s.kafka_bootstrap_servers, "log_level": 3}
    prod = confluent_kafka.Producer(
        {**common, "acks": "all", "linger.ms": 5, "batch.size": 64 * 1024}
    )
    started, cpu = time.monotonic(), time.process_time()
    for i, ev in enumerate(events):
        while True:
            try:
                prod.produce(topic, key=str(i).encode(), value=ev)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                prod.poll(0.01)
        prod.poll(0)
    if prod.flush(120):
        raise RuntimeError("librdkafka: not every message was delivered in 120 s")
    produce_s, produce_cpu = time.monotonic() - started, time.process_time() - cpu
    consumer = confluent_kafka.Consumer(
        {**common, "group.id": f"bench-librdkafka-{uuid.uuid4().hex}",
         "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )  # fmt: skip
    consumer.subscribe([topic])
    seen, started, cpu = 0, time.monotonic(), time.process_time()
    with Progress(transient=True, console=console) as bar:
        task = bar.add_task("librdkafka consume", total=n)
        while seen < n and time.monotonic() - started < 120:
            seen += sum(1 for m in consumer.consume(5000, 0.2) if m.error() is None)
            bar.update(task, completed=seen)
    consume_s, consume_cpu = time.monotonic() - started, time.process_time() - cpu
    consumer.close()
    if seen < n:
        raise RuntimeError(f"librdkafka consume: only {seen} of {n} records after 120 s")
    return {
        "produce_per_s": n / produce_s,
        "consume_per_s": n / consume_s,
        "produce_cpu_us": 1e6 * produce_cpu / n,
        "consume_cpu_us": 1e6 * consume_cpu / n,
    }
