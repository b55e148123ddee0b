"""The simulated feed: a deterministic stream of raw events from several call centers.

New complaints in a realistic mix, and the agents' work on each as it falls due (see
`agents.py`): acknowledged, assigned, worked, resolved and surveyed, mostly within the
targets, some late; callbacks promised, waits on the customer, a few reopened. About 1% of
events are malformed on purpose.
"""

from __future__ import annotations

import heapq
import json
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.simulator.agents import DEMO_SLA_SCALE, Step, plan
from services.simulator.scenarios import (
    CENTERS,
    NAMES,
    PUBLIC_SHARE,
    RESOLUTIONS,
    TEXTS,
    WEIGHTS,
    Center,
    expected_priority,
)

MALFORMED_SHARE = 0.01
PLACE_SHARE = 0.3
"""Share of new complaints that name the place of the problem (a store, a site, a corner)."""
EVENTS_PER_COMPLAINT = 9
"""About how many events one complaint's life makes (the new complaint and the agents')."""
TICK = 0.02
"""Seconds between looks at what fell due, when feeding a live stack."""


@dataclass
class _Open:
    center: Center
    ref: str
    lang: str
    channel: str
    arrived: datetime


@dataclass(order=True)
class _Due:
    at: datetime
    seq: int
    item: _Open = field(compare=False)
    step: Step = field(compare=False)


