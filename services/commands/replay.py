"""`complaintflow dead-letters replay`: send chosen dead letters' original bytes again to the
topic they came from, once an operator has fixed the cause.

Sealed originals (raw input) are opened with the PII key; each replayed record carries a
`cf_replay_of` header naming its dead letter, so the audit counts it as that event. Replaying
is safe to repeat: intake de-duplicates on (source, event id), and it forgets the id of an
event it dead-lettered after it was first seen (a follow-up whose complaint never came), so
the first replay is processed and a second is a duplicate.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from schemas.envelope import CloudEvent
from schemas.registry import RAW, REJECTED, TOPICS
from schemas.rejected import DeadLetter
from services.audit.facts import REPLAY_OF
from services.audit.reading import end_offsets, read_topic
from services.kernel.dead_letter import MAX_KEPT
from services.kernel.kafka import producer
from services.kernel.sealing import InvalidToken, KeyNotInRing, Sealer
from services.kernel.settings import Settings


@dataclass(frozen=True)
class Chosen:
    """Which dead letters to replay; every given filter must match."""

    reasons: tuple[str, ...] = ()
    topic: str = RAW.name
    since: datetime | None = None
    until: datetime | None = None
    ids: tuple[str, ...] = ()
    """Dead letters' `ce_id`s, or their source event ids (`source:event_id`)."""

    def match(self, ce_id: str, d: DeadLetter) -> bool:
        return (
            (not self.reasons or d.reason in self.reasons)
            and d.source_topic == self.topic
            and (self.since is None or d.rejected_at >= self.since)
            and (self.until is None or d.rejected_at < self.until)
            and (not self.ids or ce_id in self.ids or d.source_event_id in self.ids)
        )


@dataclass(frozen=True)
class Replay:
    ce_id: str
    letter: DeadLetter
    key: bytes | None
    value: bytes | None
    """The original bytes, or None when they cannot be sent again (`why`)."""
    why: str = ""


def letters(settings: Settings, chosen: Chosen) -> Iterator[Replay]:
    """The chosen dead letters, each with its original bytes opened."""
    if chosen.topic not in TOPICS:
        raise RuntimeError(f"unknown topic {chosen.topic!r}: expected one of {', '.join(TOPICS)}")
    sealer = Sealer(settings.pii_ring(), "dead-letters")
    ends = end_offsets(settings, [REJECTED])[REJECTED.name]
    for m in read_topic(settings, REJECTED, ends):
        ce = CloudEvent.from_headers(m.headers)
        try:
            d = DeadLetter.model_validate_json(m.value or b"")
        except ValidationError:
            continue
        ce_id = ce.id if ce else f"{REJECTED.name}-{m.partition}-{m.offset}"
        if chosen.match(ce_id, d):
            yield _opened(ce_id, d, sealer)


def _opened(ce_id: str, d: DeadLetter, sealer: Sealer) -> Replay:
    key = None
    if d.original_key_b64 and not d.original_key_truncated:
        key = base64.b64decode(d.original_key_b64)
    if d.original_truncated:
        return Replay(
            ce_id, d, key, None, f"only the first {MAX_KEPT // 1024} KiB of the original were kept"
        )
    value = base64.b64decode(d.original_value_b64)
    if d.original_sealed:
        try:
            value = sealer.open(value)
        except KeyNotInRing as exc:
            return Replay(ce_id, d, key, None, str(exc))
        except InvalidToken:
            return Replay(ce_id, d, key, None, "the sealed original was altered")
    return Replay(ce_id, d, key, value)


def replay(settings: Settings, chosen: Chosen, *, dry_run: bool) -> list[Replay]:
    """Send the chosen dead letters again (unless `dry_run`); returns what was chosen."""
    found = list(letters(settings, chosen))
    if dry_run or not any(r.value is not None for r in found):
        return found
    sender = producer(settings, client_id="complaintflow-replay")
    try:
        topic = settings.topic(chosen.topic)
        for r in found:
            if r.value is None:
                continue
            headers = [(REPLAY_OF, r.ce_id.encode())]
            headers += [(k, v.encode()) for k, v in r.letter.original_headers.items()]
            sender.send(topic, key=r.key, value=r.value, headers=headers)
        sender.flush()
    finally:
        sender.close()
    return found


def render(found: list[Replay], *, dry_run: bool) -> str:
    """What was (or would be) sent again, one line per dead letter, without its content."""
    sendable = [r for r in found if r.value is not None]
    verb = "Would replay" if dry_run else "Replayed"
    lines = [f"{verb} {len(sendable):,} of {len(found):,} chosen dead letter(s)."]
    for r in found:
        d = r.letter
        where = f"{d.source_topic}[{d.source_partition}]@{d.source_offset}"
        note = f"  NOT SENT: {r.why}" if r.value is None else ""
        lines.append(f"  {d.rejected_at:%Y-%m-%d %H:%M:%S}  {where}  {d.reason}  {r.ce_id}{note}")
    return "\n".join(lines)
