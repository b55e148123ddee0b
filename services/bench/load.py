"""Latency at fixed offered loads: every worker running, new complaints sent at a steady
rate, and how long each stage takes with them.

A stage's latency is from the moment its input was produced to the moment its output was:
broker CreateTime of raw, registered, routed and the first SLA event of each complaint,
and the committed rows of notification (acknowledgement queued) and analytics (archived).
A load is *sustained* when the client sent at the offered rate, every complaint got
through, and the pipeline kept up — complaints sent late in the window wait no longer
than those sent early (see `keeps_up`); otherwise it is reported as not sustainable, with
what fell behind, and the higher loads are not run (they would meet its backlog).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import psycopg
from kafka import KafkaConsumer, TopicPartition
from rich.console import Console
from rich.progress import Progress

from schemas.envelope import complaint_id_for
from schemas.registry import RAW, REGISTERED, ROUTED, SLA, TopicSpec
from services.bench.measure import keeps_up, percentile
from services.bench.pipeline import Workers, keyed_complaints, producer, start_workers
from services.kernel.settings import Settings

HOPS: tuple[tuple[str, str, str], ...] = (
    ("intake", "raw", "registered"),
    ("routing", "registered", "routed"),
    ("sla_timer", "routed", "sla"),
    ("notification", "registered", "acknowledged"),
    ("analytics", "registered", "archived"),
    ("raw → routed", "raw", "routed"),
    ("raw → SLA started", "raw", "sla"),
)
"""(label, from, to) of each latency measured."""
TOPICS: dict[str, TopicSpec] = {"raw": RAW, "registered": REGISTERED, "routed": ROUTED, "sla": SLA}


class _Stamps:
    """When each complaint reached each point (epoch seconds), read as the run goes."""

    def __init__(self, s: Settings) -> None:
        self.s = s
        self.at: dict[str, dict[str, float]] = {name: {} for name in TOPICS}
        self.consumer = KafkaConsumer(**s.kafka("bench-stamps").as_dict(), enable_auto_commit=False)
        tps = [
            TopicPartition(s.topic(spec.name), p)
            for spec in TOPICS.values()
            for p in range(spec.partitions)
        ]
        self._names = {s.topic(spec.name): name for name, spec in TOPICS.items()}
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning()

    def read(self, timeout_ms: int = 200) -> None:
        for tp, recs in self.consumer.poll(timeout_ms=timeout_ms, max_records=20_000).items():
            stamps = self.at[self._names[tp.topic]]
            raw = tp.topic == self.s.topic(RAW.name)
            for r in recs:
                if r.key is None:
                    continue
                key = r.key.decode()
                if raw:
                    source, _, ref = key.partition(":")
                    key = complaint_id_for(source, ref)
                stamps.setdefault(key, r.timestamp / 1000)

    def from_db(self, conn: psycopg.Connection, ids: list[str]) -> None:
        """Acknowledgements queued and complaints archived, from those workers' rows."""
        for name, sql in (
            (
                "acknowledged",
                "SELECT complaint_id, min(created_at) FROM notification.outbox"
                " WHERE kind = 'acknowledgement' AND complaint_id = ANY(%s) GROUP BY 1",
            ),
            (
                "archived",
                "SELECT complaint_id, min(recorded_at) FROM analytics.events"
                " WHERE topic LIKE %s AND complaint_id = ANY(%s) GROUP BY 1",
            ),
        ):
            params: tuple[Any, ...] = (ids,) if name == "acknowledged" else ("%registered%", ids)
            rows = conn.execute(sql, params).fetchall()
            conn.rollback()
            self.at[name] = {cid: _epoch(at) for cid, at in rows}

    def close(self) -> None:
        self.consumer.close()


def _epoch(at: datetime) -> float:
    return at.timestamp()


def offered_loads(
    s: Settings, rates: list[float], seconds: float, *, drain_s: float, console: Console
) -> dict[str, Any]:
    """Each rate in turn on one running pipeline; the figures of each."""
    out: dict[str, Any] = {}
    with start_workers(s) as workers, psycopg.connect(s.db_url()) as conn:
        with Progress(console=console, transient=True) as bar:
            bar.add_task("offered loads: workers starting", total=None)
            workers.wait_ready()
        stamps = _Stamps(s)
        prod = producer(s, "bench-load")
        try:
            # One complaint through every stage first: connections, metadata and first
            # plans are paid once, not by the first load's latencies.
            warm = list(keyed_complaints(5))
            _send(s, prod, warm, 50.0)
            _await(stamps, conn, [_cid(key) for key, _ in warm], console, "warm-up")
            failed: float | None = None
            for rate in sorted(rates):
                if failed is not None:  # a higher load than one not sustained: not either
                    out[f"{rate:g}"] = _not_run(rate, failed)
                    continue
                out[f"{rate:g}"] = got = _one_load(
                    s, workers, prod, stamps, conn, rate, seconds, drain_s, console
                )
                if not got["sustained"]:
                    failed = rate
        finally:
            prod.close()
            stamps.close()
    return out


