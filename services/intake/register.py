"""Building the downstream events of intake from validated raw events (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.raw import (
    MAX_TEXT,
    CallbackPromised,
    CompensationOffered,
    FollowUpContact,
    NewComplaint,
    RawEvent,
    Recategorised,
    StatusChange,
    SurveyAnswered,
    Transfer,
    coordinates,
)
from schemas.registered import RegisteredComplaint
from services.intake import normalize, pii
from services.intake.identity import reference_for

OUR_REFERENCE = re.compile(r"\bCF-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b")


@dataclass(frozen=True)
class Repeat:
    """The earlier complaint a new one repeats, and how many came before it."""

    of: str
    count: int


def contact_mask(event: NewComplaint) -> str | None:
    cust = event.customer
    if cust.phone:
        return pii.mask_phone(cust.phone)
    return pii.mask_email(cust.email) if cust.email else None


def category_of(event: NewComplaint) -> str | None:
    return _category(event.category, names_of(event))


def names_of(event: NewComplaint) -> tuple[str, ...]:
    """The customer's own names, redacted wherever they appear in the complaint."""
    return (event.customer.name,) if event.customer.name else ()


def mentioned_references(event: NewComplaint) -> list[str]:
    """Earlier complaints the customer names: `related_ref`, or our references in the text."""
    found = [event.related_ref] if event.related_ref else []
    found += OUR_REFERENCE.findall(" ".join(filter(None, [event.subject, event.description])))
    return found


def registered(
    event: NewComplaint, *, complaint_id: str, token: str, now: datetime, repeat: Repeat | None
) -> RegisteredComplaint:
    """The registered complaint: normalised, with PII replaced by a token and redactions."""
    channel = normalize.channel(event.channel)
    language = normalize.language(event.language)
    assert channel is not None and language is not None  # guaranteed by validate.parse
    names = names_of(event)
    cut = _Cut()
    return RegisteredComplaint(
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
        category=category_of(event),
        sub_category=_clean(event.sub_category, names),
        product=_clean(event.product, names),
        subject=_clean(event.subject, names),
        description=cut(pii.redact(normalize.text(event.description), names=names)),
        customer_token=token,
        contact_masked=contact_mask(event),
        region=_clean(event.customer.region, names),
        place=(event.place and coordinates(event.place)) or _clean(event.place, names),
        time_zone=event.customer.time_zone,
        repeat_of=repeat.of if repeat else None,
        repeat_count=repeat.count if repeat else 0,
        text_truncated=cut.any,
    )


def lifecycle(
    event: RawEvent, *, complaint_id: str, now: datetime, names: tuple[str, ...] = ()
) -> LifecycleEvent:
    """The lifecycle event of a follow-up (contact, status, callback, compensation, survey);
    its free text redacted, including the customer's `names` (known from the complaint)."""

    cut = _Cut()

    def clean(text: str | None) -> str | None:
        cleaned = _clean(text, names)
        return cut(cleaned) if cleaned else cleaned

    channel = normalize.channel(event.channel)
    assert channel is not None
    fields: dict[str, object]
    if isinstance(event, FollowUpContact):
        fields = {"kind": LifecycleKind.CONTACT, "note": clean(event.note)}
    elif isinstance(event, StatusChange):
        fields = {
            "kind": LifecycleKind.STATUS,
            "status": event.status,
            "agent": event.agent,
            "root_cause": clean(event.root_cause),
            "corrective_action": clean(event.corrective_action),
            "preventive_action": clean(event.preventive_action),
        }
    elif isinstance(event, Transfer):
        fields = {
            "kind": LifecycleKind.TRANSFER,
            "queue": clean(event.queue),
            "owner": clean(event.owner),
            "department": clean(event.department),
            "agent": event.agent,
            "note": clean(event.note),
        }
    elif isinstance(event, Recategorised):
        fields = {
            "kind": LifecycleKind.RECATEGORISED,
            "category": _category(event.category, names),
            "sub_category": clean(event.sub_category),
            "agent": event.agent,
            "note": clean(event.note),
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
            "comment": clean(event.comment),
        }
    else:
        raise TypeError(f"{type(event).__name__} is not a follow-up event")
    return LifecycleEvent(
        complaint_id=complaint_id,
        source=event.source,
        source_event_id=event.event_id,
        occurred_at=event.occurred_at.astimezone(UTC),
        recorded_at=now,
        channel=channel,
        text_truncated=cut.any,
        **fields,  # type: ignore[arg-type]
    )


class _Cut:
    """Cuts redacted texts at `MAX_TEXT` characters (a `[name]` mark can be longer than the
    name it replaces), remembering whether any was cut."""

    def __init__(self) -> None:
        self.any = False

    def __call__(self, text: str) -> str:
        if len(text) <= MAX_TEXT:
            return text
        self.any = True
        return text[:MAX_TEXT]


def _clean(text: str | None, names: tuple[str, ...] = ()) -> str | None:
    return pii.redact(normalize.text(text), names=names) if text else None


def _category(text: str | None, names: tuple[str, ...]) -> str | None:
    cleaned = _clean(text, names)
    return cleaned.lower() if cleaned else None
