"""SLA policies and deadline arithmetic, as pure functions of their inputs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.common import Priority

RESOLVE_HOURS: dict[Priority, float] = {
    Priority.P1: 4,
    Priority.P2: 24,
    Priority.P3: 72,
    Priority.P4: 120,
}
WARNING_PCTS = (50, 75, 90)
ESCALATION_CHAIN = ("team_lead", "department_manager", "director", "executive")
ESCALATION_STEP = 0.25
"""Each escalation level follows the previous after this share of the target's duration."""


@dataclass(frozen=True)
class Plan:
    """When each step of one SLA target falls due."""

    deadline: datetime
    warnings: tuple[tuple[int, datetime], ...]
    escalations: tuple[tuple[int, str, datetime], ...]


def resolve_duration(priority: Priority, *, scale: float = 1.0) -> timedelta:
    """How long the resolve target of `priority` allows (scaled for demos and tests)."""
    return timedelta(hours=RESOLVE_HOURS[priority] * scale)


def plan(
    started_at: datetime,
    duration: timedelta,
    *,
    used: timedelta = timedelta(0),
    start_level: int = 1,
) -> Plan:
    """The deadline, warning times and escalation times of a target started at `started_at`.

    `used` is time already spent (after a pause or a priority change), so the deadline is
    `started_at + duration - used`, and warnings fall at their share of the whole duration.
    """
    origin = started_at - used
    deadline = origin + duration
    warnings = tuple((pct, origin + duration * (pct / 100)) for pct in WARNING_PCTS)
    escalations = tuple(
        (
            level,
            ESCALATION_CHAIN[level - 1],
            deadline + duration * (ESCALATION_STEP * (level - start_level + 1)),
        )
        for level in range(start_level, len(ESCALATION_CHAIN) + 1)
    )
    return Plan(deadline, warnings, escalations)
