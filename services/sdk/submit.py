"""Sending raw events to `complaints.raw.v1` (the `submit` command and the simulator)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kafka import KafkaProducer

from schemas.envelope import CloudEvent, complaint_id_for, derived_event_id
from schemas.raw import raw_key
from schemas.registry import RAW
from services.kernel import kafka as kf
from services.kernel.settings import Settings


@dataclass
class SubmitSummary:
    read: int = 0
    sent: int = 0
    failed: int = 0
    unparseable: int = 0
    errors: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"read {self.read}, sent {self.sent}, failed {self.failed}"]
        if self.unparseable:
            lines.append(
                f"{self.unparseable} line(s) are not valid events; they were sent and "
                "intake will dead-letter them with the reason"
            )
        lines += [f"  {e}" for e in self.errors[:10]]
        return "\n".join(lines)


def envelope_of(line: bytes) -> tuple[bytes | None, CloudEvent | None, str | None]:
    """Key, CloudEvent and complaint id of a raw line, as far as it can be read."""
    try:
        doc = json.loads(line)
        source = str(doc["source"]).strip()
        ref, event_id = str(doc["complaint_ref"]).strip(), str(doc["event_id"]).strip()
    except (ValueError, KeyError, TypeError):
        return None, None, None
    event = CloudEvent(
        id=derived_event_id("raw", source, event_id),
        type=RAW.ce_type,
        source=f"/callcenter/{source}",
        time=datetime.now(UTC),
    )
    return raw_key(source, ref), event, complaint_id_for(source, ref)


def send_raw(prod: KafkaProducer, settings: Settings, line: bytes) -> tuple[object, str | None]:
    """Produce one raw line (whatever it holds: intake is the judge); returns the future."""
    key, event, complaint_id = envelope_of(line)
    headers = event.headers() if event else []
    fut = prod.send(settings.topic(RAW.name), key=key, value=line, headers=headers)
    return fut, complaint_id


def submit_lines(
    settings: Settings, lines: Iterable[str], *, progress: bool = True
) -> SubmitSummary:
    """Send every non-empty JSONL line; waits until the broker acknowledged all of them."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    summary = SubmitSummary()
    prod = kf.producer(settings, client_id="complaintflow-submit")
    pending: list[tuple[int, object]] = []
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), disable=not progress, transient=True
        ) as bar:
            task = bar.add_task("submitting", total=None)
            for number, text in enumerate(lines, start=1):
                if not text.strip():
                    continue
                summary.read += 1
                fut, cid = send_raw(
                    prod, settings, text.rstrip("\n").encode("utf-8", "surrogateescape")
                )
                if cid is None:
                    summary.unparseable += 1
                pending.append((number, fut))
                if summary.read % 1000 == 0:
                    bar.update(task, description=f"submitted {summary.read} events")
            prod.flush()
        for number, fut in pending:
            try:
                fut.get(timeout=60)  # type: ignore[attr-defined]
                summary.sent += 1
            except Exception as exc:  # report every failed line, keep going
                summary.failed += 1
                summary.errors.append(f"line {number}: {exc}")
    finally:
        prod.close(timeout=10)
    return summary
