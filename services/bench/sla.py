"""The SLA timer under load: breach lag, memory per million open timers, recovery after kill -9.

The timers are written straight into a fresh `sla_timer.timers` table with COPY (no Kafka):
every row is the resolve target of an open P1 complaint (24x7, 4 h), already warned at
90 %, so its next step is the breach. Most deadlines lie weeks ahead; the rest fall due at
`rate` per second in three planned windows (with `T0` the start of the first):

    steady   [T0, T0+S)               the worker runs: breach lag in steady state
    (gap)    [T0+S, T0+S+1)           no deadlines; the worker is killed -9 at T0+S+0.5
    down     [T0+S+1, T0+S+1+D)       no worker: these fire on recovery, late
    recovery [T0+S+1+D, ... +R)       a new worker starts at T0+S+1+D; these fall due while
                                      it joins the group and loads its heap, then after

The real worker process (`complaintflow worker sla_timer`) runs against the real broker
and database; a plain consumer reads `complaints.sla.v1` from the beginning. Breach lag
is measured three ways: `late_by_seconds` in the event (the worker's own clock, taken
before its database work and produce), the record's CreateTime (set when the worker
hands the event to its producer) and the time this process received it (what a
downstream consumer sees).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaConsumer, TopicPartition
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from schemas.registry import SLA
from services.bench.measure import cpu_seconds, machine_busy, percentile
from services.bench.pipeline import worker_env
from services.bench.processes import Processes
from services.devstack.ports import free_port
from services.kernel.db import migrate
from services.kernel.settings import Settings
from services.sla_timer.migrations import MIGRATIONS

RESOLVE_WITHIN = 4 * 3600.0
"""standard-P1 resolves within 4 h on the 24x7 calendar (CF_SLA_SCALE unset)."""
FAR_DAYS = (30, 60)
"""Deadlines of the timers that do not fall due during the run: this many days ahead."""
GAP = 1.0
"""Seconds without deadlines between the steady window and the down window."""
WARMUP = 1.0
"""Seconds of deadlines, ending 2 s before the steady window, that warm the worker up."""
COLUMNS = (
    "complaint_id, target, partition, state, priority, department, category, policy,"
    " sensitive, tightened, source, route_version, started_at, used_seconds, due_at,"
    " deadline, warned_pct, escalation_level, next_due, updated_at"
)
PARTITIONS = SLA.partitions


@dataclass
class _Breach:
    complaint_id: str
    deadline: float
    """The planned deadline (epoch seconds)."""
    late_by: float
    record_lag: float
    received_lag: float
    record_ts: float
    ce_id: str
    event_deadline_off: float
    """|deadline in the event - planned deadline|: 0 unless the worker's plan differs."""


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    port: int
    started: float
    log: Path
    ready: float | None = None
    cpu_at_ready: float = 0.0


@dataclass
class _Run:
    """What the consumer has seen so far."""

    planned: dict[str, float]
    window_of: dict[str, str]
    breaches: list[_Breach] = field(default_factory=list)
    per_window: dict[str, int] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    escalations: int = 0
    other: dict[str, int] = field(default_factory=dict)
    unexpected: int = 0


