"""Routing with the trained classifier on: what classifying one complaint costs (in process,
model against keywords), and how fast one routing worker drains a backlog of registered
complaints that name no category, with the model and with the keywords alone."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from kafka import KafkaProducer
from rich.console import Console
from rich.progress import Progress

from schemas.common import Channel, Language
from schemas.envelope import CloudEvent, complaint_id_for, encode
from schemas.registered import RegisteredComplaint
from schemas.registry import REGISTERED
from services.bench.measure import cpu_seconds, rss_mb
from services.bench.pipeline import start_workers
from services.kernel.settings import Settings
from services.routing.learning import TRAINING_DIR, read_labelled, shipped_model
from services.routing.rules import Facts, default_router


def _texts() -> list[str]:
    return [e.text for e in read_labelled(TRAINING_DIR / "heldout.csv")]


def classification_cost(rounds: int = 3) -> dict[str, float]:
    """CPU µs per complaint: the model's classification, the keywords', and the whole routing
    decision (rules, severity, owner) with each; the best of `rounds` passes."""
    texts = _texts()
    shipped = shipped_model()
    assert shipped is not None, "no shipped model"
    router = default_router()
    out: dict[str, float] = {}
    for mode in ("model", "keywords"):
        router.classifier.trained = shipped if mode == "model" else None
        for what, work in (
            ("classify", lambda t: router.classifier.classify(category=None, text=t)),
            ("decide", lambda t: router.decide(Facts(text=t))),
        ):
            best = float("inf")
            for _ in range(rounds):
                start = time.process_time()
                for text in texts:
                    work(text)
                best = min(best, time.process_time() - start)
            out[f"{what}_{mode}_us"] = 1e6 * best / len(texts)
    router.classifier.trained = None
    return out


def _registered(n: int, texts: list[str], now: datetime) -> list[tuple[bytes, bytes, list]]:
    out = []
    for i in range(n):
        ref = f"B{i:07d}"
        cid = complaint_id_for("bench-cc", ref)
        complaint = RegisteredComplaint(
            complaint_id=cid,
            reference=f"CF-BNCH-{i:06d}",
            source="bench-cc",
            external_ref=ref,
            source_event_id=f"{ref}-new",
            occurred_at=now,
            source_utc_offset="+00:00",
            registered_at=now,
            channel=Channel.PHONE,
            language=Language.EN,
            description=texts[i % len(texts)],
            customer_token=f"cus_{i}",
        )
        ce = CloudEvent(id=f"bench-{i}", type=REGISTERED.ce_type, source="/bench", time=now)
        out.append((cid.encode(), encode(complaint), ce.headers()))
    return out


def routing_throughput(
    s: Settings, n: int, *, classifier: str, console: Console, timeout: float = 1200
) -> dict[str, Any]:
    """One routing worker (`CF_ROUTING_CLASSIFIER=classifier`) drains `n` registered
    complaints without a category; the rate and CPU per complaint from first to last."""
    records = _registered(n, _texts(), datetime.now(UTC))
    producer = KafkaProducer(**s.kafka("bench-routing").as_dict(), acks="all", linger_ms=5)
    for key, value, headers in records:
        producer.send(s.topic(REGISTERED.name), key=key, value=value, headers=headers)
    producer.flush()
    producer.close()
    with (
        start_workers(s, ("routing",), CF_ROUTING_CLASSIFIER=classifier) as workers,
        psycopg.connect(s.db_url(), autocommit=True) as conn,
    ):
        workers.wait_ready()
        proc = workers.procs["routing"]
        cpu0, started, rss = cpu_seconds(proc.pid), time.monotonic(), 0.0
        done = 0
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"routing ({classifier})", total=n)
            while done < n:
                workers.check()
                row = conn.execute(
                    "SELECT count(*) FROM routing.decisions WHERE decision IS NOT NULL"
                ).fetchone()
                done = int(row[0]) if row else 0
                bar.update(task, completed=done)
                rss = max(rss, rss_mb(proc.pid))
                if time.monotonic() - started > timeout:
                    raise RuntimeError(f"only {done} of {n} routed after {timeout:.0f}s")
                time.sleep(0.2)
        elapsed, cpu = time.monotonic() - started, cpu_seconds(proc.pid) - cpu0
        methods: dict[str, int] = dict(
            conn.execute(
                "SELECT decision->>'classified_by', count(*) FROM routing.decisions GROUP BY 1"
            ).fetchall()
        )
    return {
        "classifier": classifier,
        "complaints": n,
        "complaints_per_s": n / elapsed,
        "cpu_us_per_complaint": 1e6 * cpu / n,
        "rss_peak_mb": rss,
        "classified_by": methods,
    }
