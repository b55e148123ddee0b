"""One SLA target of one complaint, and what its clock does next (pure).

The state lives in `sla_timer.timers`; memory holds only a heap of next due instants, so
an instance carries a million open complaints cheaply and recovers by reading one column.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from schemas.common import Priority
from services.sla_timer.calendar import BusinessCalendar
from services.sla_timer.policy import Plan

ACTIVE, PAUSED, BREACHED, MET, CANCELLED = "active", "paused", "breached", "met", "cancelled"
LIVE = (ACTIVE, PAUSED, BREACHED)
_0 = timedelta(0)


@dataclass(frozen=True, slots=True)
class TargetState:
    complaint_id: str
    target: str
    partition: int
    state: str
    priority: Priority
    department: str
    category: str | None
    policy: str
    sensitive: bool
    tightened: bool
    """A special period is in force: its policy applies (`policy` names it, e.g.
    `standard-315-P2`); if that is not defined, the next stricter priority's."""
    source: str | None
    route_version: int
    started_at: datetime
    """When the clock last (re)started; business time before it is in `used`."""
    used: timedelta = _0
    due_at: datetime | None = None
    """For a promised callback: the promised time."""
    deadline: datetime | None = None
    warned_pct: int = 0
    escalation_level: int = 0
    next_due: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.complaint_id, self.target)

    @property
    def live(self) -> bool:
        return self.state in LIVE

    def elapsed(self, now: datetime, calendar: BusinessCalendar) -> timedelta:
        """Business time used so far (the clock does not run while paused)."""
        if self.state in (ACTIVE, BREACHED) and now > self.started_at:
            return self.used + calendar.business_time_between(self.started_at, now)
        return self.used

    def pause(self, now: datetime, calendar: BusinessCalendar) -> TargetState:
        return replace(self, state=PAUSED, used=self.elapsed(now, calendar), started_at=now)

    def resume(self, now: datetime) -> TargetState:
        return replace(self, state=ACTIVE, started_at=now)

    def stop(self, now: datetime, calendar: BusinessCalendar, state: str = MET) -> TargetState:
        return replace(
            self, state=state, used=self.elapsed(now, calendar), started_at=now, next_due=None
        )

    def restart(self, at: datetime) -> TargetState:
        """A fresh cycle of the same target (keep-informed after an update, a reopen)."""
        return replace(
            self,
            state=ACTIVE,
            started_at=at,
            used=_0,
            warned_pct=0,
            escalation_level=0,
            deadline=None,
            next_due=None,
        )


def next_step(st: TargetState, plan: Plan) -> tuple[datetime, str, int] | None:
    """The next thing this target's clock will do: (when, action, pct or level)."""
    if st.state == ACTIVE:
        for pct, at in plan.warnings:
            if pct > st.warned_pct and at < plan.deadline:
                return at, "warn", pct
        return plan.deadline, "breach", 0
    if st.state == BREACHED:
        for level, _, at in plan.escalations:
            if level > st.escalation_level:
                return at, "escalate", level
    return None