def run_sla(
    s: Settings,
    *,
    timers: int,
    rate: float,
    seconds: float,
    down: float,
    recover: float,
    lead: float | None,
    logs: Path,
    stamp: str,
    console: Console,
) -> dict[str, Any]:
    """The SLA stage on a fresh database and topic prefix `s`; returns the figures."""
    steady_n, down_n, recover_n = int(rate * seconds), int(rate * down), int(rate * recover)
    warmup_n = int(rate * WARMUP)
    window_n = warmup_n + steady_n + down_n + recover_n
    if timers < window_n:
        raise SystemExit(f"--sla-timers {timers:,} must be at least rate × windows = {window_n:,}")
    far_n = timers - window_n

    with psycopg.connect(s.db_url()) as conn:
        migrate(conn, "sla_timer", MIGRATIONS)
        conn.commit()
    # What the worker weighs with no timers at all: the base of the memory per timer.
    with Processes() as processes, _spinner(console, "worker with no timers (memory baseline)"):
        w0 = _start_worker(processes, s, logs / f"sla-worker-0-{stamp}.log")
        _wait_ready(w0, 60)
        baseline_mb, _ = _rss(w0.proc.pid)

    t = time.monotonic()
    copy_timers(s, _far_rows(far_n), far_n, "COPY far-future timers", console)
    far_copy_s = time.monotonic() - t
    t = time.monotonic()
    with (
        psycopg.connect(s.db_url(), autocommit=True) as conn,
        _spinner(console, "VACUUM ANALYZE sla_timer.timers"),
    ):
        conn.execute("VACUUM ANALYZE sla_timer.timers")
    vacuum_s = time.monotonic() - t

    # The deadlines that fall due are planned only now, so loading time does not eat the lead.
    if lead is None:
        lead = 20.0 + 25.0 * timers / 1_000_000
    t0 = time.time() + lead
    planned: dict[str, float] = {}
    windows = {
        # A second of deadlines before the measured window: the worker's first breaches pay
        # one-off costs (producer metadata for the SLA topic, first policy plans).
        "warmup": (t0 - WARMUP - 2.0, t0 - 2.0),
        "steady": (t0, t0 + seconds),
        "down": (t0 + seconds + GAP, t0 + seconds + GAP + down),
        "recovery": (t0 + seconds + GAP + down, t0 + seconds + GAP + down + recover),
    }
    window_of: dict[str, str] = {}
    for name, (lo, hi) in windows.items():
        n = int(round((hi - lo) * rate))
        for i in range(n):
            cid = str(uuid.uuid4())
            planned[cid] = lo + i / rate
            window_of[cid] = name
    rows = (timer_row(cid, due) for cid, due in planned.items())
    copy_timers(s, rows, len(planned), "COPY timers falling due", console)
    with psycopg.connect(s.db_url(), autocommit=True) as conn:
        conn.execute("ANALYZE sla_timer.timers")
        loaded = conn.execute("SELECT count(*) FROM sla_timer.timers").fetchone()
        table_mb = conn.execute(
            "SELECT pg_total_relation_size('sla_timer.timers') / 1048576.0"
        ).fetchone()
    first_due = windows["warmup"][0]
    console.print(
        f"  {loaded[0] if loaded else 0:,} open timers ({table_mb[0] if table_mb else 0:,.0f}"
        f" MiB with indexes); first deadline in {first_due - time.time():.1f} s"
    )

    run = _Run(planned, window_of)
    kill_at = windows["steady"][1] + GAP / 2
    restart_at = windows["down"][1]
    end_at = windows["recovery"][1]
    rss: dict[str, float] = {"baseline_mb": baseline_mb}
    cpu: dict[str, float] = {}
    timers_gauge: float | None = None
    w2: _Worker | None = None
    killed_at = 0.0
    with contextlib.closing(sla_reader(s)) as reader, Processes() as processes:
        w1 = _start_worker(processes, s, logs / f"sla-worker-1-{stamp}.log")
        with _bar(console) as bar:
            task = bar.add_task("worker starting, loading its heap", total=None)
            while w1.ready is None:
                _check_alive(w1)
                _poll_ready(w1)
                _drain(reader, run, 0.1)
                if time.time() > t0 + seconds:
                    raise RuntimeError(f"the SLA worker was not ready after {lead + seconds:.0f} s")
            _done(bar, task, f"worker ready after {w1.ready - w1.started:.1f} s")
            rss["loaded_mb"], rss["loaded_hwm_mb"] = _rss(w1.proc.pid)
            # The worker refreshes its gauge from the database at its first tick after assignment.
            timers_gauge = _gauge_after(w1, 5.0, reader, run)
            wait = max(0.0, t0 - time.time())
            task = bar.add_task("warm-up deadlines, then the first measured one", total=wait)
            while time.time() < t0:
                _drain(reader, run, min(0.2, max(0.0, t0 - time.time())))
                bar.update(task, completed=wait - max(0.0, t0 - time.time()))
            _done(bar, task)
            cpu0, machine0 = cpu_seconds(w1.proc.pid), machine_busy()
            task = bar.add_task(f"steady: {rate:,.0f} deadlines/s", total=steady_n)
            while time.time() < kill_at:
                _check_alive(w1)
                _drain(reader, run, 0.1)
                bar.update(task, completed=run.per_window.get("steady", 0))
            _done(bar, task)
            cpu["steady_cores"] = (cpu_seconds(w1.proc.pid) - cpu0) / (kill_at - t0)
            busy, total = (b - a for a, b in zip(machine0, machine_busy(), strict=True))
            cpu["machine_busy_cores"] = (os.cpu_count() or 1) * busy / total if total else 0.0
            rss["steady_end_mb"], rss["steady_end_hwm_mb"] = _rss(w1.proc.pid)
            w1.proc.send_signal(signal.SIGKILL)
            w1.proc.wait()
            killed_at = time.time()
            task = bar.add_task("killed -9; deadlines passing with no worker", total=None)
            while time.time() < restart_at:
                _drain(reader, run, min(0.1, max(0.0, restart_at - time.time())))
            _done(bar, task)
            w2 = _start_worker(processes, s, logs / f"sla-worker-2-{stamp}.log")
            expected = len(planned)
            task = bar.add_task("recovery: new worker, backlog, then steady", total=expected)
            # Wait for the last planned deadline, then a little for stragglers and duplicates.
            stop_at = end_at + 10.0
            while time.time() < stop_at:
                _check_alive(w2)
                if w2.ready is None:
                    _poll_ready(w2)
                    if w2.ready is not None:
                        rss["recovered_mb"], rss["recovered_hwm_mb"] = _rss(w2.proc.pid)
                _drain(reader, run, 0.1)
                seen = len(run.seen)
                bar.update(task, completed=seen)
                if time.time() > end_at + 2.0 and seen >= expected:
                    stop_at = min(stop_at, time.time() + 2.0)
            _done(bar, task)
            rss["end_mb"], rss["end_hwm_mb"] = _rss(w2.proc.pid)
    assert w2 is not None

    _write_csv(logs / f"sla-breaches-{stamp}.csv", run, window_of)
    by_window: dict[str, list[_Breach]] = {name: [] for name in windows}
    for b in run.breaches:
        by_window[window_of[b.complaint_id]].append(b)
    steady = _lags(by_window["steady"], steady_n)
    steady["max_ms_per_second"] = _max_per_second(by_window["steady"], t0, seconds)
    grown = rss.get("steady_end_mb", 0.0) - baseline_mb
    out: dict[str, Any] = {
        "timers": timers,
        "rate": rate,
        "windows_s": {"steady": seconds, "down": down, "recovery": recover, "warmup": WARMUP},
        "load": {
            "far_copy_s": far_copy_s,
            "far_rows_per_s": far_n / far_copy_s if far_copy_s else 0.0,
            "vacuum_analyze_s": vacuum_s,
            "table_mb": float(table_mb[0]) if table_mb else 0.0,
            "lead_s": lead,
        },
        "startup": {
            "ready_s": (w1.ready or 0) - w1.started,
            "margin_before_first_deadline_s": first_due - (w1.ready or 0),
            "timers_active_gauge": timers_gauge,
        },
        "rss": {
            **rss,
            "mb_per_million": rss.get("steady_end_mb", 0.0) * 1_000_000 / timers,
            "hwm_mb_per_million": rss.get("steady_end_hwm_mb", 0.0) * 1_000_000 / timers,
            "timers_mb_per_million": grown * 1_000_000 / timers,
        },
        "cpu": cpu,
        "warmup": _lags(by_window["warmup"], warmup_n),
        "steady": steady,
        "down": _exactly_once(by_window["down"], [c for c, w in window_of.items() if w == "down"]),
        "recovery": _recovery(run, by_window, window_of, w2, killed_at),
        "all": _exactly_once(run.breaches, list(planned)),
        "escalations": run.escalations,
        "other_events": run.other,
        "unexpected_breaches": run.unexpected,
        "worker_log_lines": _log_summary([w0.log, w1.log, w2.log]),
        "steady_late_by_ms": [b.late_by * 1000 for b in by_window["steady"]],
    }
    out["down"]["lag"] = _lags(by_window["down"], len(by_window["down"]))
    return out


