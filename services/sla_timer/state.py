"""One SLA target's state and the transitions the clock rules allow, free of I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from schemas.common import Priority
from services.sla_timer.policy import Plan, plan

ACTIVE, PAUSED, BREACHED, MET = "active", "paused", "breached", "met"
LIVE = (ACTIVE, PAUSED, BREACHED)


@dataclass(frozen=True)
class TargetState:
    complaint_id: str
    target: str
    partition: int
    state: str
    priority: Priority
    department: str
    policy: str
    sensitive: bool
    route_version: int
    started_at: datetime
    """When the clock last (re)started; time before it is in `used`."""
    used: timedelta
    duration: timedelta
    warned_pct: int = 0
    escalation_level: int = 0

    @property
    def start_level(self) -> int:
        """P1 and sensitive complaints skip the first level of the escalation chain."""
        return 2 if self.priority == Priority.P1 or self.sensitive else 1

    def plan(self) -> Plan:
        return plan(self.started_at, self.duration, used=self.used, start_level=self.start_level)

    @property
    def deadline(self) -> datetime:
        return self.started_at - self.used + self.duration

    def elapsed(self, now: datetime) -> timedelta:
        running = now - self.started_at if self.state in (ACTIVE, BREACHED) else timedelta(0)
        return self.used + max(running, timedelta(0))

    def pause(self, now: datetime) -> TargetState:
        return replace(self, state=PAUSED, used=self.elapsed(now), started_at=now)

    def resume(self, now: datetime) -> TargetState:
        return replace(self, state=ACTIVE, started_at=now)

    def rerouted(
        self,
        now: datetime,
        *,
        priority: Priority,
        department: str,
        policy: str,
        duration: timedelta,
        sensitive: bool,
        version: int,
    ) -> TargetState:
        """A priority or policy change keeps the time already used and applies the new target."""
        used = self.elapsed(now)
        state = ACTIVE if self.state == BREACHED and used < duration else self.state
        return replace(
            self,
            priority=priority,
            department=department,
            policy=policy,
            duration=duration,
            sensitive=sensitive,
            route_version=version,
            used=used,
            started_at=now,
            state=state,
        )
