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
    QUEUED = "queued"
    """Recorded, to be sent (the intent, in the transaction of the event that called for it)."""
    SENT = "sent"
    """The provider took it (`detail`: its answer)."""
    DEFERRED = "deferred"
    """Held back on purpose (quiet hours); `next_attempt_at` says until when."""
    RETRYING = "retrying"
    """An attempt failed for a reason that may pass; tried again at `next_attempt_at`."""
    FAILED = "failed"
    DEAD = "dead"
    """Given up: a permanent refusal, nobody to send to, or every attempt used."""
    UNKNOWN = "unknown"
    """The worker stopped between sending and recording: never sent again (at most once)."""
    SKIPPED = "skipped"
    """Recorded and never sent: history (an import of old complaints) is not news."""


class NotificationOutcome(StrictModel):
    notification_key: str
    """At most one notification is sent per key (e.g. `<complaint>:ack`)."""
    complaint_id: str
    kind: str
    """acknowledgement, sla_breach, ... (low cardinality)."""
    audience: Audience
    recipient: str
    """Customer token or the staff person's roster id; never clear contact data."""
    channel: str
    language: Language
    outcome: Outcome
    attempts: Annotated[int, Field(ge=0)]
    """Send attempts so far (0 while queued or skipped)."""
    at: UtcDateTime
    detail: str | None = None
    """The provider's answer or why (never contact data nor credentials)."""
    next_attempt_at: UtcDateTime | None = None
