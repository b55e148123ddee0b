"""The intake worker: raw events in; registered complaints, lifecycle events or dead letters out."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, timedelta

import psycopg

from schemas.common import Language
from schemas.envelope import CloudEvent, derived_event_id
from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.raw import (
    CallbackPromised,
    CompensationOffered,
    FollowUpContact,
    NewComplaint,
    RawEvent,
    StatusChange,
    SurveyAnswered,
)
from schemas.registered import RegisteredComplaint
from schemas.registry import LIFECYCLE, RAW, REGISTERED
from services.intake import normalize, pii, validate
from services.intake.identity import complaint_id_for, reference_for
from services.intake.migrations import MIGRATIONS
from services.runtime.errors import PoisonMessage
from services.runtime.kafka import Emit
from services.runtime.worker import Handler, Record

REPEAT_WINDOW = timedelta(days=30)
SOURCE = "/complaintflow/intake"


class Intake(Handler):
    name = "intake"
    inputs = (RAW,)
    schema = "intake"
    migrations = MIGRATIONS

    def start(self, conn: psycopg.Connection) -> None:
        key = self.settings.pii_key.get_secret_value().encode()
        self._token_key = key
        self._vault = pii.Vault(key)

    def handle(self, record: Record, conn: psycopg.Connection) -> Iterable[Emit]:
        now = self.clock.now()
        try:
            event = validate.parse(record.value, now=now)
        except PoisonMessage as exc:
            self.metrics.complaints_rejected.labels(exc.reason).inc()
            raise
        first = conn.execute(
            "INSERT INTO intake.seen_events (source, event_id, seen_at) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            (event.source, event.event_id, now),
        ).fetchone()
        if first is None:
            return ()
        complaint_id = complaint_id_for(event.source, event.complaint_ref)
        if isinstance(event, NewComplaint):
            return [self._register(event, complaint_id, conn)]
        known = conn.execute(
            "SELECT 1 FROM intake.complaints WHERE complaint_id = %s", (complaint_id,)
        ).fetchone()
        if known is None:
            self.metrics.complaints_rejected.labels("unknown_complaint").inc()
            raise PoisonMessage(
                "unknown_complaint",
                [
                    f"{event.type} refers to complaint {event.complaint_ref!r} "
                    f"of {event.source!r}, "
                    "which was never registered"
                ],
                event_id=f"{event.source}:{event.event_id}",
            )
        return [self._lifecycle(event, complaint_id)]

    def _register(self, event: NewComplaint, complaint_id: str, conn: psycopg.Connection) -> Emit:
        now = self.clock.now()
        cust = event.customer
        token = pii.customer_token(
            self._token_key,
            phone=cust.phone,
            email=cust.email,
            national_id=cust.national_id,
            name=cust.name,
        )
        sealed = self._vault.seal(
            {
                "name": cust.name,
                "phone": cust.phone,
                "email": cust.email,
                "national_id": cust.national_id,
            }
        )
        conn.execute(
            "INSERT INTO intake.vault (customer_token, sealed, updated_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (customer_token) DO UPDATE SET sealed = EXCLUDED.sealed, "
            "updated_at = EXCLUDED.updated_at",
            (token, sealed, now),
        )
        category = normalize.text(event.category).lower() if event.category else None
        earlier = conn.execute(
            "SELECT complaint_id, repeat_count FROM intake.complaints "
            "WHERE customer_token = %s AND category IS NOT DISTINCT FROM %s "
            "AND complaint_id <> %s AND registered_at > %s "
            "ORDER BY registered_at DESC LIMIT 1",
            (token, category, complaint_id, now - REPEAT_WINDOW),
        ).fetchone()
        repeat_of, repeat_count = (earlier[0], earlier[1] + 1) if earlier else (None, 0)
        conn.execute(
            "INSERT INTO intake.complaints (complaint_id, customer_token, category, registered_at,"
            " repeat_count) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (complaint_id, token, category, now, repeat_count),
        )
        channel = normalize.channel(event.channel)
        language = normalize.language(event.language)
        assert channel is not None and language is not None  # checked by validate.parse
        contact = (
            pii.mask_phone(cust.phone)
            if cust.phone
            else pii.mask_email(cust.email)
            if cust.email
            else None
        )
        registered = RegisteredComplaint(
            complaint_id=complaint_id,
            reference=reference_for(complaint_id),
            source=event.source,
            external_ref=event.complaint_ref,
            source_event_id=event.event_id,
            occurred_at=event.occurred_at.astimezone(UTC),
            source_utc_offset=normalize.utc_offset(event.occurred_at),
            registered_at=now,
            channel=channel,
            language=language,
            category=category,
            product=normalize.text(event.product) if event.product else None,
            subject=pii.redact(normalize.text(event.subject)) if event.subject else None,
            description=pii.redact(normalize.text(event.description)),
            customer_token=token,
            contact_masked=contact,
            region=cust.region,
            time_zone=cust.time_zone,
            repeat_of=repeat_of,
            repeat_count=repeat_count,
        )
        self.metrics.complaints_received.labels(channel.value).inc()
        return Emit(
            REGISTERED,
            complaint_id,
            registered,
            self._event(REGISTERED.ce_type, "registered", event, complaint_id),
        )

    def _lifecycle(self, event: RawEvent, complaint_id: str) -> Emit:
        channel = normalize.channel(event.channel)
        assert channel is not None
        fields: dict[str, object] = {}
        if isinstance(event, FollowUpContact):
            fields = {"kind": LifecycleKind.CONTACT, "note": pii.redact(normalize.text(event.note))}
        elif isinstance(event, StatusChange):
            fields = {
                "kind": LifecycleKind.STATUS,
                "status": event.status,
                "agent": event.agent,
                "root_cause": _clean(event.root_cause),
                "corrective_action": _clean(event.corrective_action),
                "preventive_action": _clean(event.preventive_action),
            }
        elif isinstance(event, CallbackPromised):
            fields = {
                "kind": LifecycleKind.CALLBACK_PROMISED,
                "due_at": event.due_at.astimezone(UTC),
                "agent": event.agent,
            }
        elif isinstance(event, CompensationOffered):
            fields = {
                "kind": LifecycleKind.COMPENSATION_OFFERED,
                "amount": str(event.amount),
                "currency": event.currency,
                "authorised_by_role": event.authorised_by_role,
            }
        elif isinstance(event, SurveyAnswered):
            fields = {
                "kind": LifecycleKind.SURVEY_ANSWERED,
                "score": event.score,
                "comment": _clean(event.comment),
            }
        lifecycle = LifecycleEvent(
            complaint_id=complaint_id,
            source=event.source,
            source_event_id=event.event_id,
            occurred_at=event.occurred_at.astimezone(UTC),
            recorded_at=self.clock.now(),
            channel=channel,
            **fields,  # type: ignore[arg-type]
        )
        return Emit(
            LIFECYCLE,
            complaint_id,
            lifecycle,
            self._event(LIFECYCLE.ce_type, "lifecycle", event, complaint_id),
        )

    def _event(self, ce_type: str, kind: str, event: RawEvent, complaint_id: str) -> CloudEvent:
        return CloudEvent(
            id=derived_event_id(kind, event.source, event.event_id),
            type=ce_type,
            source=SOURCE,
            time=self.clock.now(),
            subject=complaint_id,
        )


def _clean(text: str | None) -> str | None:
    return pii.redact(normalize.text(text)) if text else None


def vault_lookup(conn: psycopg.Connection, key: bytes, token: str) -> dict[str, str | None] | None:
    """The clear contact data of a customer token (for notification only)."""
    row = conn.execute(
        "SELECT sealed FROM intake.vault WHERE customer_token = %s", (token,)
    ).fetchone()
    return pii.Vault(key).open(bytes(row[0])) if row else None


__all__ = ["Intake", "Language", "json", "vault_lookup"]