class Feed:
    """Raw events as JSON bytes, reproducible for a given seed and start.

    New complaints arrive about every `EVENTS_PER_COMPLAINT / rate` seconds, so that with
    the agents' work on them the feed settles near `rate` events per second; the agents'
    events go out as they fall due. Iterating keeps the feed's own time (from `start`, one
    step per `1 / rate` seconds); `due_by(now)` follows a real clock.
    """

    def __init__(
        self,
        seed: int = 7,
        run: str = "",
        *,
        scale: float = DEMO_SLA_SCALE,
        rate: float = 20.0,
        start: datetime | None = None,
    ) -> None:
        """The agents act after their planned durations × `scale` (the SLA timer's
        `CF_SLA_SCALE`). `run` prefixes ids and references: the same seed in another run
        adds new complaints instead of repeating (and being de-duplicated as) the earlier
        ones."""
        self.rng = random.Random(seed)
        self.run = run
        self.scale = scale
        self.step = timedelta(seconds=1 / rate)
        self.between = self.step * EVENTS_PER_COMPLAINT
        self.clock = start or datetime.now(UTC)
        self.next_new = self.clock
        self.due: list[_Due] = []
        self.ready: deque[bytes] = deque()
        self.count = 0
        self.events = 0
        self.seq = 0

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        while not self.ready:
            self.clock += self.step
            self.ready.extend(self.due_by(self.clock))
        return self.ready.popleft()

    def due_by(self, now: datetime) -> list[bytes]:
        """Every event that falls due by `now`, in time order."""
        out: list[bytes] = []
        while True:
            follow_up = self.due[0].at if self.due else None
            if follow_up is not None and follow_up <= min(now, self.next_new):
                out.append(self._follow_up(heapq.heappop(self.due)))
            elif self.next_new <= now:
                at, self.next_new = (
                    self.next_new,
                    self.next_new + self.between * self.rng.uniform(0.5, 1.5),
                )
                self.count += 1
                malformed = self.rng.random() < MALFORMED_SHARE * EVENTS_PER_COMPLAINT
                out.append(self._malformed(at) if malformed else self._new(at))
            else:
                return out

    def _base(
        self, center: Center, ref: str, kind: str, *, at: datetime, channel: str
    ) -> dict[str, object]:
        self.events += 1
        return {
            "type": kind,
            "source": center.source,
            "event_id": f"ev-{self.run}{self.events:08d}-{self.rng.randrange(16**6):06x}",
            "complaint_ref": ref,
            "occurred_at": at.astimezone(center.tz).isoformat(timespec="milliseconds"),
            "channel": channel,
            "language": center.language,
        }

    def _new(self, now: datetime) -> bytes:
        center = self.rng.choice(CENTERS)
        lang = "zh" if center.language.startswith("zh") else "en"
        category = self.rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0]
        text = self.rng.choice(TEXTS[category][lang])
        public = bool(center.public) and self.rng.random() < PUBLIC_SHARE
        channel = self.rng.choice(center.public if public else center.channels)
        ref = f"{center.source[:2].upper()}{self.run}{self.count:07d}"
        doc = self._base(center, ref, "complaint.new", at=now, channel=channel)
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
        if center.places and self.rng.random() < PLACE_SHARE:
            doc["place"] = self.rng.choice(center.places)
        item = _Open(center, ref, lang, channel, now)
        for step in plan(self.rng, expected_priority(category, text, public=public)):
            at = now + step.after * self.scale
            self.seq += 1
            heapq.heappush(self.due, _Due(at, self.seq, item, step))
        return json.dumps(doc, ensure_ascii=False).encode()

    def _follow_up(self, due: _Due) -> bytes:
        item, step = due.item, due.step

        def base(kind: str) -> dict[str, object]:
            return self._base(item.center, item.ref, kind, at=due.at, channel=item.channel)

        agent = f"agent-{self.rng.randrange(40):02d}"
        if step.kind == "contact":
            doc = base("complaint.contact")
            doc["note"] = (
                "客户回复了所需资料。" if item.lang == "zh" else "Customer sent what we asked for."
            )
        elif step.kind == "callback":
            doc = base("callback.promised")
            promised = item.arrived + (step.due or step.after) * self.scale
            doc["due_at"] = promised.astimezone(item.center.tz).isoformat(timespec="milliseconds")
            doc["agent"] = agent
        elif step.kind == "compensation":
            doc = base("compensation.offered")
            doc.update(
                {
                    "amount": f"{self.rng.randrange(10, 500)}.00",
                    "currency": "CNY" if item.lang == "zh" else "USD",
                    "authorised_by_role": "team_lead",
                }
            )
        elif step.kind == "survey":
            doc = base("survey.answered")
            doc["score"] = step.score or 3
        else:
            doc = base("complaint.status")
            doc["status"] = step.kind
            doc["agent"] = agent
            if step.kind == "resolved":
                doc.update(self.rng.choice(RESOLUTIONS))
        return json.dumps(doc, ensure_ascii=False).encode()

    def _malformed(self, now: datetime) -> bytes:
        center = self.rng.choice(CENTERS)
        kind = self.rng.randrange(4)
        if kind == 0:
            return b'{"type": "complaint.new", "source": "' + center.source.encode() + b'", '
        channel = "carrier pigeon" if kind == 3 else center.channels[0]
        doc = self._base(center, f"X{self.count}", "complaint.new", at=now, channel=channel)
        if kind == 1:
            doc["type"] = "complaint.teleport"
        elif kind == 2:
            doc["customer"] = {"name": "?"}  # description missing
        else:
            doc.update({"customer": {}, "description": "x"})
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
    scale: float = DEMO_SLA_SCALE,
) -> int:
    """About `rate` events per second for `duration` seconds (to Kafka, or JSONL to `out`);
    the agents act after their planned durations × `scale`, the stack's `CF_SLA_SCALE`."""
    from rich.progress import Progress

    from services.kernel import kafka as kf
    from services.sdk.submit import send_raw

    if out is not None:
        feed = Feed(seed, run=run, scale=scale, rate=rate)
        total = int(rate * duration)
        with out.open("wb") as fh:
            for _, line in zip(range(total), feed, strict=False):
                fh.write(line + b"\n")
        return total
    feed = Feed(seed, run=run, scale=scale, rate=rate)
    prod = kf.producer(settings, client_id="complaintflow-simulator")  # type: ignore[arg-type]
    started = time.monotonic()
    sent = 0
    try:
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task("simulating", total=duration)
            while time.monotonic() - started < duration and not (stop and stop()):
                for line in feed.due_by(datetime.now(UTC)):
                    send_raw(prod, settings, line)  # type: ignore[arg-type]
                    sent += 1
                bar.update(task, completed=time.monotonic() - started)
                time.sleep(TICK)
        prod.flush()
    finally:
        prod.close(timeout=10)
    return sent
