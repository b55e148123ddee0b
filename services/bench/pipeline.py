"""The whole pipeline end to end: every worker running, a flood of new complaints sent as
fast as the client can, and the rate at which they are fully processed — registered, routed,
their SLA clocks started, their acknowledgement recorded and archived.

Progress is read from the workers' own tables, so "fully processed" means committed. The
early-warning detector runs beside them, as in production, and takes its share of the
cores; it is no stage of "fully processed" (its alerts are no record a complaint depends on),
but its CPU per complaint is taken once its group has committed the end of its inputs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Collection, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psycopg
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from kafka.admin import OffsetSpec
from kafka.errors import KafkaError
from rich.console import Console
from rich.progress import Progress

from schemas.raw import NewComplaint
from schemas.registry import RAW, TopicSpec
from services.bench.measure import cpu_seconds, machine_busy, rss_mb, tree_cpu_seconds
from services.bench.processes import Processes
from services.commands.workers import WORKERS as ALL_WORKERS
from services.commands.workers import handler_class
from services.devstack.ports import free_port
from services.early_warning.app import SIGNALS_TOPIC
from services.intake import validate
from services.kernel.errors import PoisonMessage
from services.kernel.settings import Settings
from services.simulator.feed import Feed

WORKERS = tuple(ALL_WORKERS)
"""Every worker a deployment runs, the early-warning detector too."""
STAGES = {
    "registered": "SELECT count(*) FROM intake.complaints",
    "routed": "SELECT count(*) FROM routing.decisions WHERE decision IS NOT NULL",
    "sla started": "SELECT count(DISTINCT complaint_id) FROM sla_timer.timers",
    "acknowledged": "SELECT count(*) FROM notification.outbox WHERE kind = 'acknowledgement'",
    "archived": "SELECT count(*) FROM analytics.complaints WHERE reference IS NOT NULL",
}
"""Complaints past each stage, as each worker's committed state says."""


TEMPLATES = 200
"""Distinct complaints drawn from the simulated feed; the rest are copies with new ids."""


def new_complaints(n: int, *, run: str | None = None) -> list[bytes]:
    """`n` valid new complaints, each of its own complaint id, event id and customer: the
    wordings, channels and call centers of the simulated feed's first few hundred (its
    follow-ups and malformed lines left out), copied with fresh identities, so that a
    million are made in seconds. `run` (default: fresh) keeps two runs' ids apart."""
    return list(complaint_stream(n, run=run))


def complaint_stream(n: int, *, run: str | None = None) -> Iterator[bytes]:
    """`new_complaints`, one at a time (a million need not be held at once)."""
    for _, line in keyed_complaints(n, run=run):
        yield line


def keyed_complaints(n: int, *, run: str | None = None) -> Iterator[tuple[bytes, bytes]]:
    """`complaint_stream` with each event's raw key (see `raw_key`), made without parsing."""
    run = run or uuid.uuid4().hex[:6]
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    forms = _forms(min(n, TEMPLATES))
    for i in range(n):
        source, form = forms[i % len(forms)]
        ref = f"B{run}{i:08d}"
        ids = {"e": f"ev-{run}-{i:08d}", "r": ref, "m": f"c{run}{i}", "p": f"{i % 10**9:09d}"}
        yield f"{source}:{ref}".encode(), (form % {**ids, "t": now}).encode()


def _forms(k: int) -> list[tuple[str, str]]:
    """`k` new complaints of the feed: (source, a %-format string with the ids left open)."""
    feed, out = Feed(seed=23, run="bench"), list[tuple[str, str]]()
    now = datetime.now(UTC)
    while len(out) < k:
        line = next(feed)
        try:
            event = validate.parse(line, now=now)
        except PoisonMessage:
            continue
        if not isinstance(event, NewComplaint):
            continue
        doc = json.loads(line)
        doc["event_id"], doc["complaint_ref"], doc["occurred_at"] = "@E@", "@R@", "@T@"
        customer = doc.get("customer") or {}
        if customer.get("email"):
            customer["email"] = "@M@@example.com"
        if customer.get("phone"):
            customer["phone"] = "+44 7@P@"
        text = json.dumps(doc, ensure_ascii=False).replace("%", "%%")
        for mark, name in (("@E@", "e"), ("@R@", "r"), ("@T@", "t"), ("@M@", "m"), ("@P@", "p")):
            text = text.replace(mark, f"%({name})s")
        out.append((event.source, text))
    return out