def _max_per_second(breaches: list[_Breach], t0: float, seconds: float) -> list[float]:
    """The worst record-timestamp lag of the deadlines in each second of the window (ms)."""
    worst = [0.0] * max(1, int(seconds + 0.999))
    for b in breaches:
        i = min(len(worst) - 1, max(0, int(b.deadline - t0)))
        worst[i] = max(worst[i], round(b.record_lag * 1000, 1))
    return worst


# --- loading ----------------------------------------------------------------------------


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def timer_row(cid: str, due: float, now: str | None = None) -> str:
    """One COPY text line: the resolve target of an open P1 complaint, next step the breach."""
    deadline = _iso(due)
    return (
        f"{cid}\tresolve\t{uuid.UUID(cid).int % PARTITIONS}\tactive\tP1\tquality\tsafety"
        f"\tstandard-P1\tf\tf\tlondon-cc\t1\t{_iso(due - RESOLVE_WITHIN)}\t0\t\\N"
        f"\t{deadline}\t90\t0\t{deadline}\t{now or _iso(time.time())}\n"
    )


def _far_rows(n: int) -> Iterator[str]:
    now = time.time()
    stamp = _iso(now)
    lo, hi = FAR_DAYS[0] * 86400, FAR_DAYS[1] * 86400
    for i in range(n):
        # Spread evenly (not randomly) over the span, in a shuffled-looking order.
        due = now + lo + (hi - lo) * ((i * 0.6180339887498949) % 1.0)
        yield timer_row(str(uuid.uuid4()), due, stamp)


