"""`complaintflow dead-letters`: the rejected topic summarised for operators."""

from __future__ import annotations

import base64
import json
import uuid
from collections import Counter
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from schemas.registry import REJECTED
from services.kernel.sealing import InvalidToken, Sealer
from services.kernel.settings import Settings


def read_all(settings: Settings, timeout_s: float = 5) -> list[dict[str, Any]]:
    """Every dead letter currently on the topic, oldest first per partition."""
    consumer = KafkaConsumer(
        **settings.kafka(f"dead-letters-{uuid.uuid4().hex[:6]}").as_dict(), enable_auto_commit=False
    )
    name = settings.topic(REJECTED.name)
    parts = [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or [])]
    consumer.assign(parts)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(parts)
    letters: list[dict[str, Any]] = []
    idle = 0
    while any(consumer.position(tp) < ends[tp] for tp in parts) and idle < timeout_s * 5:
        batch = consumer.poll(timeout_ms=200)
        idle = 0 if batch else idle + 1
        for records in batch.values():
            letters.extend(json.loads(r.value) for r in records)
    consumer.close()
    return letters


def report(settings: Settings, *, limit: int, reveal: bool) -> str:
    letters = read_all(settings)
    if not letters:
        return "No dead letters."
    by_reason = Counter(f"{d['worker']}/{d['reason']}" for d in letters)
    lines = [f"{len(letters):,} dead letters"]
    lines += [f"  {n:>7,}  {reason}" for reason, n in by_reason.most_common()]
    sealer = Sealer(settings.pii_ring(), "dead-letters")
    lines.append(f"Latest {min(limit, len(letters))}:")
    latest = sorted(letters, key=lambda d: str(d["rejected_at"]))[-limit:]
    for d in latest:
        where = f"{d['source_topic']}[{d['source_partition']}]@{d['source_offset']}"
        lines.append(
            f"  {d['rejected_at']}  {where}  {d['reason']}: "
            f"{'; '.join(map(str, d['errors']))[:300]}"
        )
        if reveal:
            original = base64.b64decode(str(d["original_value_b64"]))
            if d.get("original_sealed"):
                try:
                    original = sealer.open(original)
                except InvalidToken as exc:
                    lines.append(f"    ({exc or 'the sealed original was altered'})")
                    continue
            lines.append(f"    original: {original.decode('utf-8', 'replace')[:500]}")
    return "\n".join(lines)
