"""`complaints.raw.v1`: events as call centers send them (new complaints and what follows).

The producer is not ours, so unknown fields are ignored rather than rejected; everything
we rely on is validated strictly.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from schemas.common import Status

MAX_TEXT = 100_000
"""Longest free text (description, note, comment) accepted, in characters: customers who write
a lot are heard (real complaints run to tens of thousands of characters); the limit stops
abuse, and the event's own size limit (intake) bounds it in bytes."""
MAX_PLACE = 200
"""Longest place (site, store, street address or coordinates) accepted, in characters."""
_COORDINATES = re.compile(r"^(-?\d{1,3}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)$")


def _place(text: str) -> str:
    """One space between words; coordinates (`lat,lon`) must be on the globe."""
    if any(ch < " " and not ch.isspace() for ch in text):
        raise ValueError("place must be plain text (no control characters)")
    text = " ".join(text.split())
    found = _COORDINATES.match(text)
    if found:
        lat, lon = float(found.group(1)), float(found.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError("lat,lon off the globe (lat ±90, lon ±180)")
    return text


PLACE_DECIMALS = 3
"""Coordinates given as a place are kept to 3 decimals (~110 m): the phones of customers at one
station or store report it metres apart, and the place is a site, not where someone stands."""


def coordinates(place: str) -> str | None:
    """A place given as `lat,lon` (on the globe; blanks anywhere) on a grid of `PLACE_DECIMALS`
    decimals — `31.2304, 121.4737` is `31.230,121.474`; None for any other place. Intake
    archives such a place so, and a search by place (the read API, `complaintflow list`)
    looks for it so."""
    found = _COORDINATES.match("".join(place.split()))
    if found is None:
        return None
    lat, lon = (round(float(found.group(i)), PLACE_DECIMALS) + 0.0 for i in (1, 2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return f"{lat:.{PLACE_DECIMALS}f},{lon:.{PLACE_DECIMALS}f}"


Place = Annotated[str, Field(min_length=1, max_length=MAX_PLACE), AfterValidator(_place)]
"""Where the problem is (a site, store, street address or `lat,lon`), never the customer's own
address: complaints about one place are seen together by the early-warning detector."""

Ref = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")]


class _RawBase(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    source: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    """The call center (system) that sent the event."""
    event_id: Ref
    """The call center's own id for this event; de-duplication is on (source, event_id)."""
    complaint_ref: Ref
    """The call center's own reference of the complaint the event belongs to."""
    occurred_at: AwareDatetime
    """When it happened, with the offset the call center used (kept for the record)."""
    channel: Annotated[str, Field(min_length=1, max_length=32)] = "phone"
    language: Annotated[str, Field(min_length=2, max_length=16)] = "en"


class Customer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    name: Annotated[str, Field(max_length=200)] | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    national_id: Annotated[str, Field(max_length=40)] | None = None
    region: Annotated[str, Field(max_length=64)] | None = None
    time_zone: Annotated[str, Field(max_length=64)] | None = None


class NewComplaint(_RawBase):
    type: Literal["complaint.new"]
    customer: Customer
    category: Annotated[str, Field(max_length=128)] | None = None
    sub_category: Annotated[str, Field(max_length=200)] | None = None
    product: Annotated[str, Field(max_length=128)] | None = None
    subject: Annotated[str, Field(max_length=300)] | None = None
    description: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    related_ref: Annotated[str, Field(max_length=128)] | None = None
    """An earlier complaint this one follows up: our reference (CF-XXXX-XXXX) or the call
    center's own complaint reference."""
    place: Place | None = None
    """Where the problem is: a site, store, street address or `lat,lon` (not the customer's
    own address)."""


class FollowUpContact(_RawBase):
    type: Literal["complaint.contact"]
    note: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class StatusChange(_RawBase):
    type: Literal["complaint.status"]
    status: Status
    agent: Annotated[str, Field(max_length=64)] | None = None
    root_cause: Annotated[str, Field(max_length=MAX_TEXT)] | None = None
    corrective_action: Annotated[str, Field(max_length=MAX_TEXT)] | None = None
    preventive_action: Annotated[str, Field(max_length=MAX_TEXT)] | None = None


class Transfer(_RawBase):
    """An agent hands the complaint to another queue, owner or department."""

    type: Literal["complaint.transfer"]
    queue: Annotated[str, Field(max_length=64)] | None = None
    owner: Annotated[str, Field(max_length=64)] | None = None
    department: Annotated[str, Field(max_length=64)] | None = None
    agent: Annotated[str, Field(min_length=1, max_length=64)]
    note: Annotated[str, Field(max_length=MAX_TEXT)] | None = None


class Recategorised(_RawBase):
    """An agent corrects what the complaint is about."""

    type: Literal["complaint.recategorised"]
    category: Annotated[str, Field(min_length=1, max_length=128)]
    sub_category: Annotated[str, Field(max_length=200)] | None = None
    agent: Annotated[str, Field(min_length=1, max_length=64)]
    note: Annotated[str, Field(max_length=MAX_TEXT)] | None = None


class CallbackPromised(_RawBase):
    type: Literal["callback.promised"]
    due_at: AwareDatetime
    agent: Annotated[str, Field(max_length=64)] | None = None


class CompensationOffered(_RawBase):
    type: Literal["compensation.offered"]
    amount: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    authorised_by_role: Annotated[str, Field(min_length=1, max_length=64)]


class SurveyAnswered(_RawBase):
    type: Literal["survey.answered"]
    score: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, Field(max_length=MAX_TEXT)] | None = None


RawEvent = Annotated[
    NewComplaint
    | FollowUpContact
    | StatusChange
    | Transfer
    | Recategorised
    | CallbackPromised
    | CompensationOffered
    | SurveyAnswered,
    Field(discriminator="type"),
]
RAW_EVENT_TYPES = (
    "complaint.new",
    "complaint.contact",
    "complaint.status",
    "complaint.transfer",
    "complaint.recategorised",
    "callback.promised",
    "compensation.offered",
    "survey.answered",
)

raw_event_adapter: TypeAdapter[RawEvent] = TypeAdapter(RawEvent)


def parse_raw_event(data: bytes | str) -> RawEvent:
    """Parse and validate one raw event from JSON (raises pydantic.ValidationError)."""
    return raw_event_adapter.validate_json(data)


def raw_key(source: str, complaint_ref: str) -> bytes:
    """Kafka key of the raw topic: source + the call center's complaint reference."""
    return f"{source}:{complaint_ref}".encode()


__all__ = [
    "MAX_PLACE",
    "MAX_TEXT",
    "Place",
    "CallbackPromised",
    "CompensationOffered",
    "Customer",
    "FollowUpContact",
    "NewComplaint",
    "RawEvent",
    "StatusChange",
    "Transfer",
    "Recategorised",
    "SurveyAnswered",
    "parse_raw_event",
    "raw_key",
]
