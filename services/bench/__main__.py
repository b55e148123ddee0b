"""Benchmarks of the pipeline on this machine, each next to bare Kafka doing the same I/O.

1. bare Kafka: produce N raw messages (acks=all), then consume them.
2. intake throughput: N raw events already on the topic; one intake instance, then two in
   one consumer group, drain them (consume, validate, de-duplicate, store, produce).
3. intake latency at a fixed rate: send time → the registered event's broker timestamp.
4. SLA timer: breach lag with a million open timers and 1,000 deadlines a second falling
   due, worker memory per million open timers, recovery after kill -9 (see `sla.py`).
5. The whole pipeline: every worker running, a flood of new complaints, the rate at which
   they are fully processed, against bare Kafka on the same messages (see `pipeline.py`).

6. Fixed offered loads: latency p50/p95/p99 per stage and raw → routed at 100, 1,000 and
   5,000 new complaints a second, and whether each load is sustained (see `load.py`).
7. A flood: a million complaints queued while the workers are down, then drained, with SLA
   deadlines falling due during the drain (see `flood.py`).

Bare Kafka is measured twice on the same messages and partitions: Kafka's own performance
tools (`kafka_tools.py`) and kafka-python. Results are printed as a table and written to
`bench-results/<date>.json` with a markdown summary and charts beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import OffsetSpec
from kafka.errors import KafkaError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from schemas.envelope import complaint_id_for
from schemas.registry import RAW, REGISTERED, TOPICS
from services.bench.chart import latency_svg
from services.bench.flood import run_flood
from services.bench.kafka_tools import kafka_tools
from services.bench.load import offered_loads
from services.bench.measure import cpu_seconds, machine_busy, percentile, rss_mb
from services.bench.pipeline import new_complaints, run_pipeline
from services.bench.report import cpu_chart, flood_chart, latency_chart, markdown, throughput_chart
from services.bench.sla import run_sla
from services.devstack.ports import free_port, stop_process
from services.kernel.kafka import ensure_topics
from services.kernel.settings import Settings
from services.sdk.submit import send_raw
from services.simulator.feed import Feed

console = Console()


def _stack(home: Path) -> tuple[Settings, list[int]]:
    bootstrap, db = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    if bootstrap and db:
        return Settings(kafka_bootstrap_servers=bootstrap, database_url=db), []
    from services.devstack.local_kafka import LocalKafka
    from services.devstack.local_postgres import LocalPostgres

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

    from services.kernel.db import with_database

    with psycopg.connect(settings.db_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "bench_{tag}"')
    s = settings.model_copy(
        update={
            "topic_prefix": f"bench{tag}.",
            "database_url": with_database(settings.db_url(), f"bench_{tag}"),
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
        [sys.executable, "-m", "services.commands.cli", "worker", "intake"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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
    procs = [_start_intake(s) for _ in range(instances)]
    try:
        with Progress(console=console, transient=True) as bar:
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
    finally:
        for p in procs:
            stop_process(p.pid, signal.SIGTERM, 30)
        admin.close()
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
    proc = _start_intake(s)
    registered = _reader(s, ["complaints.registered.v1"])
    raw = _reader(s, [RAW.name])
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers or "",
        "CF_TOPIC_PREFIX": s.topic_prefix,
    }
    try:
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
        _Counter(registered).until(1, 60, "intake warm-up")
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
                    doc = _doc(r.value)
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
    finally:
        stop_process(proc.pid, signal.SIGTERM, 30)
        registered.close()
        raw.close()
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


STAGES = ("kafka", "intake", "pipeline", "loads", "sla", "flood")
"""What a run can measure (`--only`, `--skip`)."""
QUICK = dict(
    events=10_000,
    pipeline_complaints=500,
    loads="100,1000,5000",
    load_seconds=3.0,
    flood_events=1_000,
    flood_deadlines_per_s=50.0,
    flood_lead=15.0,
    flood_window=20.0,
)
"""`--quick`: every stage but the intake runs and the million timers, small."""


class Rows:
    """The figures as (measure, value) rows: printed as a table, written as markdown."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []

    def add_row(self, measure: str, value: str) -> None:
        self.rows.append((measure, value))

    def add_section(self) -> None:
        self.rows.append(("", ""))

    def table(self) -> Table:
        table = Table(title="ComplaintFlow bench (this machine, broker on the same machine)")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for m, v in self.rows:
            if m or v:
                table.add_row(m, v)
            else:
                table.add_section()
        return table


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="make bench", description=__doc__)
    p.add_argument(
        "--quick",
        action="store_true",
        help="about a minute: small sizes, no intake runs and no million timers",
    )
    p.add_argument("--only", default="", help=f"comma-separated stages to run: {', '.join(STAGES)}")
    p.add_argument("--skip", default="", help="comma-separated stages to leave out")
    p.add_argument("--only-sla", action="store_true", help="same as --only sla")
    p.add_argument("--skip-sla", action="store_true", help="same as --skip sla")
    p.add_argument("--only-pipeline", action="store_true", help="same as --only pipeline")
    p.add_argument("--skip-intake", action="store_true", help="same as --skip intake")
    p.add_argument("--events", type=int, default=100_000, help="events for throughput runs")
    p.add_argument(
        "--intake-instances",
        default="1,2",
        help="intake throughput runs: comma-separated numbers of instances in one group",
    )
    p.add_argument("--rate", type=float, default=1000.0, help="events/s for the intake latency run")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the intake latency run")
    p.add_argument("--out", default="bench-results", help="directory for JSON, markdown, charts")
    p.add_argument(
        "--pipeline-complaints",
        type=int,
        default=20_000,
        help="new complaints flooded through every running worker (0 skips the stage)",
    )
    loads = p.add_argument_group("fixed offered loads")
    loads.add_argument(
        "--loads", default="100,1000,5000", help="offered new complaints per second, in turn"
    )
    loads.add_argument("--load-seconds", type=float, default=10.0, help="length of each load")
    flood = p.add_argument_group("flood")
    flood.add_argument(
        "--flood-events",
        type=int,
        default=1_000_000,
        help="new complaints queued while the workers are down, then drained",
    )
    flood.add_argument(
        "--flood-deadlines-per-s",
        type=float,
        default=100.0,
        help="SLA deadlines planted to fall due per second during the drain",
    )
    flood.add_argument(
        "--flood-lead",
        type=float,
        default=30.0,
        help="seconds from starting the workers to the first of those deadlines",
    )
    flood.add_argument(
        "--flood-window", type=float, default=300.0, help="seconds over which they fall due"
    )
    flood.add_argument(
        "--flood-timeout",
        type=float,
        default=3600.0,
        help="give up following the drain after this many seconds (reported as not drained)",
    )
    sla = p.add_argument_group("SLA timer stage")
    sla.add_argument(
        "--sla-timers", type=int, default=1_000_000, help="open timers in the database"
    )
    sla.add_argument("--sla-rate", type=float, default=1000.0, help="deadlines falling due per s")
    sla.add_argument("--sla-seconds", type=float, default=30.0, help="length of the steady window")
    sla.add_argument(
        "--sla-down", type=float, default=5.0, help="seconds of deadlines with the worker killed"
    )
    sla.add_argument(
        "--sla-recover",
        type=float,
        default=30.0,
        help="seconds of deadlines from the restart of the worker on",
    )
    sla.add_argument(
        "--sla-lead",
        type=float,
        default=None,
        help="seconds from loading the due timers to the first deadline"
        " (default: 20 + 25 per million timers)",
    )
    args = p.parse_args(argv)
    given = {a.split("=")[0].lstrip("-").replace("-", "_") for a in (argv or sys.argv[1:])}
    if args.quick:
        for key, value in QUICK.items():
            if key not in given:  # what is said on the command line wins
                setattr(args, key, value)
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    only |= {"sla"} if args.only_sla else set()
    only |= {"pipeline"} if args.only_pipeline else set()
    skip |= {"sla"} if args.skip_sla else set()
    skip |= {"intake"} if args.skip_intake else set()
    if args.quick and not only:
        skip |= {"intake", "sla"}
    if args.pipeline_complaints <= 0:
        skip.add("pipeline")
    unknown = (only | skip) - set(STAGES)
    if unknown:
        p.error(f"unknown stage(s) {', '.join(sorted(unknown))}: expected {', '.join(STAGES)}")
    args.stages = [st for st in STAGES if (not only or st in only) and st not in skip]
    return args


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    stages = args.stages
    instances = [int(n) for n in args.intake_instances.split(",") if n.strip()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime())
    home = Path("/tmp") / f"cf-bench-{uuid.uuid4().hex[:8]}"
    home.mkdir()
    console.print(f"Stages: {', '.join(stages)}. Starting a local stack in {home} ...")
    base, pids = _stack(home)
    result: dict[str, Any] = {
        "at": stamp,
        "cpus": os.cpu_count(),
        "machine": _machine(),
        "command": _command(argv),
        "stages": stages,
    }
    started = time.monotonic()

    def step(label: str) -> None:
        done = len([k for k in result if k in STAGE_KEYS])
        console.print(
            f"[bold]{done + 1}/{len(stages)}[/] {label}"
            f"  [dim]({time.monotonic() - started:,.0f} s)[/]"
        )

    try:
        if "kafka" in stages:
            events = new_complaints(args.events)
            step(f"bare Kafka: Kafka's own tools and kafka-python, {len(events):,} raw events")
            s = _fresh(base)
            result["kafka_tools"] = kafka_tools(
                s.kafka_bootstrap_servers or "", s.topic(RAW.name), events
            )
            result["bare_kafka"] = bare_kafka(_fresh(base), events)
        if "intake" in stages:
            events = _events(args.events)
            thr: dict[str, Any] = {}
            for n in instances:
                step(f"intake throughput, {len(events):,} events, {n} instance(s)")
                thr[f"{n}_instances"] = intake_throughput(_fresh(base), events, n)
            result["intake"] = thr
            step(f"intake latency at {args.rate:,.0f} events/s")
            result["latency"] = intake_latency(_fresh(base), args.rate, args.seconds)
        if "pipeline" in stages:
            step(
                f"whole pipeline: {args.pipeline_complaints:,} new complaints flooded through"
                " every running worker (the maximum sustained rate)"
            )
            result["pipeline"] = run_pipeline(
                _fresh(base), new_complaints(args.pipeline_complaints), console=console
            )
        if "loads" in stages:
            rates = [float(r) for r in args.loads.split(",") if r.strip()]
            step(
                f"fixed offered loads {', '.join(f'{r:,.0f}' for r in rates)}/s,"
                f" {args.load_seconds:g} s each"
            )
            result["loads"] = offered_loads(_fresh(base), rates, args.load_seconds, console=console)
        if "sla" in stages:
            step(
                f"SLA timer: {args.sla_timers:,} open timers, {args.sla_rate:,.0f} deadlines/s,"
                " kill -9 and recovery"
            )
            result["sla"] = run_sla(
                _fresh(base),
                timers=args.sla_timers,
                rate=args.sla_rate,
                seconds=args.sla_seconds,
                down=args.sla_down,
                recover=args.sla_recover,
                lead=args.sla_lead,
                logs=out,
                stamp=stamp,
                console=console,
            )
        if "flood" in stages:
            step(
                f"flood: {args.flood_events:,} complaints queued with the workers down, then"
                f" drained; {args.flood_deadlines_per_s:,.0f} deadlines/s falling due"
            )
            result["flood"] = run_flood(
                _fresh(base),
                args.flood_events,
                deadlines_per_s=args.flood_deadlines_per_s,
                lead_s=args.flood_lead,
                window_s=args.flood_window,
                timeout=args.flood_timeout,
                console=console,
            )
    finally:
        for pid in pids:
            stop_process(pid, signal.SIGINT if pid == pids[-1] else signal.SIGTERM, 60)
        subprocess.run(["rm", "-rf", str(home)], check=False)
    result["elapsed_s"] = time.monotonic() - started
    _write(result, out, stamp, args)
    return 0


