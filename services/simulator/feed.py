"""The simulated feed: a deterministic stream of raw events from several call centers.

New complaints, then their follow-ups (acknowledged, in progress, waiting on the customer,
contacts, promised callbacks, compensation, resolution, survey); about a third are left
open so their SLAs breach, and about 1% of events are malformed on purpose.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.simulator.scenarios import CENTERS, NAMES, TEXTS, Center

STEPS = (
    "acknowledged",
    "in_progress",
    "waiting_on_customer",
    "contact",
    "in_progress",
    "callback",
    "compensation",
    "resolved",
    "survey",
    "closed",
)
MALFORMED_SHARE = 0.01
UNRESOLVED_SHARE = 0.35


@dataclass
class _Open:
    center: Center
    ref: str
    lang: str
    steps: list[str] = field(default_factory=list)


class Feed:
    """Raw events as JSON bytes, reproducible for a given seed."""

    def __init__(
        self, seed: int = 7, now: Callable[[], datetime] | None = None, run: str = ""
    ) -> None:
        """`run` prefixes ids and references: the same seed in another run adds new
        complaints instead of repeating (and being de-duplicated as) the earlier ones."""
        self.rng = random.Random(seed)
        self.run = run
        self.now = now or (lambda: datetime.now(UTC))
        self.open: list[_Open] = []
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        self.count += 1
        if self.rng.random() < MALFORMED_SHARE:
            return self._malformed()
        if not self.open or self.rng.random() < 0.4:
            return self._new()
        return self._follow_up()

    def _base(self, center: Center, ref: str, kind: str) -> dict[str, object]:
        return {
            "type": kind,
            "source": center.source,
            "event_id": f"ev-{self.run}{self.count:08d}-{self.rng.randrange(16**6):06x}",
            "complaint_ref": ref,
            "occurred_at": self.now().astimezone(center.tz).isoformat(timespec="seconds"),
            "channel": self.rng.choice(center.channels),
            "language": center.language,
        }

    def _new(self) -> bytes:
        center = self.rng.choice(CENTERS)
        lang = "zh" if center.language.startswith("zh") else "en"
        category = self.rng.choice(list(TEXTS))
        text = self.rng.choice(TEXTS[category][lang])
        ref = f"{center.source[:2].upper()}{self.run}{self.count:07d}"
        doc = self._base(center, ref, "complaint.new")
        digits = f"{self.rng.randrange(10**8):08d}"
        doc.update(
            {
                "customer": {
                    "name": self.rng.choice(NAMES[lang]),
                    "phone": f"+86 139{digits}" if lang == "zh" else f"+1 512 555 {digits[:4]}",
                    "email": f"customer{self.rng.randrange(500)}@example.com",
                    "region": center.region,
                    "time_zone": center.time_zone,
                },
                # One in five call centers files under a category we do not know: triage.
                "category": category if self.rng.random() > 0.2 else None,
                "subject": text[:40],
                "description": text,
            }
        )
        item = _Open(center, ref, lang)
        if self.rng.random() > UNRESOLVED_SHARE:
            item.steps = list(STEPS)
        else:
            item.steps = list(STEPS[: self.rng.randrange(0, 3)])
        if item.steps:
            self.open.append(item)
        return json.dumps(doc, ensure_ascii=False).encode()

    def _follow_up(self) -> bytes:
        item = self.open[self.rng.randrange(len(self.open))]
        step = item.steps.pop(0)
        if not item.steps:
            self.open.remove(item)
        if step == "contact":
            doc = self._base(item.center, item.ref, "complaint.contact")
            doc["note"] = "客户再次来电催促。" if item.lang == "zh" else "Customer called again."
        elif step == "callback":
            doc = self._base(item.center, item.ref, "callback.promised")
            due = self.now() + timedelta(minutes=self.rng.randrange(30, 240))
            doc["due_at"] = due.astimezone(item.center.tz).isoformat(timespec="seconds")
        elif step == "compensation":
            doc = self._base(item.center, item.ref, "compensation.offered")
            doc.update(
                {
                    "amount": f"{self.rng.randrange(10, 500)}.00",
                    "currency": "CNY" if item.lang == "zh" else "USD",
                    "authorised_by_role": "team_lead",
                }
            )
        elif step == "survey":
            doc = self._base(item.center, item.ref, "survey.answered")
            doc["score"] = self.rng.randint(1, 5)
        else:
            doc = self._base(item.center, item.ref, "complaint.status")
            doc["status"] = step
            doc["agent"] = f"agent-{self.rng.randrange(40):02d}"
            if step == "resolved":
                doc.update(
                    {
                        "root_cause": "billing system misconfiguration",
                        "corrective_action": "refunded the customer",
                        "preventive_action": "fixed the tariff rule",
                    }
                )
        return json.dumps(doc, ensure_ascii=False).encode()

    def _malformed(self) -> bytes:
        center = self.rng.choice(CENTERS)
        kind = self.rng.randrange(4)
        if kind == 0:
            return b'{"type": "complaint.new", "source": "' + center.source.encode() + b'", '
        if kind == 1:
            doc = self._base(center, f"X{self.count}", "complaint.teleport")
        elif kind == 2:
            doc = self._base(center, f"X{self.count}", "complaint.new")
            doc["customer"] = {"name": "?"}  # description missing
        else:
            doc = self._base(center, f"X{self.count}", "complaint.new")
            doc.update({"customer": {}, "description": "x", "channel": "carrier pigeon"})
        return json.dumps(doc, ensure_ascii=False).encode()


def run_feed(
    settings: object,
    *,
    rate: float,
    duration: float,
    seed: int = 7,
    out: Path | None = None,
    progress: bool = True,
    stop: Callable[[], bool] | None = None,
    run: str = "",
) -> int:
    """Send `rate` events per second for `duration` seconds (to Kafka, or JSONL to `out`)."""
    from rich.progress import Progress

    from services.kernel import kafka as kf
    from services.sdk.submit import send_raw

    feed = Feed(seed, run=run)
    total = int(rate * duration)
    if out is not None:
        with out.open("wb") as fh:
            for _, line in zip(range(total), feed, strict=False):
                fh.write(line + b"\n")
        return total
    prod = kf.producer(settings, client_id="complaintflow-simulator")  # type: ignore[arg-type]
    started = time.monotonic()
    sent = 0
    try:
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task("simulating", total=total)
            for line in feed:
                if sent >= total or (stop and stop()):
                    break
                send_raw(prod, settings, line)  # type: ignore[arg-type]
                sent += 1
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
                if sent % max(1, int(rate)) == 0:
                    bar.update(task, completed=sent)
        prod.flush()
    finally:
        prod.close(timeout=10)
    return sent
