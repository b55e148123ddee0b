"""Types shared by several topic schemas: vocabularies, priorities and the strict base model."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a UTC offset")
    return value.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]
"""An aware timestamp, normalised to UTC (serialised as ISO-8601 with offset)."""


class StrictModel(BaseModel):
    """Base of every model we produce: unknown fields are rejected, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Channel(StrEnum):
    PHONE = "phone"
    WEB = "web"
    EMAIL = "email"
    SMS = "sms"
    CHAT = "chat"
    SOCIAL = "social"
    IN_PERSON = "in_person"
    LETTER = "letter"
    FAX = "fax"
    REGULATOR = "regulator"


class Language(StrEnum):
    ZH_HANS = "zh-Hans"
    ZH_HANT = "zh-Hant"
    EN = "en"


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class Status(StrEnum):
    """Closed-loop status of a complaint (ISO 10002 tracking)."""

    REGISTERED = "registered"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


OPEN_STATUSES = frozenset(
    {
        Status.REGISTERED,
        Status.ACKNOWLEDGED,
        Status.ASSIGNED,
        Status.IN_PROGRESS,
        Status.WAITING_ON_CUSTOMER,
        Status.REOPENED,
    }
)