STAGE_KEYS = ("kafka_tools", "intake", "pipeline", "loads", "sla", "flood")


def _command(argv: list[str] | None) -> str:
    args = argv if argv is not None else sys.argv[1:]
    return "make bench" + (f' ARGS="{" ".join(args)}"' if args else "")


def _machine() -> str:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        model = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "")
    mem = ""
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        kb = int(fh.readline().split()[1])
        mem = f", {kb / 1048576:.0f} GiB RAM"
    system = f"{platform.system()} {platform.release()}"
    return f"{platform.node()}: {model or platform.machine()}{mem}, {system}"


def _write(result: dict[str, Any], out: Path, stamp: str, args: argparse.Namespace) -> None:
    rows = Rows()
    bare_rate = _bare_rate(result)
    if "kafka_tools" in result:
        _kafka_rows(rows, result)
    if "intake" in result:
        _intake_rows(rows, result, args.rate, bare_rate)
    if "pipeline" in result:
        _pipeline_rows(rows, result["pipeline"], bare_rate)
    if "loads" in result:
        _load_rows(rows, result["loads"])
    if "sla" in result:
        _sla_rows(rows, result["sla"])
    if "flood" in result:
        _flood_rows(rows, result["flood"])
    console.print(rows.table())

    charts: list[str] = []
    for name, draw in (
        ("throughput", lambda p: throughput_chart(result, p)),
        ("cpu", lambda p: "pipeline" in result and cpu_chart(result["pipeline"], p)),
        ("latency", lambda p: "loads" in result and latency_chart(result["loads"], p)),
        ("flood", lambda p: "flood" in result and flood_chart(result["flood"], p)),
    ):
        path = out / f"{stamp}-{name}.png"
        if draw(path):
            charts.append(path.name)
    if "latency" in result:
        lat = result["latency"]
        (out / f"{stamp}-intake-latency.svg").write_text(
            latency_svg(
                lat.pop("latencies_ms"), title=f"raw → registered at {args.rate:,.0f} events/s"
            )
        )
        charts.append(f"{stamp}-intake-latency.svg")
    if "sla" in result:
        slar = result["sla"]
        (out / f"{stamp}-sla-breach-lag.svg").write_text(
            latency_svg(
                slar.pop("steady_late_by_ms"),
                title=f"SLA breach lag (late_by) with {slar['timers']:,} open timers,"
                f" {slar['rate']:,.0f} deadlines/s",
            )
        )
        charts.append(f"{stamp}-sla-breach-lag.svg")
    (out / f"{stamp}.json").write_text(json.dumps(result, indent=2, default=str))
    (out / f"{stamp}.md").write_text(markdown(result, rows.rows, charts))
    console.print(
        f"Results in {out}/{stamp}.json, the summary in {out}/{stamp}.md"
        f" (charts: {', '.join(charts) or 'none'})"
    )


