"""Benchmarks of the pipeline on this machine, each next to bare Kafka doing the same I/O.

1. bare Kafka: produce N raw-sized messages (acks=all), then consume them.
2. intake throughput: N raw events already on the topic; one intake instance, then two in
   one consumer group, drain them (consume, validate, de-duplicate, store, produce).
3. intake latency at a fixed rate: send time → the registered event's broker timestamp.
4. SLA timer: breach lag with a million open timers and 1,000 deadlines a second falling
   due, worker memory per million open timers, recovery after kill -9 (see `sla.py`).
5. The whole pipeline: every worker running, a flood of new complaints, the rate at which
   they are fully processed, against bare Kafka on the same messages (see `pipeline.py`).
6. Early warning: the detector's cost per complaint over weeks of seasonal traffic, in
   process (`--only-early-warning`; see `early_warning.py`).

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

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import OffsetSpec
from kafka.errors import KafkaError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from schemas.envelope import complaint_id_for
from schemas.registry import RAW, REGISTERED, TOPICS
from services.bench.chart import latency_svg
from services.bench.measure import cpu_seconds, machine_busy, percentile, rss_mb
from services.bench.pipeline import new_complaints, run_pipeline
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


def _early_warning(args: argparse.Namespace) -> int:
    from services.bench.early_warning import run_detection

    console.print(
        f"Early warning: {args.ew_weeks} weeks at {args.ew_per_day:,.0f} complaints a day"
    )
    r = run_detection(args.ew_weeks, args.ew_per_day)
    table = Table(title="Early-warning detector (this machine, one process, no broker)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("complaints (event time)", f"{r['complaints']:,} over {r['weeks']} weeks")
    table.add_row("detection per complaint, mean", f"{r['mean_us']:,.0f} µs")
    table.add_row("  p50 / p99", f"{r['p50_us']:,.0f} / {r['p99_us']:,.0f} µs")
    table.add_row("  slowest (a window's end: themes)", f"{r['max_ms']:,.1f} ms")
    table.add_row("complaints per second", f"{r['per_s']:,.0f}")
    table.add_row("alerts raised; state keys at the end", f"{r['alerts']}; {r['state_keys']:,}")
    console.print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (out / f"early-warning-{stamp}.json").write_text(json.dumps(r, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="make bench", description=__doc__)
    p.add_argument("--events", type=int, default=100_000, help="events for throughput runs")
    p.add_argument(
        "--intake-instances",
        default="1,2",
        help="intake throughput runs: comma-separated numbers of instances in one group",
    )
    p.add_argument("--rate", type=float, default=1000.0, help="events/s for the latency run")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the latency run")
    p.add_argument("--out", default="bench-results", help="directory for JSON and charts")
    stages = p.add_mutually_exclusive_group()
    stages.add_argument(
        "--skip-intake", action="store_true", help="skip bare Kafka and the intake stages"
    )
    stages.add_argument("--only-sla", action="store_true", help="run the SLA timer stage only")
    stages.add_argument("--skip-sla", action="store_true", help="skip the SLA timer stage")
    stages.add_argument(
        "--only-pipeline", action="store_true", help="run the whole-pipeline stage only"
    )
    stages.add_argument(
        "--only-early-warning",
        action="store_true",
        help="run the early-warning detector stage only (no broker needed)",
    )
    p.add_argument("--ew-weeks", type=int, default=4, help="weeks of traffic for early warning")
    p.add_argument("--ew-per-day", type=float, default=2000.0, help="complaints a day")
    p.add_argument(
        "--pipeline-complaints",
        type=int,
        default=20_000,
        help="new complaints flooded through every worker (0 skips the stage)",
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
    if args.only_early_warning:
        return _early_warning(args)
    run_intake = not (args.skip_intake or args.only_sla or args.only_pipeline)
    run_sla_stage = not (args.skip_sla or args.only_pipeline)
    run_pipe = args.pipeline_complaints > 0 and not args.only_sla
    instances = [int(n) for n in args.intake_instances.split(",") if n.strip()]

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    n_stages = 3 * run_intake + run_sla_stage + run_pipe
    home = Path("/tmp") / f"cf-bench-{uuid.uuid4().hex[:8]}"
    home.mkdir()
    console.print(f"Starting a local stack in {home} ...")
    base, pids = _stack(home)
    bare: dict[str, float] = {}
    thr: dict[int, dict[str, Any]] = {}
    lat: dict[str, Any] = {}
    slar: dict[str, Any] = {}
    pipe: dict[str, Any] = {}
    try:
        if run_intake:
            events = _events(args.events)
            console.print(f"[bold]1/{n_stages}[/] bare Kafka with {len(events):,} events")
            bare = bare_kafka(_fresh(base), events)
            for n in instances:
                console.print(
                    f"[bold]2/{n_stages}[/] intake throughput with {len(events):,} events,"
                    f" {n} instance{'s' if n > 1 else ''}"
                )
                thr[n] = intake_throughput(_fresh(base), events, n)
            console.print(f"[bold]3/{n_stages}[/] intake latency at {args.rate:,.0f} events/s")
            lat = intake_latency(_fresh(base), args.rate, args.seconds)
        if run_sla_stage:
            console.print(
                f"[bold]{n_stages}/{n_stages}[/] SLA timer: {args.sla_timers:,} open timers,"
                f" {args.sla_rate:,.0f} deadlines/s, kill -9 and recovery"
            )
            slar = run_sla(
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
        if run_pipe:
            complaints = new_complaints(args.pipeline_complaints)
            console.print(
                f"[bold]{n_stages}/{n_stages}[/] whole pipeline: {len(complaints):,} new"
                " complaints through every worker, and bare Kafka on the same messages"
            )
            pipe = run_pipeline(_fresh(base), complaints, console=console)
            pipe["bare_kafka"] = bare_kafka(_fresh(base), complaints)
    finally:
        for pid in pids:
            stop_process(pid, signal.SIGINT if pid == pids[-1] else signal.SIGTERM, 60)
        subprocess.run(["rm", "-rf", str(home)], check=False)

    table = Table(title="ComplaintFlow bench (this machine, broker on the same machine)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    if run_intake:
        table.add_row("bare Kafka produce (acks=all)", f"{bare['produce_per_s']:,.0f} msg/s")
        table.add_row("bare Kafka consume", f"{bare['consume_per_s']:,.0f} msg/s")
        for n, t in thr.items():
            ratio = t["events_per_s"] / min(bare["produce_per_s"], bare["consume_per_s"])
            table.add_row(
                f"intake throughput, {n} instance{'s' if n > 1 else ''}",
                f"{t['events_per_s']:,.0f} events/s ({ratio:.2f} of bare)",
            )
            table.add_row(
                "  CPU per instance / machine; RSS",
                f"{' + '.join(f'{c:.2f}' for c in t['instance_cores'])}"
                f" / {t['machine_busy_cores']:.2f} of {os.cpu_count()} cores;"
                f" {t['rss_mb']:,.0f} MiB",
            )
        table.add_row(f"raw → registered p50 @ {args.rate:,.0f}/s", f"{lat['p50_ms']:,.1f} ms")
        table.add_row(f"raw → registered p99 @ {args.rate:,.0f}/s", f"{lat['p99_ms']:,.1f} ms")
    if run_sla_stage:
        _sla_rows(table, slar)
    if run_pipe:
        _pipeline_rows(table, pipe)
    console.print(table)

    result: dict[str, Any] = {"at": stamp, "cpus": os.cpu_count()}
    charts: list[str] = []
    if run_intake:
        result["bare_kafka"] = bare
        result["intake"] = {f"{n}_instances": t for n, t in thr.items()}
        result["latency"] = {k: v for k, v in lat.items() if k != "latencies_ms"}
        (out / f"latency-{stamp}.svg").write_text(
            latency_svg(lat["latencies_ms"], title=f"raw → registered at {args.rate:,.0f} events/s")
        )
        charts.append(f"latency-{stamp}.svg")
    if run_sla_stage:
        result["sla"] = {k: v for k, v in slar.items() if k != "steady_late_by_ms"}
        (out / f"sla-breach-lag-{stamp}.svg").write_text(
            latency_svg(
                slar["steady_late_by_ms"],
                title=f"SLA breach lag (late_by) with {slar['timers']:,} open timers,"
                f" {slar['rate']:,.0f} deadlines/s",
            )
        )
        charts.append(f"sla-breach-lag-{stamp}.svg")
        charts.append(f"sla-breaches-{stamp}.csv")
    if run_pipe:
        result["pipeline"] = pipe
    (out / f"bench-{stamp}.json").write_text(json.dumps(result, indent=2))
    console.print(f"Results in {out}/bench-{stamp}.json and {', '.join(charts)}")
    return 0


def _pipeline_rows(table: Table, r: dict[str, Any]) -> None:
    bare = r["bare_kafka"]
    bare_rate = min(bare["produce_per_s"], bare["consume_per_s"])
    table.add_row(
        f"whole pipeline, {r['complaints']:,} new complaints",
        f"{r['complaints_per_s']:,.0f} complaints/s ({r['complaints_per_s'] / bare_rate:.1%}"
        f" of bare Kafka's {bare_rate:,.0f}/s)",
    )
    table.add_row("  client send rate", f"{r['client_send_per_s']:,.0f} events/s")
    table.add_row(
        "  through each stage after (s)",
        ", ".join(f"{k} {v:.1f}" for k, v in r["stage_done_s"].items()),
    )
    table.add_row(
        "  CPU per complaint (µs)",
        ", ".join(f"{k} {v:,.0f}" for k, v in r["cpu_us_per_complaint"].items()),
    )
    table.add_row(
        "  peak RSS (MiB); machine busy",
        ", ".join(f"{k} {v:,.0f}" for k, v in r["rss_peak_mb"].items())
        + f"; {r['machine_busy_cores']:.2f} of {os.cpu_count()} cores",
    )


def _sla_rows(table: Table, r: dict[str, Any]) -> None:
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
