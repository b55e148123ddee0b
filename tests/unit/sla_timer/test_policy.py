"""SLA arithmetic: deadlines, warnings, escalation, pause and priority change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.common import Priority
from services.sla_timer.policy import ESCALATION_CHAIN, plan, resolve_duration
from services.sla_timer.state import ACTIVE, BREACHED, PAUSED, TargetState

T0 = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)


def state(**over: object) -> TargetState:
    fields: dict[str, object] = dict(
        complaint_id="c",
        target="resolve",
        partition=0,
        state=ACTIVE,
        priority=Priority.P3,
        department="finance",
        policy="standard-P3",
        sensitive=False,
        route_version=1,
        started_at=T0,
        used=timedelta(0),
        duration=timedelta(hours=72),
    )
    fields.update(over)
    return TargetState(**fields)  # type: ignore[arg-type]


def test_durations_by_priority_and_scale():
    assert resolve_duration(Priority.P1) == timedelta(hours=4)
    assert resolve_duration(Priority.P4) == timedelta(hours=120)
    assert resolve_duration(Priority.P3, scale=1 / 3600) == timedelta(seconds=72)


def test_plan_puts_warnings_before_and_escalations_after_the_deadline():
    p = plan(T0, timedelta(hours=4))
    assert p.deadline == T0 + timedelta(hours=4)
    assert [pct for pct, _ in p.warnings] == [50, 75, 90]
    assert p.warnings[0][1] == T0 + timedelta(hours=2)
    assert [role for _, role, _ in p.escalations] == list(ESCALATION_CHAIN)
    assert all(at > p.deadline for _, _, at in p.escalations)
    assert p.escalations[0][2] == p.deadline + timedelta(hours=1)


def test_time_already_used_brings_the_deadline_forward():
    p = plan(T0, timedelta(hours=4), used=timedelta(hours=1))
    assert p.deadline == T0 + timedelta(hours=3)


def test_p1_and_sensitive_skip_the_first_escalation_level():
    assert state(priority=Priority.P1).plan().escalations[0][1] == "department_manager"
    assert state(sensitive=True).plan().escalations[0][0] == 2
    assert state().plan().escalations[0][1] == "team_lead"


def test_pause_stops_the_clock_and_resume_restarts_it():
    # Given a target 10 hours in, When paused for a night and resumed
    paused = state().pause(T0 + timedelta(hours=10))
    assert paused.state == PAUSED and paused.used == timedelta(hours=10)
    assert paused.elapsed(T0 + timedelta(hours=24)) == timedelta(hours=10)
    resumed = paused.resume(T0 + timedelta(hours=24))
    # Then the deadline moves by the paused time
    assert resumed.deadline == T0 + timedelta(hours=72 + 14)
    assert resumed.elapsed(T0 + timedelta(hours=25)) == timedelta(hours=11)


def test_priority_change_keeps_time_used_and_applies_the_new_target():
    later = T0 + timedelta(hours=2)
    changed = state().rerouted(
        later,
        priority=Priority.P1,
        department="quality",
        policy="standard-P1",
        duration=timedelta(hours=4),
        sensitive=False,
        version=2,
    )
    assert changed.used == timedelta(hours=2)
    assert changed.deadline == T0 + timedelta(hours=4)
    assert changed.route_version == 2


def test_reroute_to_a_longer_target_lifts_a_breach():
    breached = state(state=BREACHED, duration=timedelta(hours=4))
    lifted = breached.rerouted(
        T0 + timedelta(hours=5),
        priority=Priority.P4,
        department="x",
        policy="standard-P4",
        duration=timedelta(hours=120),
        sensitive=False,
        version=2,
    )
    assert lifted.state == ACTIVE