def _bare_rate(result: dict[str, Any]) -> float | None:
    """The bare-Kafka produce → consume rate of kafka-python: the slower of the two."""
    bare = result.get("bare_kafka")
    return min(bare["produce_per_s"], bare["consume_per_s"]) if bare else None


def _kafka_rows(rows: Rows, result: dict[str, Any]) -> None:
    tools, bare = result["kafka_tools"], result["bare_kafka"]
    rows.add_row(
        "bare Kafka, Kafka's own tools: produce (acks=all) / consume",
        f"{tools['produce_per_s']:,.0f} / {tools['consume_per_s']:,.0f} msg/s",
    )
    pl = tools["produce_latency_ms"]
    rows.add_row(
        "  produce latency p50 / p95 / p99 (Kafka's tool, flat out)",
        f"{pl['p50_ms']:,.0f} / {pl['p95_ms']:,.0f} / {pl['p99_ms']:,.0f} ms",
    )
    rows.add_row(
        "bare Kafka, kafka-python: produce (acks=all) / consume",
        f"{bare['produce_per_s']:,.0f} / {bare['consume_per_s']:,.0f} msg/s",
    )
    rows.add_row(
        "  kafka-python against Kafka's tools (produce / consume)",
        f"{bare['produce_per_s'] / tools['produce_per_s']:.0%}"
        f" / {bare['consume_per_s'] / tools['consume_per_s']:.0%}",
    )


