"""`complaints.notifications.v1`: the outcome of each notification we attempted."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from schemas.common import Language, StrictModel, UtcDateTime


class Audience(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


class Outcome(StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    DEAD = "dead"


class NotificationOutcome(StrictModel):
    notification_key: str
    """At most one notification is sent per key (e.g. `<complaint>:ack`)."""
    complaint_id: str
    kind: str
    """acknowledgement, sla_breach, ... (low cardinality)."""
    audience: Audience
    recipient: str
    """Customer token or staff role/owner id; never clear contact data."""
    channel: str
    language: Language
    outcome: Outcome
    attempts: Annotated[int, Field(ge=1)]
    at: UtcDateTime
    detail: str | None = None