def json_object(line: bytes) -> dict[str, Any] | None:
    """The JSON object `line` holds, or None."""
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def worker_env(s: Settings, port: int, **extra: str) -> dict[str, str]:
    """The environment of a worker process on the bench's stack, database and topic prefix,
    serving its ops endpoints on `port`, quiet unless something goes wrong."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers or "",
        "DATABASE_URL": s.db_url(),
        "CF_TOPIC_PREFIX": s.topic_prefix,
        "CF_METRICS_PORT": str(port),
        "CF_HOME": str(s.home),
        "CF_LOG_LEVEL": "WARNING",
        **extra,
    }


def worker_log(s: Settings, name: str) -> IO[bytes]:
    """The file a worker's output goes to: `logs/NAME.log` in its CF_HOME (appended to; the
    run keeps the logs when it ends, see `keep_logs`). The child holds its own descriptor: the
    caller closes this one once the process is started."""
    logs = s.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return (logs / f"{name}.log").open("ab")


def keep_logs(home: Path, to: Path) -> Path | None:
    """Copy the workers' logs of a run (`home/*/logs/*.log`, those not empty) to `to`, each
    named after its stage's topic prefix and worker; `to`, or None when there was none."""
    found = [p for p in sorted(home.glob("*/logs/*.log")) if p.stat().st_size]
    if not found:
        return None
    to.mkdir(parents=True, exist_ok=True)
    for log in found:
        shutil.copyfile(log, to / f"{log.parent.parent.name}-{log.name}")
    return to


@contextmanager
def start_workers(s: Settings, names: tuple[str, ...] = WORKERS, **extra: str) -> Iterator[Workers]:
    """The worker processes named, on one database and topic prefix (real SLA durations), as
    `complaintflow worker NAME` runs them; stopped on leaving however the stage ends, those
    started before an interruption of the starting too."""
    with Processes() as processes:
        yield Workers(processes, s, names, **extra)


class Workers:
    """Running workers: whether they are ready, still running, and what they use."""

    def __init__(
        self, processes: Processes, s: Settings, names: tuple[str, ...], **extra: str
    ) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.urls: dict[str, str] = {}
        for name in names:
            port = free_port()
            env = worker_env(
                s, port, CF_SLA_SCALE="1", CF_PII_KEY="bench-pii-key-0123456789", **extra
            )
            with worker_log(s, name) as log:
                self.procs[name] = processes.start(
                    name,
                    [sys.executable, "-m", "services.commands.cli", "worker", name],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            self.urls[name] = f"http://127.0.0.1:{port}/readyz"

    def wait_ready(self, timeout: float = 180) -> None:
        """Every worker ready (migrated, partitions assigned)."""
        deadline = time.monotonic() + timeout
        while not self.ready():
            self.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers not ready within {timeout:.0f} s")
            time.sleep(0.5)

    def ready(self, name: str | None = None) -> bool:
        """Whether every worker (or the one named) is ready."""
        urls = [self.urls[name]] if name else list(self.urls.values())
        return all(_ready(url) for url in urls)

    def check(self) -> None:
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode}")

    def cpu(self) -> dict[str, float]:
        """CPU seconds each worker has used so far."""
        return {name: cpu_seconds(p.pid) for name, p in self.procs.items()}

    def rss(self) -> dict[str, float]:
        return {name: rss_mb(p.pid) for name, p in self.procs.items()}


def raw_key(line: bytes) -> bytes:
    """The key a call center sends a raw event under: source and its own reference."""
    doc = json_object(line) or {}
    return f"{doc.get('source')}:{doc.get('complaint_ref')}".encode()