def _intake_rows(rows: Rows, result: dict[str, Any], rate: float, bare: float | None) -> None:
    rows.add_section()
    for n, t in result["intake"].items():
        ratio = f" ({t['events_per_s'] / bare:.0%} of bare)" if bare else ""
        rows.add_row(
            f"intake throughput, {n.replace('_', ' ')}", f"{t['events_per_s']:,.0f} events/s{ratio}"
        )
        rows.add_row(
            "  CPU per instance / machine; RSS",
            f"{' + '.join(f'{c:.2f}' for c in t['instance_cores'])}"
            f" / {t['machine_busy_cores']:.2f} of {os.cpu_count()} cores;"
            f" {t['rss_mb']:,.0f} MiB",
        )
    lat = result["latency"]
    rows.add_row(
        f"raw → registered p50 / p99 @ {rate:,.0f}/s",
        f"{lat['p50_ms']:,.1f} / {lat['p99_ms']:,.1f} ms",
    )


def _load_rows(rows: Rows, loads: dict[str, Any]) -> None:
    rows.add_section()
    for rate, load in loads.items():
        verdict = "sustained" if load["sustained"] else f"NOT sustainable: {load['why_not']}"
        rows.add_row(
            f"offered {float(rate):,.0f} complaints/s ({load['complaints']:,})",
            f"sent {load['sent_per_s']:,.0f}/s; {verdict}",
        )
        for label, lat in load["latency"].items():
            if not lat["n"]:
                continue
            rows.add_row(
                f"  {label} p50 / p95 / p99",
                f"{lat['p50_ms']:,.0f} / {lat['p95_ms']:,.0f} / {lat['p99_ms']:,.0f} ms",
            )


