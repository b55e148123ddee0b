"""The whole pipeline end to end: every worker running, a flood of new complaints sent as
fast as the client can, and the rate at which they are fully processed — registered, routed,
their SLA clocks started, their acknowledgement recorded and archived.

Progress is read from the workers' own tables, so "fully processed" means committed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any

import psycopg
from kafka import KafkaProducer
from rich.console import Console
from rich.progress import Progress

from schemas.envelope import complaint_id_for
from schemas.raw import NewComplaint
from schemas.registry import RAW
from services.bench.measure import cpu_seconds, machine_busy, rss_mb
from services.devstack.ports import free_port, stop_process
from services.intake import validate
from services.kernel.errors import PoisonMessage
from services.kernel.settings import Settings
from services.simulator.feed import Feed

WORKERS = ("intake", "routing", "sla_timer", "notification", "analytics")
STAGES = {
    "registered": "SELECT count(*) FROM intake.complaints",
    "routed": "SELECT count(*) FROM routing.decisions WHERE decision IS NOT NULL",
    "sla started": "SELECT count(DISTINCT complaint_id) FROM sla_timer.timers",
    "acknowledged": "SELECT count(*) FROM notification.outbox WHERE kind = 'acknowledgement'",
    "archived": "SELECT count(*) FROM analytics.complaints WHERE reference IS NOT NULL",
}
"""Complaints past each stage, as each worker's committed state says."""


def new_complaints(n: int) -> list[bytes]:
    """`n` valid new complaints, each of its own complaint id, from the simulated feed (its
    follow-ups and malformed lines left out, so each event is one complaint to count)."""
    feed, out, seen = Feed(seed=23, run="e2e"), list[bytes](), set[str]()
    now = datetime.now(UTC)
    while len(out) < n:
        line = next(feed)
        try:
            event = validate.parse(line, now=now)
        except PoisonMessage:
            continue
        if isinstance(event, NewComplaint):
            cid = complaint_id_for(event.source, event.complaint_ref)
            if cid not in seen:
                seen.add(cid)
                out.append(line)
    return out


def _json(line: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _start(s: Settings, name: str, **extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers or "",
        "DATABASE_URL": s.db_url(),
        "CF_TOPIC_PREFIX": s.topic_prefix,
        "CF_METRICS_PORT": str(port),
        "CF_LOG_LEVEL": "WARNING",
        "CF_SLA_SCALE": "1",
        "CF_PII_KEY": "bench-pii-key-0123456789",
        **extra,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.commands.cli", "worker", name],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, f"http://127.0.0.1:{port}/readyz"


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status) == 200
    except OSError:
        return False


def _counts(conn: psycopg.Connection) -> dict[str, int]:
    out: dict[str, int] = {}
    for stage, sql in STAGES.items():
        try:
            row = conn.execute(sql).fetchone()
            out[stage] = int(row[0]) if row else 0
        except psycopg.errors.UndefinedTable:  # a worker that has not migrated yet
            conn.rollback()
            out[stage] = 0
    conn.rollback()
    return out


def run_pipeline(
    s: Settings, events: list[bytes], *, console: Console, timeout: float = 1800
) -> dict[str, Any]:
    """Start every worker, wait until each has migrated, flood `events`, and time each stage
    until every complaint is through it."""
    n = len(events)
    started_workers = {name: _start(s, name) for name in WORKERS}
    procs = {name: p for name, (p, _) in started_workers.items()}
    try:
        with psycopg.connect(s.db_url()) as conn:
            deadline = time.monotonic() + 180
            # Every worker ready (partitions assigned): the flood meets a settled pipeline.
            while not all(_ready(url) for _, url in started_workers.values()):
                if time.monotonic() > deadline:
                    raise RuntimeError("workers not ready within 180 s")
                time.sleep(0.5)
            cpu0 = {name: cpu_seconds(p.pid) for name, p in procs.items()}
            busy0 = machine_busy()
            producer = KafkaProducer(
                **s.kafka("bench-e2e").as_dict(), acks="all", linger_ms=5, batch_size=64 * 1024
            )
            started = time.monotonic()
            for line in events:
                doc = _json(line) or {}
                key = f"{doc.get('source')}:{doc.get('complaint_ref')}".encode()
                producer.send(s.topic(RAW.name), key=key, value=line)
            producer.flush()
            sent_s = time.monotonic() - started
            producer.close()
            done: dict[str, float] = {}
            rss_peak = dict.fromkeys(WORKERS, 0.0)
            with Progress(console=console, transient=True) as bar:
                tasks = {stage: bar.add_task(stage, total=n) for stage in STAGES}
                while len(done) < len(STAGES):
                    counts = _counts(conn)
                    now = time.monotonic() - started
                    for stage, count in counts.items():
                        bar.update(tasks[stage], completed=count)
                        if count >= n and stage not in done:
                            done[stage] = now
                    for name, p in procs.items():
                        rss_peak[name] = max(rss_peak[name], rss_mb(p.pid))
                        if p.poll() is not None:
                            raise RuntimeError(f"{name} exited with {p.returncode}")
                    if now > timeout:
                        raise RuntimeError(
                            f"not through every stage after {timeout:.0f}s: {counts}"
                        )
                    time.sleep(0.5)
            total = max(done.values())
            busy1 = machine_busy()
            cpu = {name: cpu_seconds(p.pid) - cpu0[name] for name, p in procs.items()}
    finally:
        for p in procs.values():
            stop_process(p.pid, 15, 30)
    return {
        "complaints": n,
        "client_send_per_s": n / sent_s,
        "complaints_per_s": n / total,
        "stage_done_s": done,
        "cpu_us_per_complaint": {name: 1e6 * c / n for name, c in cpu.items()},
        "rss_peak_mb": rss_peak,
        "machine_busy_cores": (busy1[0] - busy0[0]) / (busy1[1] - busy0[1]) * (os.cpu_count() or 1),
    }
