"""Intake alone: one and two instances draining a backlog, and raw → registered at a
fixed rate."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import closing
from typing import Any

from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from kafka.admin import OffsetSpec
from kafka.errors import KafkaError
from rich.progress import Progress

from schemas.envelope import complaint_id_for
from schemas.registry import RAW
from services.bench.bare import Counter, console, reader
from services.bench.measure import cpu_seconds, machine_busy, percentile, rss_mb
from services.bench.pipeline import json_object, worker_env, worker_log
from services.bench.processes import Processes
from services.devstack.ports import free_port
from services.kernel.settings import Settings
from services.sdk.submit import send_raw
from services.simulator.feed import Feed


def feed_events(n: int) -> list[bytes]:
    feed = Feed(seed=11)
    return [next(feed) for _ in range(n)]


def _start_intake(processes: Processes, s: Settings) -> subprocess.Popen[bytes]:
    env = worker_env(s, free_port(), CF_POLL_TIMEOUT_MS="50")
    with worker_log(s, "intake") as log:
        return processes.start(
            "intake",
            [sys.executable, "-m", "services.commands.cli", "worker", "intake"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def intake_throughput(s: Settings, events: list[bytes], instances: int) -> dict[str, Any]:
    """`instances` intake processes in one consumer group drain a backlog of `events`.

    Progress is read from the group's committed offsets: an event counts once its outputs
    are acknowledged by the broker and its state is committed in the database. The window
    opens when every instance holds partitions (process start, migrations and the group
    join are not counted) and closes when the first instance has drained its partitions,
    so it measures all instances busy at once.
    """
    prod = KafkaProducer(
        **s.kafka("bench-feed").as_dict(), acks="all", linger_ms=5, batch_size=64 * 1024
    )
    for ev in events:
        send_raw(prod, s, ev)
    prod.flush()
    prod.close()
    admin = KafkaAdminClient(**s.kafka("bench-admin").as_dict())
    group, topic = s.group("intake"), s.topic(RAW.name)
    ends = {
        tp.partition: info.offset
        for tp, info in admin.list_partition_offsets(
            {TopicPartition(topic, p): OffsetSpec.LATEST for p in range(RAW.partitions)}
        ).items()
    }
    with (
        closing(admin),
        Processes() as processes,
        Progress(console=console, transient=True) as bar,
    ):
        procs = [_start_intake(processes, s) for _ in range(instances)]
        task = bar.add_task(f"intake ×{instances}: joining the group", total=len(events))
        members = _wait_members(admin, group, procs, timeout=120)
        t0, done = time.monotonic(), _committed(admin, group, topic)
        done0 = sum(done.values())
        cpu0, machine0 = [cpu_seconds(p.pid) for p in procs], machine_busy()
        bar.update(task, description=f"intake ×{instances}", completed=done0)
        while all(sum(ends[p] - done.get(p, 0) for p in parts) > 0 for parts in members):
            if time.monotonic() - t0 > 600:
                raise RuntimeError(f"intake: {sum(done.values())} of {len(events)} after 600 s")
            _check_running(procs)
            time.sleep(0.05)
            done = _committed(admin, group, topic)
            bar.update(task, completed=sum(done.values()))
        elapsed = time.monotonic() - t0
        cores = [(cpu_seconds(p.pid) - c) / elapsed for p, c in zip(procs, cpu0, strict=True)]
        busy, total = (b - a for a, b in zip(machine0, machine_busy(), strict=True))
        rss = max(rss_mb(p.pid) for p in procs)
    measured = sum(done.values()) - done0
    return {
        "instances": instances,
        "events": measured,
        "window_s": elapsed,
        "events_per_s": measured / elapsed,
        "rss_mb": rss,
        "instance_cores": cores,
        "machine_busy_cores": (os.cpu_count() or 1) * busy / total if total else 0.0,
    }


def _wait_members(
    admin: KafkaAdminClient, group: str, procs: list[subprocess.Popen[bytes]], timeout: float
) -> list[list[int]]:
    """Wait until the group is stable with one member per process, each holding partitions;
    returns the partitions of each member."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check_running(procs)
        try:
            described = admin.describe_groups([group])
        except KafkaError:  # e.g. no coordinator yet: the broker's first group
            time.sleep(0.2)
            continue
        desc = described.get(group) if isinstance(described, dict) else None
        members = (desc or {}).get("members") or []
        held = [
            [
                p
                for a in (m.get("member_assignment") or {}).get("assigned_partitions") or []
                for p in a["partitions"]
            ]
            for m in members
        ]
        if (
            desc
            and desc.get("group_state") == "Stable"
            and len(members) == len(procs)
            and all(held)
        ):
            return held
        time.sleep(0.1)
    raise RuntimeError(f"intake group {group} not stable with {len(procs)} members in {timeout} s")