def _flood_rows(rows: Rows, f: dict[str, Any]) -> None:
    rows.add_section()
    rows.add_row(
        f"flood: {f['events']:,} complaints queued (workers down)",
        f"{f['queued_per_s']:,.0f} events/s sent",
    )
    if f["drained"]:
        rows.add_row(
            "  drained: workers started → all through every stage",
            f"{f['drain_s']:,.1f} s ({f['complaints_per_s']:,.0f} complaints/s;"
            f" all workers ready after {f['workers_ready_s'] or 0:,.1f} s,"
            f" the SLA timer after {f['sla_timer_ready_s'] or 0:,.1f} s)",
        )
    else:
        through = min(f["through_each_stage"].values())
        left = f["events"] - through
        eta = left / f["complaints_per_s"] if f["complaints_per_s"] else float("inf")
        rows.add_row(
            "  NOT drained when the bench stopped following it",
            f"{through:,} of {f['events']:,} through every stage at {f['complaints_per_s']:,.0f}/s;"
            f" about {eta:,.0f} s more at that rate",
        )
    rows.add_row(
        "  CPU per complaint while draining (µs)",
        ", ".join(f"{k} {v:,.0f}" for k, v in f["cpu_us_per_complaint"].items()),
    )
    d = f["deadlines"]
    rows.add_row(
        "  SLA deadlines planted to fall due",
        f"{d['per_s']:,.0f}/s for {d['window_s']:g} s from {d['lead_s']:g} s after the start",
    )
    for phase, p in d["phases"].items():
        if not p["deadlines"]:
            continue
        rows.add_row(
            f"    falling due {phase}: breached; lag p50 / p99 / max; later than 1 s",
            f"{p['breached']:,} of {p['deadlines']:,}; {p['p50_ms']:,.0f} / {p['p99_ms']:,.0f}"
            f" / {p['max_ms']:,.0f} ms; {p['over_1s']:,}",
        )
    own = f["flood_breaches"]
    if own["breached"]:
        rows.add_row(
            "  the flood's own deadlines passed in the backlog: breached, lag p50 / max",
            f"{own['breached']:,},"
            f" {own['lag_p50_ms'] / 1000:,.1f} / {own['lag_max_ms'] / 1000:,.1f} s",
        )


def _pipeline_rows(rows: Rows, r: dict[str, Any], bare: float | None) -> None:
    rows.add_section()
    ratio = f" ({r['complaints_per_s'] / bare:.1%} of bare Kafka's {bare:,.0f}/s)" if bare else ""
    rows.add_row(
        f"whole pipeline, {r['complaints']:,} new complaints (maximum sustained rate)",
        f"{r['complaints_per_s']:,.0f} complaints/s{ratio}",
    )
    rows.add_row("  client send rate", f"{r['client_send_per_s']:,.0f} events/s")
    rows.add_row(
        "  through each stage after (s)",
        ", ".join(f"{k} {v:.1f}" for k, v in r["stage_done_s"].items()),
    )
    rows.add_row(
        "  CPU per complaint (µs)",
        ", ".join(f"{k} {v:,.0f}" for k, v in r["cpu_us_per_complaint"].items()),
    )
    rows.add_row(
        "  peak RSS (MiB); machine busy",
        ", ".join(f"{k} {v:,.0f}" for k, v in r["rss_peak_mb"].items())
        + f"; {r['machine_busy_cores']:.2f} of {os.cpu_count()} cores",
    )