def copy_timers(s: Settings, rows: Iterator[str], total: int, label: str, console: Console) -> None:
    chunk = 20_000
    with (
        psycopg.connect(s.db_url()) as conn,
        conn.cursor() as cur,
        _bar(console) as bar,
    ):
        task = bar.add_task(label, total=total)
        with cur.copy(f"COPY sla_timer.timers ({COLUMNS}) FROM STDIN") as cp:
            buf = io.StringIO()
            n = 0
            for line in rows:
                buf.write(line)
                n += 1
                if n % chunk == 0:
                    cp.write(buf.getvalue())
                    buf = io.StringIO()
                    bar.update(task, completed=n)
            cp.write(buf.getvalue())
        bar.update(task, description=f"{label}: commit", completed=n)
        conn.commit()


# --- the worker -------------------------------------------------------------------------


def _start_worker(processes: Processes, s: Settings, log: Path) -> _Worker:
    port = free_port()
    env = worker_env(
        s,
        port,
        # The worker's log lands in the bench output; INFO shows its group joins and rebalances.
        CF_LOG_LEVEL=os.environ.get("CF_BENCH_SLA_LOG_LEVEL", "WARNING"),
        CF_PII_KEY="bench-sla-" + "0" * 32,
    )
    env.pop("CF_SLA_SCALE", None)  # the plan assumes real P1 durations
    log.parent.mkdir(parents=True, exist_ok=True)
    fh = log.open("wb")
    started = time.time()
    proc = processes.start(
        "sla_timer",
        [sys.executable, "-m", "services.commands.cli", "worker", "sla_timer"],
        env=env,
        stdout=fh,
        stderr=subprocess.STDOUT,
    )
    fh.close()
    return _Worker(proc, port, started, log)


