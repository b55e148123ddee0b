"""The intake worker: raw events in; registered complaints, lifecycle events or dead letters out.

A poll's records are handled together: one statement de-duplicates the whole batch, one
finds which complaints are known, one finds earlier complaints of the same customers.
A follow-up that arrives before its complaint is held (sealed) for a grace period and
released when the complaint registers, or dead-lettered when the grace runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from kafka import KafkaProducer
from pydantic import BaseModel

from schemas.envelope import complaint_id_for
from schemas.raw import FollowUpContact, NewComplaint, RawEvent
from schemas.registry import LIFECYCLE, RAW, REGISTERED, TopicSpec
from services.intake import pii, register, store, validate
from services.intake.http_api import IntakeApi
from services.intake.metrics import IntakeMetrics
from services.intake.migrations import MIGRATIONS
from services.intake.settings import IntakeSettings
from services.kernel.emit import Emit
from services.kernel.errors import PoisonMessage
from services.kernel.handler import Handler, Record, Rejected
from services.kernel.sealing import InvalidToken, KeyRing, Sealer

REPEAT_WINDOW = timedelta(days=30)
PURGE_EVERY = 600.0
CHECK_EVERY = 1.0
"""Seconds between two looks for held follow-ups whose complaint never came."""
UNREADABLE = PoisonMessage(
    "unreadable_held_event",
    ["sealed under a key that is not in the PII key ring (see `complaintflow keys status`)"],
)


@dataclass(frozen=True)
class _Valid:
    record: Record
    event: RawEvent
    complaint_id: str


class Intake(Handler):
    name = "intake"
    inputs = (RAW,)
    schema = "intake"
    migrations = MIGRATIONS
    batched = True
    settings_class = IntakeSettings
    metrics_class = IntakeMetrics

    def start(self, conn: psycopg.Connection) -> None:
        ring = self.settings.pii_ring()  # read once: a new ring takes effect on restart
        self._token_key = ring.token_key
        self._vault = pii.Vault(ring)
        self._held_sealer = Sealer(ring, "held-events")
        self._partitions: set[int] = set()
        self._checked_at = 0.0
        self._purged_at = 0.0

    def serve(self, producer: KafkaProducer) -> Callable[[], None] | None:
        """The HTTP API, when a port and keys are configured."""
        if self.settings.intake_http_port is None or self.settings.intake_api_keys is None:
            return None
        api = IntakeApi(self.settings, producer, self.clock.now).start()
        return api.stop

    def assigned(self, partitions: set[int], conn: psycopg.Connection) -> None:
        self._partitions |= partitions

    def revoked(self, partitions: set[int]) -> None:
        self._partitions -= partitions

    def handle_batch(
        self, records: list[Record], conn: psycopg.Connection
    ) -> Iterable[Emit | Rejected]:
        now = self.clock.now()
        out: list[Emit | Rejected] = []
        valid: list[_Valid] = []
        for rec in records:
            try:
                event = validate.parse(rec.value, now=now)
            except PoisonMessage as exc:
                out.append(Rejected(rec, exc))
                continue
            valid.append(_Valid(rec, event, complaint_id_for(event.source, event.complaint_ref)))
        fresh = store.first_seen(conn, [(v.event.source, v.event.event_id) for v in valid], now)
        todo: list[_Valid] = []
        for v in valid:  # the first delivery of each event; later copies are duplicates
            key = (v.event.source, v.event.event_id)
            if key in fresh:
                fresh.discard(key)
                todo.append(v)
        out.extend(self._apply(todo, conn, now))
        return out

    def _apply(self, todo: list[_Valid], conn: psycopg.Connection, now: datetime) -> list[Emit]:
        news = [(v.complaint_id, v.event) for v in todo if isinstance(v.event, NewComplaint)]
        known = store.known_complaints(conn, [v.complaint_id for v in todo])
        tokens = {cid: self._token(event) for cid, event in news}
        latest = store.latest_by_customer(conn, tokens.values(), now - REPEAT_WINDOW)
        refs = [ref for _, event in news for ref in self._references(event)]
        named = store.by_reference(conn, refs)
        out: list[Emit] = []
        held: list[store.Held] = []
        complaints: list[tuple[object, ...]] = []
        contacts: list[tuple[str, str, bytes, datetime]] = []
        registered_now: list[str] = []
        names = self._names(conn, [v.complaint_id for v in todo if v.complaint_id in known])
        for v in todo:
            event = v.event
            if isinstance(event, NewComplaint):
                if v.complaint_id in known:
                    # The same complaint reported again (a new event id): the customer came
                    # back about it, so it is a follow-up contact, not a second complaint.
                    also = (*names.get(v.complaint_id, ()), *register.names_of(event))
                    out.append(self._follow_up(_as_contact(event), v.complaint_id, now, also))
                    continue
                token = tokens[v.complaint_id]
                category = register.category_of(event)
                repeat = self._repeat(event, named, latest.get((token, category)))
                reg = register.registered(
                    event, complaint_id=v.complaint_id, token=token, now=now, repeat=repeat
                )
                known.add(v.complaint_id)
                names[v.complaint_id] = register.names_of(event)
                latest[(token, category)] = store.Earlier(v.complaint_id, reg.repeat_count)
                named[reg.reference] = store.Earlier(v.complaint_id, reg.repeat_count)
                complaints.append(
                    (
                        v.complaint_id,
                        token,
                        category,
                        now,
                        reg.repeat_count,
                        reg.reference,
                        event.source,
                        event.complaint_ref,
                    )
                )
                contacts.append((v.complaint_id, token, self._seal_customer(event), now))
                registered_now.append(v.complaint_id)
                self.after_commit(self.metrics.complaints_received.labels(reg.channel.value).inc)
                out.append(self._emit(REGISTERED, reg.complaint_id, reg, "registered", event))
            elif v.complaint_id in known:
                out.append(self._follow_up(event, v.complaint_id, now, names.get(v.complaint_id)))
            else:
                held.append(self._hold(v, now))
        store.save_contacts(conn, contacts)
        store.save_complaints(conn, complaints)
        store.hold(conn, held)
        for h in store.release(conn, registered_now):
            out.append(self._release(h, now, names.get(h.complaint_id)))
        return out

    def _names(
        self, conn: psycopg.Connection, complaint_ids: list[str]
    ) -> dict[str, tuple[str, ...]]:
        """The customer's name of each complaint, from the vault, to redact from follow-ups."""
        out: dict[str, tuple[str, ...]] = {}
        for cid, sealed in store.contacts_of(conn, complaint_ids).items():
            try:
                name = self._vault.open(sealed).get("name")
            except (InvalidToken, ValueError):
                continue  # sealed under another key: nothing to redact by
            out[cid] = (name,) if name else ()
        return out

    def _release(self, h: store.Held, now: datetime, names: tuple[str, ...] | None) -> Emit:
        """The lifecycle event of a held follow-up, or its dead letter if it cannot be read."""
        try:
            original = self._held_sealer.open(h.sealed)
            event = validate.parse(original, now=now)
            return self._follow_up(event, h.complaint_id, now, names)
        except (InvalidToken, PoisonMessage) as exc:
            return self.reject(
                _held_record(h, h.sealed), exc if isinstance(exc, PoisonMessage) else UNREADABLE
            )

    def tick_due(self) -> bool:
        return time.monotonic() - self._checked_at >= CHECK_EVERY

    def tick(self, conn: psycopg.Connection) -> Iterable[Emit]:
        """Dead-letter follow-ups whose complaint never came; forget old de-dup keys."""
        mono = time.monotonic()
        if mono - self._checked_at < CHECK_EVERY:
            return ()
        self._checked_at = mono
        now = self.clock.now()
        if mono - self._purged_at > PURGE_EVERY:
            self._purged_at = mono
            store.purge_seen(conn, now - timedelta(days=self.settings.dedup_retention_days))
        grace = timedelta(seconds=self.settings.intake_orphan_grace_seconds)
        out: list[Emit] = []
        expired = store.expired(conn, self._partitions, now - grace)
        known = store.known_complaints(conn, [h.complaint_id for h in expired])
        names = self._names(conn, list(known))
        forgotten: list[tuple[str, str]] = []
        for h in expired:
            if h.complaint_id in known:  # registered by another instance meanwhile
                out.append(self._release(h, now, names.get(h.complaint_id)))
                continue
            try:
                original = self._held_sealer.open(h.sealed)
            except InvalidToken:
                out.append(self.reject(_held_record(h, h.sealed), UNREADABLE))
                continue
            rec = _held_record(h, original)
            forgotten.append((h.source, h.event_id))
            out.append(
                self.reject(
                    rec,
                    PoisonMessage(
                        "orphan_event",
                        [
                            f"complaint {h.complaint_id} was not registered within "
                            f"{grace.total_seconds():.0f}s of this follow-up"
                        ],
                        event_id=f"{h.source}:{h.event_id}",
                    ),
                )
            )
        # Not applied: the same event sent again (a replay, a retry) must not be a duplicate.
        store.forget_seen(conn, forgotten)
        return out

    def dead_lettered(self, record: Record, error: PoisonMessage) -> None:
        """Every raw event dead-lettered, whoever refused it, counted once when it commits."""
        self.after_commit(self.metrics.complaints_rejected.labels(error.reason).inc)

    def _token(self, event: NewComplaint) -> str:
        c = event.customer
        return pii.customer_token(
            self._token_key,
            phone=c.phone,
            email=c.email,
            national_id=c.national_id,
            name=c.name,
            anonymous=f"{event.source}:{event.complaint_ref}",
        )

    def _seal_customer(self, event: NewComplaint) -> bytes:
        c = event.customer
        return self._vault.seal(
            {"name": c.name, "phone": c.phone, "email": c.email, "national_id": c.national_id}
        )

    @staticmethod
    def _references(event: NewComplaint) -> list[str]:
        """What an event names of earlier complaints: references, and the id of related_ref."""
        refs = register.mentioned_references(event)
        if event.related_ref:
            refs.append(complaint_id_for(event.source, event.related_ref))
        return refs

    def _repeat(
        self,
        event: NewComplaint,
        named: dict[str, store.Earlier],
        same_customer: store.Earlier | None,
    ) -> register.Repeat | None:
        for ref in self._references(event):
            if ref in named:
                return register.Repeat(named[ref].complaint_id, named[ref].repeat_count + 1)
        if same_customer is not None:
            return register.Repeat(same_customer.complaint_id, same_customer.repeat_count + 1)
        return None

    def _hold(self, v: _Valid, now: datetime) -> store.Held:
        return store.Held(
            source=v.event.source,
            event_id=v.event.event_id,
            complaint_id=v.complaint_id,
            topic=v.record.topic,
            partition=v.record.partition,
            offset=v.record.offset,
            sealed=self._held_sealer.seal(v.record.value or b""),
            held_at=now,
        )

    def _follow_up(
        self,
        event: RawEvent,
        complaint_id: str,
        now: datetime,
        names: tuple[str, ...] | None = None,
    ) -> Emit:
        model = register.lifecycle(event, complaint_id=complaint_id, now=now, names=names or ())
        return self._emit(LIFECYCLE, complaint_id, model, "lifecycle", event)

    def _emit(
        self, spec: TopicSpec, key: str, model: BaseModel, kind: str, event: RawEvent
    ) -> Emit:
        return self.emit(spec, key, model, kind, event.source, event.event_id)


def _held_record(h: store.Held, value: bytes) -> Record:
    """The record a held follow-up came from, as a dead letter names it."""
    return Record(
        spec=RAW,
        topic=h.topic,
        partition=h.partition,
        offset=h.offset,
        key=None,
        value=value,
        headers=[],
        timestamp_ms=int(h.held_at.timestamp() * 1000),
    )


def _as_contact(event: NewComplaint) -> FollowUpContact:
    return FollowUpContact(
        type="complaint.contact",
        source=event.source,
        event_id=event.event_id,
        complaint_ref=event.complaint_ref,
        occurred_at=event.occurred_at,
        channel=event.channel,
        language=event.language,
        note=event.description,
    )


def vault_lookup(
    conn: psycopg.Connection, key: bytes | KeyRing, token: str
) -> dict[str, str | None] | None:
    """The clear contact data a customer gave most recently (for notification only)."""
    return store.contact_of(conn, key, token)