def _sla_rows(table: Rows, r: dict[str, Any]) -> None:
    n, rate = r["timers"], r["rate"]
    st, rss, rec, down = r["steady"], r["rss"], r["recovery"], r["down"]
    at = f"{n / 1e6:g}M timers, {rate:,.0f}/s"
    table.add_section()
    table.add_row(f"SLA timers ({at}): COPY", f"{r['load']['far_rows_per_s']:,.0f} rows/s")
    table.add_row("SLA worker start → ready (heap loaded)", f"{r['startup']['ready_s']:,.1f} s")
    wu = r["warmup"]["record_ts"]
    table.add_row(
        "SLA breach lag, first second after start (record ts) p50 / max",
        f"{wu['p50_ms']:,.1f} / {wu['max_ms']:,.1f} ms",
    )
    table.add_row(
        f"SLA breaches in steady window ({r['windows_s']['steady']:g} s)",
        f"{st['breaches']:,} of {st['expected']:,}",
    )
    for label, key in (
        ("late_by", "late_by"),
        ("record ts", "record_ts"),
        ("received", "received"),
    ):
        s = st[key]
        table.add_row(
            f"SLA breach lag ({label}) p50 / p99 / max",
            f"{s['p50_ms']:,.1f} / {s['p99_ms']:,.1f} / {s['max_ms']:,.1f} ms",
        )
    table.add_row("SLA breaches later than 1 s (record ts)", f"{st['over_1s']:,}")
    table.add_row(
        "SLA worker CPU in steady window (whole machine)",
        f"{r['cpu'].get('steady_cores', 0):,.2f} ({r['cpu'].get('machine_busy_cores', 0):,.2f})"
        f" of {os.cpu_count()} cores",
    )
    table.add_row(
        "SLA worker RSS: no timers / loaded / end of steady / peak",
        f"{rss.get('baseline_mb', 0):,.0f} / {rss.get('loaded_mb', 0):,.0f}"
        f" / {rss.get('steady_end_mb', 0):,.0f} / {rss.get('steady_end_hwm_mb', 0):,.0f} MiB",
    )
    table.add_row(
        "SLA worker RSS per million timers (total / peak / above no-timer base)",
        f"{rss['mb_per_million']:,.0f} / {rss['hwm_mb_per_million']:,.0f}"
        f" / {rss['timers_mb_per_million']:,.0f} MiB",
    )
    table.add_row("kill -9 → restart (down)", f"{rec['killed_to_restart_s']:,.1f} s")
    table.add_row("restart → ready", f"{rec['ready_s']:,.1f} s")
    table.add_row("restart → first breach", f"{rec['first_breach_s']:,.1f} s")
    table.add_row(
        f"restart → backlog cleared ({rec['backlog_breaches']:,} due while down or starting)",
        f"{rec['backlog_cleared_s']:,.1f} s",
    )
    table.add_row(
        "down-window breaches: unique / expected",
        f"{down['unique']:,} / {down['expected']:,}"
        f" (missing {down['missing']}, duplicates {down['duplicate_events']})",
    )
    dl = down["lag"]["record_ts"]
    table.add_row(
        "down-window lateness p50 / max",
        f"{dl['p50_ms'] / 1000:,.1f} / {dl['max_ms'] / 1000:,.1f} s",
    )
    al = rec["lag_after_backlog"]["record_ts"]
    table.add_row(
        "breach lag once backlog cleared p50 / p99", f"{al['p50_ms']:,.1f} / {al['p99_ms']:,.1f} ms"
    )
    a = r["all"]
    table.add_row(
        "all planned deadlines: exactly one breach",
        f"{'yes' if a['exactly_once'] else 'NO'} ({a['unique']:,} / {a['expected']:,},"
        f" missing {a['missing']}, duplicates {a['duplicate_events']},"
        f" unexpected {r['unexpected_breaches']})",
    )


if __name__ == "__main__":
    sys.exit(main())