def _check_alive(w: _Worker) -> None:
    if w.proc.poll() is not None:
        tail = w.log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the SLA worker exited with {w.proc.returncode}:\n{tail}")


def _http(w: _Worker, path: str, timeout: float = 1.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{w.port}{path}", timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except OSError:
        return 0, b""


def _poll_ready(w: _Worker) -> None:
    if _http(w, "/readyz")[0] == 200:
        w.ready = time.time()


def _wait_ready(w: _Worker, timeout: float) -> None:
    end = time.time() + timeout
    while w.ready is None:
        _check_alive(w)
        if time.time() > end:
            raise RuntimeError(f"the SLA worker was not ready after {timeout:.0f} s")
        _poll_ready(w)
        time.sleep(0.1)


def _gauge_after(w: _Worker, timeout: float, reader: KafkaConsumer, run: _Run) -> float | None:
    """complaintflow_sla_timers_active{target="resolve"} once the worker has set it."""
    end = time.time() + timeout
    while time.time() < end:
        status, body = _http(w, "/metrics")
        if status == 200:
            for line in body.decode().splitlines():
                if line.startswith('complaintflow_sla_timers_active{target="resolve"}'):
                    value = float(line.rsplit(" ", 1)[1])
                    if value > 0:
                        return value
        _drain(reader, run, 0.2)
    return None


def _rss(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of `pid` in MiB."""
    found = {"VmRSS:": 0.0, "VmHWM:": 0.0}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key = line.split(maxsplit=1)[0]
            if key in found:
                found[key] = int(line.split()[1]) / 1024
    return found["VmRSS:"], found["VmHWM:"]


# --- the output topic -------------------------------------------------------------------


def sla_reader(s: Settings) -> KafkaConsumer:
    """A plain consumer of `complaints.sla.v1`, every partition from the beginning."""
    consumer = KafkaConsumer(
        **s.kafka("bench-sla-reader").as_dict(),
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
    )
    consumer.assign([TopicPartition(s.topic(SLA.name), p) for p in range(SLA.partitions)])
    consumer.seek_to_beginning()
    return consumer


def _drain(consumer: KafkaConsumer, run: _Run, seconds: float) -> None:
    batch = consumer.poll(timeout_ms=int(seconds * 1000), max_records=10_000)
    received = time.time()
    for recs in batch.values():
        for r in recs:
            doc = json.loads(r.value)
            kind = doc.get("kind")
            if kind == "escalated":
                run.escalations += 1
                continue
            if kind != "breached":
                run.other[kind] = run.other.get(kind, 0) + 1
                continue
            cid = doc["complaint_id"]
            due = run.planned.get(cid)
            if due is None:
                run.unexpected += 1
                continue
            window = run.window_of[cid]
            run.seen.add(cid)
            run.per_window[window] = run.per_window.get(window, 0) + 1
            ce_id = next((v.decode() for k, v in (r.headers or []) if k == "ce_id"), "")
            event_deadline = datetime.fromisoformat(doc["deadline"]).timestamp()
            run.breaches.append(
                _Breach(
                    complaint_id=cid,
                    deadline=due,
                    late_by=float(doc.get("late_by_seconds") or 0.0),
                    record_lag=r.timestamp / 1000 - due,
                    received_lag=received - due,
                    record_ts=r.timestamp / 1000,
                    ce_id=ce_id,
                    event_deadline_off=abs(event_deadline - due),
                )
            )


# --- figures ----------------------------------------------------------------------------


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(values, 50) * 1000,
        "p99_ms": percentile(values, 99) * 1000,
        "p999_ms": percentile(values, 99.9) * 1000,
        "max_ms": max(values) * 1000 if values else float("nan"),
    }


def _lags(breaches: list[_Breach], expected: int) -> dict[str, Any]:
    first = _first_per_complaint(breaches)
    return {
        "expected": expected,
        "breaches": len(first),
        "late_by": _stats([b.late_by for b in first]),
        "record_ts": _stats([b.record_lag for b in first]),
        "received": _stats([b.received_lag for b in first]),
        "over_1s": sum(1 for b in first if b.record_lag > 1.0),
        "deadline_mismatch": sum(1 for b in first if b.event_deadline_off > 1e-3),
    }


def _first_per_complaint(breaches: list[_Breach]) -> list[_Breach]:
    first: dict[str, _Breach] = {}
    for b in breaches:
        if b.complaint_id not in first or b.record_ts < first[b.complaint_id].record_ts:
            first[b.complaint_id] = b
    return list(first.values())


def _exactly_once(breaches: list[_Breach], expected: list[str]) -> dict[str, Any]:
    per: dict[str, list[_Breach]] = {}
    for b in breaches:
        per.setdefault(b.complaint_id, []).append(b)
    dupes = {cid: bs for cid, bs in per.items() if len(bs) > 1}
    return {
        "expected": len(expected),
        "unique": len(per),
        "missing": sum(1 for cid in expected if cid not in per),
        "duplicated_complaints": len(dupes),
        "duplicate_events": sum(len(bs) - 1 for bs in dupes.values()),
        "duplicates_same_ce_id": all(len({b.ce_id for b in bs}) == 1 for bs in dupes.values()),
        "exactly_once": len(per) == len(expected)
        and not dupes
        and all(cid in per for cid in expected),
    }


def _recovery(
    run: _Run,
    by_window: dict[str, list[_Breach]],
    window_of: dict[str, str],
    w2: _Worker,
    killed_at: float,
) -> dict[str, Any]:
    after = [b for b in run.breaches if b.record_ts >= w2.started]
    first = min((b.record_ts for b in after), default=float("nan"))
    # Caught up: every deadline that passed before the new worker became ready has fired.
    backlog = [b for b in after if b.deadline <= (w2.ready or w2.started)]
    caught_up = max((b.record_ts for b in backlog), default=float("nan"))
    recov = _first_per_complaint(by_window["recovery"])
    ready = w2.ready or float("nan")
    later = [b for b in recov if b.deadline > caught_up]
    return {
        "killed_to_restart_s": w2.started - killed_at,
        "ready_s": ready - w2.started,
        "first_breach_s": first - w2.started,
        "backlog_cleared_s": caught_up - w2.started,
        "backlog_breaches": len(backlog),
        "window": _exactly_once(
            by_window["recovery"], [c for c, w in window_of.items() if w == "recovery"]
        ),
        "lag_after_backlog": _lags(later, len(later)),
    }


def _write_csv(path: Path, run: _Run, window_of: dict[str, str]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["window", "complaint_id", "deadline", "late_by_s", "record_lag_s", "received_lag_s"]
        )
        for b in sorted(run.breaches, key=lambda b: b.deadline):
            w.writerow(
                [
                    window_of[b.complaint_id],
                    b.complaint_id,
                    f"{b.deadline:.6f}",
                    f"{b.late_by:.6f}",
                    f"{b.record_lag:.6f}",
                    f"{b.received_lag:.6f}",
                ]
            )


def _log_summary(logs: list[Path]) -> list[str]:
    lines: list[str] = []
    for log in logs:
        with contextlib.suppress(OSError):
            lines += [f"{log.name}: {x}" for x in log.read_text(errors="replace").splitlines()]
    return lines[:50]


# --- terminal ---------------------------------------------------------------------------


def _bar(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _done(bar: Progress, task: TaskID, description: str | None = None) -> None:
    """Mark a phase finished so its elapsed time stops."""
    total = bar.tasks[task].total
    if total is None:
        bar.update(task, total=1, completed=1)
    else:
        bar.update(task, completed=max(total, bar.tasks[task].completed))
    if description:
        bar.update(task, description=description)
    bar.stop_task(task)


@contextlib.contextmanager
def _spinner(console: Console, label: str) -> Iterator[None]:
    with _bar(console) as bar:
        task = bar.add_task(label, total=None)
        yield
        bar.update(task, total=1, completed=1)
