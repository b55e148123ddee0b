"""`complaints.lifecycle.v1`: what happens to a complaint after registration."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from schemas.common import Channel, Status, StrictModel, UtcDateTime


class LifecycleKind(StrEnum):
    CONTACT = "contact"
    STATUS = "status"
    TRANSFER = "transfer"
    RECATEGORISED = "recategorised"
    CALLBACK_PROMISED = "callback_promised"
    COMPENSATION_OFFERED = "compensation_offered"
    SURVEY_ANSWERED = "survey_answered"


class LifecycleEvent(StrictModel):
    complaint_id: str
    kind: LifecycleKind
    source: str
    source_event_id: str
    occurred_at: UtcDateTime
    recorded_at: UtcDateTime
    channel: Channel
    status: Status | None = None
    agent: str | None = None
    note: str | None = None
    """Free text (redacted of PII) of a follow-up contact."""
    root_cause: str | None = None
    corrective_action: str | None = None
    preventive_action: str | None = None
    queue: str | None = None
    owner: str | None = None
    department: str | None = None
    """Where a transfer sends the complaint."""
    category: str | None = None
    sub_category: str | None = None
    """What an agent corrected the category to."""
    due_at: UtcDateTime | None = None
    amount: str | None = None
    """Decimal amount as a string, to keep it exact."""
    currency: str | None = None
    authorised_by_role: str | None = None
    score: Annotated[int, Field(ge=1, le=5)] | None = None
    comment: str | None = None
    text_truncated: bool = False
    """True when a text grew past 100,000 characters once redacted (a mark such as `[name]` can
    be longer than what it replaces) and was cut there, so that the event fits in a Kafka
    message. Texts of up to 100,000 characters travel whole."""
