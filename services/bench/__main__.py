"""Benchmarks of the pipeline on this machine, each next to bare Kafka doing the same I/O.

1. bare Kafka: produce N raw-sized messages (acks=all), then consume them.
2. intake throughput: N raw events already on the topic; time until intake has turned all
   of them into registered/lifecycle events or dead letters (a consume + produce per event).
3. intake latency at a fixed rate: send time → the registered event's broker timestamp.

Results are printed and written to `bench-results/` (JSON and an SVG chart).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from schemas.registry import RAW, REGISTERED, TOPICS
from services.bench.chart import latency_svg
from services.bench.measure import percentile, rss_mb
from services.runtime.config import Settings
from services.runtime.kafka import ensure_topics
from services.runtime.ports import free_port, stop_process
from services.runtime.submit import send_raw
from services.simulator.feed import Feed

console = Console()


def _stack(home: Path) -> tuple[Settings, list[int]]:
    bootstrap, db = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    if bootstrap and db:
        return Settings(kafka_bootstrap_servers=bootstrap, database_url=db), []
    from services.runtime.local_kafka import LocalKafka
    from services.runtime.local_postgres import LocalPostgres

    kafka = LocalKafka(home).start()
    pg = LocalPostgres(home).start()
    assert kafka.proc and pg.proc
    return Settings(kafka_bootstrap_servers=kafka.bootstrap, database_url=pg.url), [
        kafka.proc.pid,
        pg.proc.pid,
    ]


def _fresh(settings: Settings) -> Settings:
    tag = uuid.uuid4().hex[:8]
    import psycopg

    with psycopg.connect(settings.db_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "bench_{tag}"')
    s = settings.model_copy(
        update={
            "topic_prefix": f"bench{tag}.",
            "database_url": settings.db_url().rsplit("/", 1)[0] + f"/bench_{tag}",
        }
    )
    ensure_topics(
        s,
        [
            RAW,
            REGISTERED,
            *[t for n, t in TOPICS.items() if n != RAW.name and n != REGISTERED.name],
        ],
    )
    return s


def _events(n: int) -> list[bytes]:
    feed = Feed(seed=11)
    return [next(feed) for _ in range(n)]


class _Counter:
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


def _reader(s: Settings, topics: list[str]) -> KafkaConsumer:
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
    consumer = _reader(s, [RAW.name])
    consume_s = _Counter(consumer).until(len(events), 120, "bare Kafka consume")
    consumer.close()
    return {"produce_per_s": len(events) / produce_s, "consume_per_s": len(events) / consume_s}


def _start_intake(s: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers or "",
        "DATABASE_URL": s.db_url(),
        "CF_TOPIC_PREFIX": s.topic_prefix,
        "CF_METRICS_PORT": str(free_port()),
        "CF_LOG_LEVEL": "WARNING",
        "CF_POLL_TIMEOUT_MS": "50",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.runtime.cli", "worker", "intake"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def intake_throughput(s: Settings, events: list[bytes]) -> dict[str, float]:
    prod = KafkaProducer(
        **s.kafka("bench-feed").as_dict(), acks="all", linger_ms=5, batch_size=64 * 1024
    )
    for ev in events:
        send_raw(prod, s, ev)
    prod.flush()
    prod.close()
    outputs = _reader(
        s, ["complaints.registered.v1", "complaints.lifecycle.v1", "complaints.rejected.v1"]
    )
    proc = _start_intake(s)
    try:
        # The clock starts at the first output, so group join and migrations are not counted.
        counter = _Counter(outputs)
        counter.until(1, 60, "intake warm-up")
        first = counter.seen
        elapsed = counter.until(len(events), 600, "intake throughput")
        rss = rss_mb(proc.pid)
    finally:
        stop_process(proc.pid, signal.SIGTERM, 30)
        outputs.close()
    return {"events_per_s": (len(events) - first) / elapsed, "rss_mb": rss}


def intake_latency(s: Settings, rate: float, seconds: float) -> dict[str, Any]:
    proc = _start_intake(s)
    registered = _reader(s, ["complaints.registered.v1"])
    prod = KafkaProducer(**s.kafka("bench-rate").as_dict(), acks="all", linger_ms=0)
    try:
        # Warm up: one event through before the clock starts.
        send_raw(prod, s, _events(1)[0].replace(b"ev-", b"warm-"))
        _Counter(registered).until(1, 60, "intake warm-up")
        feed = Feed(seed=23)
        sent_at: dict[str, float] = {}
        latencies: list[float] = []
        started = time.monotonic()
        total = int(rate * seconds)
        sent = 0
        while sent < total:
            line = next(feed)
            doc = _doc(line)
            if not doc or doc.get("type") != "complaint.new":
                continue
            _, cid = send_raw(prod, s, line)
            sent_at[cid or ""] = time.time()
            sent += 1
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0:
                _drain(registered, sent_at, latencies, ahead)
        prod.flush()
        deadline = time.monotonic() + 60
        while len(latencies) < total and time.monotonic() < deadline:
            _drain(registered, sent_at, latencies, 0.2)
    finally:
        prod.close()
        stop_process(proc.pid, signal.SIGTERM, 30)
        registered.close()
    return {
        "rate": rate,
        "events": len(latencies),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies) * 1000 if latencies else float("nan"),
        "latencies_ms": [x * 1000 for x in latencies],
    }


def _doc(line: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _drain(
    consumer: KafkaConsumer, sent_at: dict[str, float], out: list[float], seconds: float
) -> None:
    end = time.monotonic() + seconds
    while True:
        remaining = end - time.monotonic()
        batch = consumer.poll(timeout_ms=max(0, int(remaining * 1000)), max_records=5000)
        for recs in batch.values():
            for r in recs:
                cid = r.key.decode() if r.key else ""
                if cid in sent_at:
                    out.append(r.timestamp / 1000 - sent_at.pop(cid))
        if remaining <= 0:
            return


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="make bench", description=__doc__)
    p.add_argument("--events", type=int, default=20_000, help="events for throughput runs")
    p.add_argument("--rate", type=float, default=1000.0, help="events/s for the latency run")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the latency run")
    p.add_argument("--out", default="bench-results", help="directory for JSON and charts")
    args = p.parse_args(argv)

    home = Path("/tmp") / f"cf-bench-{uuid.uuid4().hex[:8]}"
    home.mkdir()
    console.print(f"Starting a local stack in {home} ...")
    base, pids = _stack(home)
    try:
        events = _events(args.events)
        console.print(f"[bold]1/3[/] bare Kafka with {len(events):,} events")
        bare = bare_kafka(_fresh(base), events)
        console.print(f"[bold]2/3[/] intake throughput with {len(events):,} events")
        thr = intake_throughput(_fresh(base), events)
        console.print(f"[bold]3/3[/] intake latency at {args.rate:,.0f} events/s")
        lat = intake_latency(_fresh(base), args.rate, args.seconds)
    finally:
        for pid in pids:
            stop_process(pid, signal.SIGINT if pid == pids[-1] else signal.SIGTERM, 60)
        subprocess.run(["rm", "-rf", str(home)], check=False)

    table = Table(title="ComplaintFlow bench (this machine, broker on the same machine)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("bare Kafka produce (acks=all)", f"{bare['produce_per_s']:,.0f} msg/s")
    table.add_row("bare Kafka consume", f"{bare['consume_per_s']:,.0f} msg/s")
    table.add_row("intake throughput", f"{thr['events_per_s']:,.0f} events/s")
    ratio = thr["events_per_s"] / min(bare["produce_per_s"], bare["consume_per_s"])
    table.add_row("intake / bare Kafka", f"{ratio:.2f}")
    table.add_row("intake RSS", f"{thr['rss_mb']:,.0f} MiB")
    table.add_row(f"raw → registered p50 @ {args.rate:,.0f}/s", f"{lat['p50_ms']:,.1f} ms")
    table.add_row(f"raw → registered p99 @ {args.rate:,.0f}/s", f"{lat['p99_ms']:,.1f} ms")
    console.print(table)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    result = {
        "at": stamp,
        "cpus": os.cpu_count(),
        "bare_kafka": bare,
        "intake": thr,
        "latency": {k: v for k, v in lat.items() if k != "latencies_ms"},
    }
    (out / f"bench-{stamp}.json").write_text(json.dumps(result, indent=2))
    (out / f"latency-{stamp}.svg").write_text(
        latency_svg(lat["latencies_ms"], title=f"raw → registered at {args.rate:,.0f} events/s")
    )
    console.print(f"Results in {out}/bench-{stamp}.json and latency-{stamp}.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
