"""A fixed-size load for a chaos run, the same for the same seed: complaints and their
follow-ups (some delivered twice, a few malformed or invalid), the work of a few of them
held back to a second wave so their SLA clocks breach and escalate first."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

SOURCE = "chaos-cc"
CATEGORIES = ("billing", "delivery", "contract", "network", "product")
TEXTS = ("话费多扣了200元", "包裹一直没有收到", "合同条款和销售说的不一样", "信号很差，经常掉线")


@dataclass
class Load:
    """Raw events as (key, JSON line): `first` at once, `later` in the second wave."""

    first: list[tuple[str, str]] = field(default_factory=list)
    later: list[tuple[str, str]] = field(default_factory=list)

    @property
    def events(self) -> int:
        return len(self.first) + len(self.later)


def build(complaints: int, *, seed: int, late_share: float = 0.2) -> Load:
    """`complaints` complaints, each ending resolved with a survey answered (so every clock
    stops); `late_share` of them are resolved only in the second wave."""
    rng = random.Random(seed)
    load = Load()
    now = datetime.now(UTC).isoformat()
    for i in range(complaints):
        ref = f"CH-{seed}-{i:06d}"
        key = f"{SOURCE}:{ref}"
        seq = itertools.count()

        def event(kind: str, **fields: object) -> tuple[str, str]:
            return _event(rng, key, ref, next(seq), now, kind, fields)  # noqa: B023

        new = event(
            "complaint.new",
            category=rng.choice(CATEGORIES),
            description=rng.choice(TEXTS),
            customer={
                "name": f"客户{i}",
                "phone": f"+86 139 {i % 10000:04d} {seed % 10000:04d}",
                "email": f"c{i}@example.com",
            },
        )
        story = [new]
        if rng.random() < 0.1:
            story.append(new)  # delivered twice: intake de-duplicates
        story.append(event("complaint.status", status="acknowledged", agent="a1"))
        if rng.random() < 0.3:
            story.append(event("complaint.contact", note="客户再次来电询问进度"))
        if rng.random() < 0.1:
            story.append(event("complaint.transfer", agent="a1", queue="card_disputes"))
        ending = [
            event("complaint.status", status="resolved", agent="a1", root_cause="系统故障"),
            event("survey.answered", score=rng.randint(1, 5)),
        ]
        if rng.random() < 0.01:
            story.append((key, '{"type": "complaint.contact", "source": "' + SOURCE))
        if rng.random() < 0.01:
            story.append(event("complaint.contact", note="x", channel="carrier-pigeon"))
        load.first += story
        (load.later if rng.random() < late_share else load.first).extend(ending)
    return load


def _event(
    rng: random.Random, key: str, ref: str, n: int, now: str, kind: str, fields: dict[str, object]
) -> tuple[str, str]:
    doc = {
        "type": kind,
        "source": SOURCE,
        "event_id": f"{ref}-e{n}",
        "complaint_ref": ref,
        "occurred_at": now,
        "channel": rng.choice(("电话", "微信", "email", "web")),
        "language": rng.choice(("zh-CN", "en")),
        **fields,
    }
    return key, json.dumps(doc, ensure_ascii=False)
