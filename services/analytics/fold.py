"""How a batch of events changes each complaint's archived state, folded per complaint.

Pure: the batch's events, in the order they were consumed, become one `Patch` per complaint
that the archive applies with one statement, whatever the complaint's state before. A patch
expresses each change relative to that unknown state (a count to add, a level to raise, a
status that replaces), so applying a batch at once equals applying its events one by one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.notifications import NotificationOutcome, Outcome
from schemas.registered import RegisteredComplaint
from schemas.routed import RoutedComplaint
from schemas.sla import SlaEvent, SlaEventKind

Archived = RegisteredComplaint | LifecycleEvent | RoutedComplaint | SlaEvent | NotificationOutcome
CLOSING = ("resolved", "closed")
ACKNOWLEDGING = ("acknowledged", "assigned", "in_progress", "waiting_on_customer", *CLOSING)
"""Statuses that show an agent took the complaint up: the first meets its acknowledge target
(as the SLA clock has it)."""


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
    acknowledged_at: datetime | None = None
    """The earliest event time of an acknowledging status in the batch."""
    csat: int | None = None
    sla_deadline: datetime | None = None
    breached: bool = False
    escalation_level: int = 0
    notifications: int = 0
    reopens: int = 0
    root_cause: str | None = None
    corrective_action: str | None = None
    preventive_action: str | None = None
    compensation: Decimal = Decimal(0)
    """Compensation offered in the batch, added to what was offered before."""
    compensation_currency: str | None = None
    csat_comment: str | None = None
    targets: dict[str, TargetPatch] = field(default_factory=dict)
    """Per SLA target (acknowledge, keep_informed, resolve, callback, follow_up)."""


@dataclass
class TargetPatch:
    """One SLA target's change from one batch: its latest state and deadline."""

    policy: str
    state: str
    deadline: datetime
    breached: bool = False
    escalation_level: int = 0
    elapsed_seconds: float | None = None
    met_at: datetime | None = None
    """When the SLA clock says it was met, in event time (None unless its latest event is a
    `met` that carries it)."""


STATE_AFTER = {
    SlaEventKind.STARTED: "active",
    SlaEventKind.WARNING: "active",
    SlaEventKind.RESUMED: "active",
    SlaEventKind.BREACHED: "breached",
    SlaEventKind.ESCALATED: "breached",
    SlaEventKind.MET: "met",
    SlaEventKind.PAUSED: "paused",
    SlaEventKind.CANCELLED: "cancelled",
}
"""A target's state after each kind of SLA event (a breach met late stays `breached` in its
flag and turns `met`)."""


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
            _sla(p, model)
        elif model.outcome == Outcome.SENT:  # a notice is queued, maybe retried, then sent
            p.notifications += 1
    return list(patches.values())


def _lifecycle(p: Patch, e: LifecycleEvent) -> None:
    status = e.status.value if e.kind == LifecycleKind.STATUS and e.status else None
    if status is not None:
        p.status = status
    if status == "reopened":
        p.resolved_reset, p.resolved_at = True, None
        p.reopens += 1
    elif status in CLOSING and p.resolved_at is None:
        p.resolved_at = e.occurred_at
    if status in ACKNOWLEDGING and (p.acknowledged_at is None or e.occurred_at < p.acknowledged_at):
        p.acknowledged_at = e.occurred_at
    if e.score is not None:
        p.csat = e.score
    if e.kind == LifecycleKind.SURVEY_ANSWERED and e.comment:
        p.csat_comment = e.comment
    p.root_cause = e.root_cause or p.root_cause
    p.corrective_action = e.corrective_action or p.corrective_action
    p.preventive_action = e.preventive_action or p.preventive_action
    if e.kind == LifecycleKind.COMPENSATION_OFFERED and e.amount:
        p.compensation += Decimal(e.amount)
        p.compensation_currency = e.currency or p.compensation_currency


def _sla(p: Patch, e: SlaEvent) -> None:
    breached = e.kind == SlaEventKind.BREACHED
    p.sla_deadline = e.deadline
    p.breached = p.breached or breached
    p.escalation_level = max(p.escalation_level, e.level or 0)
    t = p.targets.get(e.target.value)
    if t is None:
        t = p.targets[e.target.value] = TargetPatch(e.policy, STATE_AFTER[e.kind], e.deadline)
    t.policy, t.state, t.deadline = e.policy, STATE_AFTER[e.kind], e.deadline
    t.breached = t.breached or breached or e.kind == SlaEventKind.ESCALATED
    t.escalation_level = max(t.escalation_level, e.level or 0)
    if e.elapsed_seconds is not None:
        t.elapsed_seconds = e.elapsed_seconds
    t.met_at = e.occurred_at if e.kind == SlaEventKind.MET else None
