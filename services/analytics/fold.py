"""How a batch of events changes each complaint's archived state, folded per complaint.

Pure: the batch's events, in the order they were consumed, become one `Patch` per complaint
that the archive applies with one statement, whatever the complaint's state before. A patch
expresses each change relative to that unknown state (a count to add, a level to raise, a
status that replaces), so applying a batch at once equals applying its events one by one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.notifications import NotificationOutcome
from schemas.registered import RegisteredComplaint
from schemas.routed import RoutedComplaint
from schemas.sla import SlaEvent, SlaEventKind

Archived = RegisteredComplaint | LifecycleEvent | RoutedComplaint | SlaEvent | NotificationOutcome
CLOSING = ("resolved", "closed")


@dataclass
class Patch:
    """One complaint's change from one batch; `None` leaves a field as it was."""

    complaint_id: str
    registered: RegisteredComplaint | None = None
    routed: RoutedComplaint | None = None
    """The highest route version in the batch (applied only if above the archived one)."""
    status: str | None = None
    """The last status set in the batch."""
    resolved_reset: bool = False
    """A reopen in the batch: the resolution time is the first after the last reopen."""
    resolved_at: datetime | None = None
    csat: int | None = None
    sla_deadline: datetime | None = None
    breached: bool = False
    escalation_level: int = 0
    notifications: int = 0


def fold(events: Iterable[Archived]) -> list[Patch]:
    """One patch per complaint, in the order complaints first appear."""
    patches: dict[str, Patch] = {}
    for model in events:
        p = patches.get(model.complaint_id)
        if p is None:
            p = patches[model.complaint_id] = Patch(model.complaint_id)
        if isinstance(model, RegisteredComplaint):
            p.registered = model
        elif isinstance(model, RoutedComplaint):
            if p.routed is None or model.version > p.routed.version:
                p.routed = model
        elif isinstance(model, LifecycleEvent):
            _lifecycle(p, model)
        elif isinstance(model, SlaEvent):
            p.sla_deadline = model.deadline
            p.breached = p.breached or model.kind == SlaEventKind.BREACHED
            p.escalation_level = max(p.escalation_level, model.level or 0)
        else:
            p.notifications += 1
    return list(patches.values())


def _lifecycle(p: Patch, e: LifecycleEvent) -> None:
    status = e.status.value if e.kind == LifecycleKind.STATUS and e.status else None
    if status is not None:
        p.status = status
    if status == "reopened":
        p.resolved_reset, p.resolved_at = True, None
    elif status in CLOSING and p.resolved_at is None:
        p.resolved_at = e.occurred_at
    if e.score is not None:
        p.csat = e.score