def producer(s: Settings, client: str) -> KafkaProducer:
    return KafkaProducer(**s.kafka(client).as_dict(), acks="all", linger_ms=5, batch_size=64 * 1024)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status) == 200
    except OSError:
        return False


def counts(conn: psycopg.Connection, skip: Collection[str] = ()) -> dict[str, int]:
    """Complaints past each stage (but those in `skip`: each count reads a whole table, and
    the database is shared with the workers measured), from the workers' committed state."""
    out: dict[str, int] = {}
    for stage, sql in STAGES.items():
        if stage in skip:
            continue
        try:
            row = conn.execute(sql).fetchone()
            out[stage] = int(row[0]) if row else 0
        except psycopg.errors.UndefinedTable:  # a worker that has not migrated yet
            conn.rollback()
            out[stage] = 0
    conn.rollback()
    return out


def database_backends(conn: psycopg.Connection) -> dict[int, tuple[str, float]]:
    """The database's connection processes open now: pid → (the client's application name,
    CPU seconds used so far). Each worker names its connections; the bench's own is `bench`."""
    rows = conn.execute(
        "SELECT pid, coalesce(nullif(application_name, ''), 'bench') FROM pg_stat_activity"
        " WHERE datname = current_database()"
    ).fetchall()
    conn.rollback()
    return {
        int(pid): (str(name).removeprefix("complaintflow-"), cpu_seconds(int(pid)))
        for pid, name in rows
    }


