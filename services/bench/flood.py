"""A flood absorbed: N new complaints queued on `complaints.raw.v1` while every worker is
down (a network outage, a recall, 3·15), then all workers started (the early-warning detector
too) and the backlog drained: every worker's group has committed the end of its inputs (and
the detector's group the end of its internal topic of signals).

Measured: the time to drain (from the workers' start, and from the moment all were
ready), the rate of each worker over time (its consumer group's committed offsets, read
every few seconds: no load on the database), and whether SLA deadlines that fall due
during the drain still breach on time. For those, open P1 timers are written into the
SLA timer's table beforehand (as the SLA stage does), their deadlines spread over a window
that starts `lead_s` after the workers are started; a deadline is honest if it breaches
within a second, and otherwise is reported late with its lag — split by whether it fell
due before the SLA timer was ready (its heap loaded), during the drain, or after it. The flood's own
complaints whose deadlines pass while they wait in the backlog are reported too.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from datetime import datetime
from typing import Any

import psycopg
from kafka import KafkaAdminClient, TopicPartition
from rich.console import Console
from rich.progress import Progress

from schemas.registry import RAW
from services.bench.measure import breach_lag_by_phase, percentile
from services.bench.pipeline import (
    caught_up,
    consumed,
    counts,
    ends,
    keyed_complaints,
    producer,
    start_workers,
)
from services.bench.sla import copy_timers, sla_reader, timer_row
from services.commands.workers import WORKERS, handler_class
from services.kernel.db import migrate
from services.kernel.settings import Settings
from services.sla_timer.migrations import MIGRATIONS

SAMPLE_S = 2.0
"""How often the consumer groups' progress is read."""
GRACE_S = 3.0
"""Seconds past the last planted deadline the run is followed (for its breach)."""