def _one_load(
    s: Settings,
    workers: Workers,
    prod: Any,
    stamps: _Stamps,
    conn: psycopg.Connection,
    rate: float,
    seconds: float,
    drain_s: float,
    console: Console,
) -> dict[str, Any]:
    events = list(keyed_complaints(max(1, int(rate * seconds))))
    ids = [_cid(key) for key, _ in events]
    cpu0 = workers.cpu()
    with Progress(console=console, transient=True) as bar:
        bar.add_task(f"offered {rate:,.0f} complaints/s for {seconds:g} s", total=None)
        sent_s = _send(s, prod, events, rate)
    waited = _await(stamps, conn, ids, console, f"{rate:,.0f}/s: draining", timeout=drain_s)
    cpu1 = workers.cpu()
    latency: dict[str, dict[str, float]] = {}
    for label, start, end in HOPS:
        values = [
            max(0.0, stamps.at[end][c] - stamps.at[start][c])
            for c in ids
            if c in stamps.at[end] and c in stamps.at[start]
        ]
        latency[label] = {
            "n": len(values),
            **{f"p{p}_ms": percentile(values, p) * 1000 for p in (50, 95, 99)},
            "max_ms": max(values) * 1000 if values else float("nan"),
        }
    through = [
        stamps.at["sla"][c] - stamps.at["raw"][c]
        for c in ids
        if c in stamps.at["sla"] and c in stamps.at["raw"]
    ]
    achieved = len(events) / sent_s if sent_s else 0.0
    complete = len(through) == len(ids)
    kept_up = complete and keeps_up(through)
    sustained = achieved >= 0.95 * rate and kept_up
    reasons = []
    if not complete:
        reasons.append(
            f"{len(ids) - len(through):,} of {len(ids):,} not through {drain_s:.0f} s after"
        )
    elif not kept_up:
        reasons.append("a backlog grew: complaints sent late waited longer than those sent early")
    if achieved < 0.95 * rate:
        reasons.append(f"the client sent only {achieved:,.0f}/s")
    why = "; ".join(reasons)
    return {
        "offered_per_s": rate,
        "sent_per_s": achieved,
        "complaints": len(ids),
        "sustained": sustained,
        "why_not": why,
        "drain_after_send_s": waited,
        "latency": latency,
        "cpu_us_per_complaint": {name: 1e6 * (cpu1[name] - cpu0[name]) / len(ids) for name in cpu1},
    }


def _not_run(rate: float, failed: float) -> dict[str, Any]:
    return {
        "offered_per_s": rate,
        "sent_per_s": 0.0,
        "complaints": 0,
        "sustained": False,
        "why_not": f"not run: {failed:,.0f}/s was not sustained",
        "drain_after_send_s": None,
        "latency": {label: {"n": 0} for label, _, _ in HOPS},
        "cpu_us_per_complaint": {},
    }


def _cid(key: bytes) -> str:
    source, _, ref = key.decode().partition(":")
    return complaint_id_for(source, ref)


def _send(s: Settings, prod: Any, events: list[tuple[bytes, bytes]], rate: float) -> float:
    """Send at `rate` per second (as evenly as the client manages); seconds it took."""
    topic = s.topic(RAW.name)
    started = time.monotonic()
    for i, (key, line) in enumerate(events):
        ahead = started + i / rate - time.monotonic()
        if ahead > 0.001:
            time.sleep(ahead)
        prod.send(topic, key=key, value=line)
    prod.flush()
    return time.monotonic() - started


def _await(
    stamps: _Stamps,
    conn: psycopg.Connection,
    ids: list[str],
    console: Console,
    label: str,
    *,
    timeout: float = 180.0,
) -> float:
    """Wait until every complaint of `ids` is through every stage (or `timeout`); seconds
    waited."""
    started = time.monotonic()
    ends = ("sla", "acknowledged", "archived")
    left = set(ids)
    checked = 0.0
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(label, total=len(ids))
        while left and time.monotonic() - started < timeout:
            stamps.read()
            if time.monotonic() - checked > 1.0:
                stamps.from_db(conn, ids)
                checked = time.monotonic()
                left = {c for c in ids if not all(c in stamps.at[end] for end in ends)}
                bar.update(task, completed=len(ids) - len(left))
    stamps.read(0)
    stamps.from_db(conn, ids)
    return time.monotonic() - started
