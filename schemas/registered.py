"""`complaints.registered.v1`: validated, de-duplicated, PII-protected new complaints."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from schemas.common import Channel, Language, StrictModel, UtcDateTime


class RegisteredComplaint(StrictModel):
    complaint_id: str
    """Deterministic id (UUIDv5 of source and the call center's complaint reference)."""
    reference: str
    """Human reference a customer can read out on the phone, e.g. `CF-7KQ2-M9XD`."""
    source: str
    external_ref: str
    source_event_id: str
    occurred_at: UtcDateTime
    source_utc_offset: str
    """The offset the call center reported the event time in, e.g. `+08:00`."""
    registered_at: UtcDateTime
    channel: Channel
    language: Language
    category: str | None = None
    sub_category: str | None = None
    product: str | None = None
    subject: str | None = None
    """Subject with PII patterns redacted."""
    description: str
    """Complaint text with phone numbers, emails, card and id numbers redacted."""
    customer_token: str
    """Stable pseudonymous token of the customer (keyed hash); the clear data is in the vault."""
    contact_masked: str | None = None
    """Masked contact, e.g. `138****5678` or `j***@example.com`."""
    region: str | None = None
    place: str | None = None
    """Where the problem is (site, store, street address or `lat,lon`), as the call center
    named it, with PII patterns redacted; `lat,lon` to 3 decimals (`31.230,121.474`, ~110 m);
    never the customer's own address."""
    time_zone: str | None = None
    repeat_of: str | None = None
    repeat_count: Annotated[int, Field(ge=0)] = 0
    text_truncated: bool = False
    """True when a text grew past 100,000 characters once redacted (a mark such as `[name]` can
    be longer than what it replaces) and was cut there, so that the event fits in a Kafka
    message. Texts of up to 100,000 characters travel whole."""
