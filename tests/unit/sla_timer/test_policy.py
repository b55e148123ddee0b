"""Target state transitions and the next step of a target's clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from schemas.common import Priority
from services.sla_timer.policy import WALL_CLOCK
from services.sla_timer.policy_book import load_default
from services.sla_timer.scaling import scaled
from services.sla_timer.state import ACTIVE, BREACHED, MET, PAUSED, TargetState, next_step

T0 = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)  # a Monday


def state(**over: object) -> TargetState:
    fields: dict[str, object] = dict(
        complaint_id="c",
        target="resolve",
        partition=0,
        state=ACTIVE,
        priority=Priority.P1,
        department="quality",
        category="safety",
        policy="standard-P1",
        sensitive=False,
        tightened=False,
        source="london-cc",
        route_version=1,
        started_at=T0,
    )
    fields.update(over)
    return TargetState(**fields)  # type: ignore[arg-type]


def test_the_steps_of_a_p1_resolve_target_in_order():
    policy = load_default().named("standard-P1")
    st = state()
    plan = policy.plan_target("resolve", st.started_at, WALL_CLOCK, st.used)
    assert plan.deadline == T0 + timedelta(hours=4)
    assert next_step(st, plan) == (T0 + timedelta(hours=2), "warn", 50)
    st = replace(st, warned_pct=90)
    assert next_step(st, plan) == (plan.deadline, "breach", 0)
    st = replace(st, state=BREACHED)
    first = next_step(st, plan)
    assert first is not None and first[1] == "escalate" and first[0] >= plan.deadline
    st = replace(st, escalation_level=plan.escalations[-1][0])
    assert next_step(st, plan) is None
    assert next_step(replace(st, state=MET), plan) is None
    assert next_step(replace(st, state=PAUSED), plan) is None


def test_pause_stops_the_clock_and_resume_restarts_it():
    # Given a target 10 hours in (wall clock), When paused overnight and resumed
    paused = state().pause(T0 + timedelta(hours=10), WALL_CLOCK)
    assert paused.state == PAUSED and paused.used == timedelta(hours=10)
    assert paused.elapsed(T0 + timedelta(hours=24), WALL_CLOCK) == timedelta(hours=10)
    resumed = paused.resume(T0 + timedelta(hours=24))
    # Then the business time used keeps counting from the resume only
    assert resumed.elapsed(T0 + timedelta(hours=25), WALL_CLOCK) == timedelta(hours=11)


def test_elapsed_counts_only_business_hours_on_a_business_calendar():
    london = load_default().calendar_for_source("london-cc")
    st = state(started_at=datetime(2026, 3, 13, 16, 0, tzinfo=UTC))  # Friday 16:00
    # Over the weekend to Monday 10:00: Friday 16:00-17:30 and Monday 09:00-10:00
    assert st.elapsed(datetime(2026, 3, 16, 10, 0, tzinfo=UTC), london) == timedelta(
        hours=2, minutes=30
    )


def test_restart_is_a_fresh_cycle():
    st = replace(state(state=BREACHED, warned_pct=90, escalation_level=2, used=timedelta(hours=3)))
    again = st.restart(T0 + timedelta(days=1))
    assert (again.state, again.used, again.warned_pct, again.escalation_level) == (
        ACTIVE,
        timedelta(0),
        0,
        0,
    )


def test_scaled_policies_shrink_every_duration_on_the_wall_clock():
    policy = scaled(load_default().named("standard-P3"), 45 / (72 * 3600))
    plan = policy.plan_target("resolve", T0, WALL_CLOCK)
    assert plan.deadline == T0 + timedelta(seconds=45)
    assert all(at <= plan.deadline + timedelta(seconds=45) for _, _, at in plan.escalations[:2])
