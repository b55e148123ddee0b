"""`complaints.sla.v1`: the life of each SLA target of a complaint."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from schemas.common import Priority, StrictModel, UtcDateTime


class SlaTarget(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    KEEP_INFORMED = "keep_informed"
    RESOLVE = "resolve"
    CALLBACK = "callback"
    FOLLOW_UP = "follow_up"


class SlaEventKind(StrEnum):
    STARTED = "started"
    WARNING = "warning"
    BREACHED = "breached"
    ESCALATED = "escalated"
    MET = "met"
    PAUSED = "paused"
    RESUMED = "resumed"
    CANCELLED = "cancelled"


class SlaEvent(StrictModel):
    complaint_id: str
    kind: SlaEventKind
    target: SlaTarget
    policy: str
    priority: Priority
    department: str
    deadline: UtcDateTime
    emitted_at: UtcDateTime
    threshold_pct: Annotated[int, Field(ge=1, le=100)] | None = None
    level: Annotated[int, Field(ge=1)] | None = None
    escalated_to: str | None = None
    late_by_seconds: Annotated[float, Field(ge=0)] | None = None
    """For a breach: how long after the deadline it was emitted."""
    elapsed_seconds: Annotated[float, Field(ge=0)] | None = None
    """For `met`: time used against the target."""
    occurred_at: UtcDateTime | None = None
    """For `started`, `paused`, `resumed`, `met` and `cancelled`: when it happened, on the
    complaint's own events' time (for an import, long before `emitted_at`); absent for the
    clock's own steps (warnings, breaches, escalations), which happen when emitted."""
    historical: bool = False
    """A warning, breach or escalation that fell due longer ago than the history horizon
    (an import of old complaints, a long outage): recorded and counted; nobody is messaged."""