def _committed(admin: KafkaAdminClient, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition of `topic` (events fully processed)."""
    for attempt in range(50):
        try:
            offsets = admin.list_group_offsets(group).get(group, {})
            break
        except KafkaError:  # a passing coordinator error; ask again
            if attempt == 49:
                raise
            time.sleep(0.1)
    return {
        tp.partition: o.offset for tp, o in offsets.items() if tp.topic == topic and o.offset > 0
    }


def _check_running(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is not None:
            raise RuntimeError(f"an intake process exited with code {p.returncode}")


def intake_latency(s: Settings, rate: float, seconds: float) -> dict[str, Any]:
    """raw → registered at a fixed rate, from broker timestamps: the feed runs in its own
    process (`complaintflow simulate`), so neither side's client skews the other."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers or "",
        "CF_TOPIC_PREFIX": s.topic_prefix,
    }
    with (
        Processes() as processes,
        closing(reader(s, ["complaints.registered.v1"])) as registered,
        closing(reader(s, [RAW.name])) as raw,
    ):
        _start_intake(processes, s)
        warm = subprocess.run(
            [
                sys.executable,
                "-m",
                "services.commands.cli",
                "simulate",
                "--rate",
                "50",
                "--duration",
                "1",
                "--quiet",
                "--seed",
                "1",
            ],
            env=env,
            capture_output=True,
            timeout=120,
            check=True,
        )
        del warm
        Counter(registered).until(1, 60, "intake warm-up")
        for recs in raw.poll(timeout_ms=500, max_records=100_000).values():
            del recs  # the warm-up events are not measured
        with Progress(transient=True, console=console) as bar:
            bar.add_task(f"feed at {rate:,.0f}/s for {seconds:.0f} s", total=None)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "services.commands.cli",
                    "simulate",
                    "--rate",
                    str(rate),
                    "--duration",
                    str(seconds),
                    "--quiet",
                    "--seed",
                    "23",
                ],
                env=env,
                capture_output=True,
                timeout=seconds + 120,
                check=True,
            )
        sent: dict[str, int] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            batch = raw.poll(timeout_ms=500, max_records=100_000)
            if not batch and sent:
                break
            for recs in batch.values():
                for r in recs:
                    doc = json_object(r.value)
                    if doc and doc.get("type") == "complaint.new" and r.key:
                        source, _, ref = r.key.decode().partition(":")
                        sent.setdefault(complaint_id_for(source, ref), r.timestamp)
        # The feed's first second is its producer connecting and fetching metadata, which a
        # long-lived call-center producer does once: it is not intake's latency.
        first = min(sent.values(), default=0)
        sent = {cid: at for cid, at in sent.items() if at >= first + 1000}
        latencies: list[float] = []
        expected = len(sent)
        deadline = time.monotonic() + 60
        while len(latencies) < expected and time.monotonic() < deadline:
            for recs in registered.poll(timeout_ms=500, max_records=100_000).values():
                for r in recs:
                    at = sent.pop(r.key.decode(), None) if r.key else None
                    if at is not None:
                        latencies.append((r.timestamp - at) / 1000)
    return {
        "rate": rate,
        "events": len(latencies),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies) * 1000 if latencies else float("nan"),
        "latencies_ms": [x * 1000 for x in latencies],
    }