def run_flood(
    s: Settings,
    n: int,
    *,
    deadlines_per_s: float,
    lead_s: float,
    window_s: float,
    timeout: float,
    console: Console,
) -> dict[str, Any]:
    """Queue `n` complaints with the workers down, plant deadlines, start the workers and
    follow the drain (at most `timeout` seconds); the figures."""
    topic = s.topic(RAW.name)
    prod = producer(s, "bench-flood")
    started = time.monotonic()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"flood: queueing {n:,} complaints (workers down)", total=n)
        for i, (key, line) in enumerate(keyed_complaints(n)):
            prod.send(topic, key=key, value=line)
            if i % 5000 == 0:
                bar.update(task, completed=i)
        prod.flush()
    queued_s = time.monotonic() - started
    prod.close()

    with psycopg.connect(s.db_url()) as conn:
        migrate(conn, "sla_timer", MIGRATIONS)
        conn.commit()
    first_due = time.time() + lead_s
    planned = {
        str(uuid.uuid4()): first_due + i / deadlines_per_s
        for i in range(int(deadlines_per_s * window_s))
    }
    last_due = max(planned.values(), default=first_due)
    copy_timers(
        s,
        (timer_row(cid, due) for cid, due in planned.items()),
        len(planned),
        "flood: planting SLA deadlines that fall due during the drain",
        console,
    )

    admin = KafkaAdminClient(**s.kafka("bench-flood-admin").as_dict())
    names = tuple(WORKERS)  # every worker, the early-warning detector too: all are waited for
    inputs = {name: list(handler_class(name).inputs) for name in names}
    samples: list[tuple[float, dict[str, int]]] = []
    t0 = time.time()
    ready_s: float | None = None
    timer_ready_s: float | None = None
    drained_s: float | None = None
    # The end offsets when every stage held the flood: drained once every group is past them
    # (escalations keep adding events after; they are no backlog).
    upto: dict[TopicPartition, int] | None = None
    with start_workers(s, names) as workers, psycopg.connect(s.db_url()) as conn:
        cpu0 = workers.cpu()  # migrations and start-up are in it; small beside a drain
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("flood: draining", total=n)
            while time.time() - t0 < timeout:
                workers.check()
                done = consumed(admin, s, inputs)
                samples.append((time.time() - t0, done))
                if timer_ready_s is None and workers.ready("sla_timer"):
                    timer_ready_s = time.time() - t0
                if ready_s is None and workers.ready():
                    ready_s = time.time() - t0
                bar.update(task, completed=done["intake"])
                if (
                    drained_s is None
                    and upto is None
                    and done["intake"] >= n
                    and all(c >= n for c in counts(conn).values())
                ):  # every stage holds the flood; the topics' ends then are its backlog's
                    upto = ends(admin, s, names)
                if drained_s is None and upto is not None and caught_up(admin, s, names, upto):
                    drained_s = time.time() - t0
                    cpu1 = workers.cpu()
                    bar.update(task, description="flood: drained; the last deadlines fall due")
                if drained_s is not None and time.time() > last_due + GRACE_S:
                    break
                time.sleep(SAMPLE_S)
        through = counts(conn)
        rss = workers.rss()
        if drained_s is None:
            cpu1 = workers.cpu()
    admin.close()
    planted, own = _breaches(s, planned)
    through_all = min(through.values())
    end_s = drained_s if drained_s is not None else time.time() - t0
    points = [(due - t0, planted.get(cid)) for cid, due in planned.items()]
    return {
        "events": n,
        "queued_per_s": n / queued_s,
        "drained": drained_s is not None,
        "workers_ready_s": ready_s,
        "sla_timer_ready_s": timer_ready_s,
        "drain_s": drained_s,
        "drain_after_ready_s": None
        if drained_s is None or ready_s is None
        else drained_s - ready_s,
        "through_each_stage": through,
        "complaints_per_s": through_all / end_s if end_s else 0.0,
        "rate_samples": [{"t": t, **done} for t, done in samples],
        "rss_mb": rss,
        "cpu_us_per_complaint": {
            name: 1e6 * (cpu1[name] - cpu0[name]) / max(1, through_all) for name in cpu1
        },
        "deadlines": {
            "planted": len(planned),
            "lead_s": lead_s,
            "window_s": window_s,
            "per_s": deadlines_per_s,
            "phases": breach_lag_by_phase(points, ready_s=timer_ready_s, drained_s=drained_s),
            "points": sorted((at, lag) for at, lag in points if lag is not None),
        },
        "flood_breaches": own,
    }


def _breaches(s: Settings, planned: dict[str, float]) -> tuple[dict[str, float], dict[str, Any]]:
    """Each target's first breach on `complaints.sla.v1` (read from its beginning to its end):
    how late the planted timers breached (seconds: the record's broker timestamp minus the
    planted deadline), and the flood's own complaints whose deadlines passed in the backlog
    (the timestamp minus the deadline the event names). Read from the topic, not from the
    timers' rows: a row's `updated_at` moves on at each escalation after the breach."""
    planted: dict[str, float] = {}
    own: dict[tuple[str, str], float] = {}
    with contextlib.closing(sla_reader(s)) as reader:
        ends = reader.end_offsets(list(reader.assignment()))
        while any(reader.position(tp) < end for tp, end in ends.items()):
            for records in reader.poll(timeout_ms=1000, max_records=10_000).values():
                for r in records:
                    if b'"breached"' not in r.value:
                        continue
                    doc = json.loads(r.value)
                    if doc.get("kind") != "breached":
                        continue
                    cid, at = doc["complaint_id"], r.timestamp / 1000
                    if cid in planned:
                        planted.setdefault(cid, at - planned[cid])
                    else:
                        deadline = datetime.fromisoformat(doc["deadline"]).timestamp()
                        own.setdefault((cid, doc["target"]), at - deadline)
    lags = list(own.values())
    return planted, {
        "breached": len(lags),
        "lag_p50_ms": percentile(lags, 50) * 1000,
        "lag_p99_ms": percentile(lags, 99) * 1000,
        "lag_max_ms": max(lags) * 1000 if lags else float("nan"),
    }