def database_cpu_by_client(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds the database spent between two `database_backends`, by client, busiest
    first (a connection opened between them counts from its start)."""
    out: dict[str, float] = {}
    for pid, (name, cpu) in after.items():
        out[name] = out.get(name, 0.0) + cpu - before.get(pid, (name, 0.0))[1]
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def run_pipeline(
    s: Settings,
    events: list[bytes],
    *,
    console: Console,
    timeout: float = 1800,
    beside: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Start every worker, wait until each has migrated, flood `events`, and time each stage
    until every complaint is through it; then wait for the early-warning detector's group to
    have committed the end of its inputs, for its CPU per complaint. `beside`: the broker's
    and the database's process (name → pid), when the bench started them, whose CPU per
    complaint is measured too (until every complaint is fully processed)."""
    beside = beside or {}
    n = len(events)
    admin = KafkaAdminClient(**s.kafka("bench-e2e-admin").as_dict())
    with closing(admin), start_workers(s) as workers, psycopg.connect(s.db_url()) as conn:
        # Every worker ready (partitions assigned): the flood meets a settled pipeline.
        workers.wait_ready()
        cpu0 = workers.cpu()
        beside0 = {name: tree_cpu_seconds(pid) for name, pid in beside.items()}
        backends0 = database_backends(conn)
        busy0 = machine_busy()
        prod = producer(s, "bench-e2e")
        started = time.monotonic()
        for line in events:
            prod.send(s.topic(RAW.name), key=raw_key(line), value=line)
        prod.flush()
        sent_s = time.monotonic() - started
        prod.close()
        done: dict[str, float] = {}
        rss_peak = dict.fromkeys(WORKERS, 0.0)
        with Progress(console=console, transient=True) as bar:
            tasks = {stage: bar.add_task(stage, total=n) for stage in STAGES}
            while len(done) < len(STAGES):
                now = time.monotonic() - started
                for stage, count in counts(conn, skip=done).items():
                    bar.update(tasks[stage], completed=count)
                    if count >= n and stage not in done:
                        done[stage] = now
                for name, mb in workers.rss().items():
                    rss_peak[name] = max(rss_peak[name], mb)
                workers.check()
                if now > timeout:
                    raise RuntimeError(f"not through every stage after {timeout:.0f}s")
                # Each count reads a whole table of the database the workers share: as the
                # tables grow, look less often (stage times to within 2%).
                time.sleep(max(0.5, 0.02 * now))
        total = max(done.values())
        busy1 = machine_busy()
        cpu1 = workers.cpu()
        beside1 = {name: tree_cpu_seconds(pid) for name, pid in beside.items()}
        by_client = database_cpu_by_client(backends0, database_backends(conn))
        with Progress(console=console, transient=True) as bar:
            bar.add_task("early-warning detector: catching up", total=None)
            while not caught_up(admin, s, ("early_warning",)):
                workers.check()
                if time.monotonic() - started > timeout:
                    raise RuntimeError(f"early warning not caught up after {timeout:.0f}s")
                time.sleep(0.5)
        detector_s = time.monotonic() - started
        cpu1["early_warning"] = workers.cpu()["early_warning"]
        rss_peak["early_warning"] = max(rss_peak["early_warning"], workers.rss()["early_warning"])
    return {
        "complaints": n,
        "client_send_per_s": n / sent_s,
        "complaints_per_s": n / total,
        "stage_done_s": done,
        "early_warning_done_s": detector_s,
        "cpu_us_per_complaint": {name: 1e6 * (cpu1[name] - cpu0[name]) / n for name in cpu1},
        "cpu_us_per_complaint_beside": {
            name: 1e6 * (beside1[name] - beside0[name]) / n for name in beside
        },
        "database_cpu_us_per_complaint_by_client": {
            name: 1e6 * seconds / n for name, seconds in by_client.items()
        },
        "rss_peak_mb": rss_peak,
        "machine_busy_cores": (busy1[0] - busy0[0]) / (busy1[1] - busy0[1]) * (os.cpu_count() or 1),
    }


def consumed(
    admin: KafkaAdminClient, s: Settings, inputs: dict[str, list[TopicSpec]]
) -> dict[str, int]:
    """Records each worker's group has committed, over all its input topics."""
    out: dict[str, int] = {}
    for name, specs in inputs.items():
        group, topics = s.group(name), {s.topic(spec.name) for spec in specs}
        try:
            offsets = admin.list_group_offsets(group).get(group, {})
        except KafkaError:  # no coordinator yet, a passing error: the next sample counts
            offsets = {}
        out[name] = sum(
            o.offset for tp, o in offsets.items() if tp.topic in topics and o.offset > 0
        )
    return out


def read_topics(name: str) -> list[tuple[str, int]]:
    """The topics (name, partitions) whose offsets a worker's group commits: its inputs, and
    the early-warning detector's internal topic of signals (its work is done when that is
    read too)."""
    found = [(spec.name, spec.partitions) for spec in handler_class(name).inputs]
    if name == "early_warning":
        found.append((SIGNALS_TOPIC, 1))
    return found


def ends(
    admin: KafkaAdminClient, s: Settings, names: tuple[str, ...]
) -> dict[TopicPartition, int] | None:
    """The end offset of every partition the groups named read (None while a worker's
    internal topic is not made yet, or not in the metadata)."""
    try:
        found = admin.list_partition_offsets(
            {
                TopicPartition(s.topic(topic), p): OffsetSpec.LATEST
                for name in names
                for topic, partitions in read_topics(name)
                for p in range(partitions)
            }
        )
    except KafkaError:
        return None
    return {tp: info.offset for tp, info in found.items()}


def caught_up(
    admin: KafkaAdminClient,
    s: Settings,
    names: tuple[str, ...],
    upto: dict[TopicPartition, int] | None = None,
) -> bool:
    """Every group named has committed the end of every partition it reads (or `upto`: the
    ends as they were at some moment, for topics that keep growing)."""
    upto = upto if upto is not None else ends(admin, s, names)
    if upto is None:
        return False
    for name in names:
        group, wanted = s.group(name), {s.topic(topic) for topic, _ in read_topics(name)}
        try:
            offsets = admin.list_group_offsets(group).get(group, {})
        except KafkaError:  # no coordinator yet, a passing error: not known to be through
            return False
        committed = {tp: o.offset for tp, o in offsets.items()}
        for tp, end in upto.items():
            if tp.topic in wanted and max(committed.get(tp, 0), 0) < end:
                return False
    return True
