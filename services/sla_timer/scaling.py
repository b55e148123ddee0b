"""Shrinking a policy for demos and tests: every duration × factor, on the wall clock.

`make run` uses this so a P3 complaint breaches in under a minute; with a factor of 1
nothing is scaled and business calendars apply.
"""

from __future__ import annotations

from dataclasses import replace

from services.sla_timer.calendar import ALWAYS, Span
from services.sla_timer.policy import WALL_CLOCK, Policy


def scaled(policy: Policy, factor: float) -> Policy:
    """`policy` with every target and escalation delay × `factor`, counted round the clock."""

    def span(s: Span) -> Span:
        return Span(s.on(WALL_CLOCK) * factor, 0)

    targets = {
        name: replace(
            t,
            calendar=ALWAYS,
            within=span(t.within) if t.within is not None else None,
            warn_before=t.warn_before * factor if t.warn_before is not None else None,
        )
        for name, t in policy.targets.items()
    }
    levels = tuple(replace(level, after=span(level.after)) for level in policy.escalation.levels)
    escalation = replace(policy.escalation, levels=levels, clock="wall")
    return replace(policy, calendar=ALWAYS, targets=targets, escalation=escalation)
