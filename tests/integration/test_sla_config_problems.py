"""The SLA timer on the real database runs on through configuration gaps, and reports them."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from schemas.common import Priority, Status
from schemas.registry import ROUTED
from schemas.routed import RoutedComplaint
from services.kernel.clock import FrozenClock
from services.kernel.db import migrate
from services.sla_timer.app import CALENDAR, UNKNOWN_POLICY, SlaTimer
from services.sla_timer.policy_book import CONFIG_DIR
from services.sla_timer.settings import SlaSettings
from tests.integration.test_sla_clock import events, record, status

pytestmark = pytest.mark.integration
MON = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)  # Monday 09:00 in London (GMT)


def routed(
    cid: str,
    priority: Priority,
    policy: str,
    *,
    periods: tuple[str, ...] = (),
    source: str = "london-cc",
) -> object:
    return record(
        ROUTED,
        RoutedComplaint(
            complaint_id=cid,
            source=source,
            version=1,
            category="billing",
            department="finance",
            queue="billing",
            priority=priority,
            sla_policy=policy,
            special_periods=list(periods),
            reasons=["test"],
            occurred_at=MON,
            routed_at=MON,
        ),
    )


def timer(settings: SlaSettings, conn: psycopg.Connection) -> tuple[SlaTimer, CollectorRegistry]:
    registry = CollectorRegistry()
    handler = SlaTimer(settings, registry, FrozenClock(MON))
    migrate(conn, handler.schema, handler.migrations)
    handler.start(conn)
    handler.assigned({2}, conn)
    return handler, registry


def deadline(emits, target: str = "resolve") -> datetime:
    return next(e.value.deadline for e in emits if e.value.target.value == target)


def errors(registry: CollectorRegistry, kind: str) -> float | None:
    return registry.get_sample_value(
        "complaintflow_config_errors_total", {"worker": "sla_timer", "kind": kind}
    )


def test_a_policy_routing_names_but_nobody_defined_falls_back_and_is_reported(cf, caplog):
    caplog.set_level(logging.WARNING, logger="services.kernel.problems")
    with psycopg.connect(cf.db_url()) as conn:
        sla, registry = timer(SlaSettings.of(cf), conn)

        # Given routing names a policy the SLA policies do not define, for two complaints
        first = sla.handle(routed("u1", Priority.P3, "loyalty-P3"), conn)
        second = sla.handle(routed("u2", Priority.P3, "loyalty-P3"), conn)

        # Then their clocks still start, on the P3 policy the facts choose
        control = sla.handle(routed("u0", Priority.P3, "standard-P3"), conn)
        assert deadline(first) == deadline(second) == deadline(control)
        # And it is one problem, logged once, counted for each clock started on the fallback
        (problem,) = sla.problems.current()
        assert (problem.kind, problem.subject) == (UNKNOWN_POLICY, "loyalty-P3")
        assert "'standard-P3'" in problem.message
        assert errors(registry, UNKNOWN_POLICY) == 6  # acknowledge, keep informed, resolve × 2
        assert len(caplog.records) == 1


def test_a_special_period_uses_its_own_policy_and_an_undefined_one_the_stricter_priority(cf):
    with psycopg.connect(cf.db_url()) as conn:
        sla, registry = timer(SlaSettings.of(cf), conn)

        # Given a P3 complaint during 3·15, whose policy the shipped SLA policies define
        in_315 = sla.handle(routed("p1", Priority.P3, "standard-315-P3", periods=("cn-315",)), conn)
        # Then it is resolved within P2's business day (London: 8.5 h), nothing to report
        assert deadline(in_315) == MON + timedelta(hours=8.5)
        assert deadline(in_315, "acknowledge") == MON + timedelta(hours=1)
        assert sla.problems.current() == []

        # Given an operator's own special period whose policy nobody defined
        own = sla.handle(routed("p2", Priority.P3, "standard-fair-P3", periods=("fair",)), conn)
        # Then the next stricter priority's policy applies, and the gap is reported
        assert deadline(own) == deadline(in_315)
        (problem,) = sla.problems.current()
        assert problem.subject == "standard-fair-P3" and "one priority stricter" in problem.message
        assert errors(registry, UNKNOWN_POLICY) == 3


def test_a_status_before_the_routing_decision_is_no_configuration_problem(cf):
    with psycopg.connect(cf.db_url()) as conn:
        sla, _ = timer(SlaSettings.of(cf), conn)
        # Given a complaint resolved twice before routing decided anything about it
        sla.handle(status("early", Status.RESOLVED, MON), conn)
        again = sla.handle(status("early", Status.RESOLVED, MON + timedelta(hours=1)), conn)
        # Then nothing starts on the placeholder, and it is not a problem
        assert again == []
        assert sla.problems.current() == []
        # And when the decision comes, its resolve target is met and the follow-up clock starts
        decided = sla.handle(routed("early", Priority.P3, "standard-P3"), conn)
        assert ("met", None) in events(decided, "resolve")
        assert ("started", None) in events(decided, "follow_up")
        assert sla.problems.current() == []


def broken_calendars(tmp_path: Path, *, from_: date = date(2026, 3, 16)) -> Path:
    # London works on Mondays only, and the 120 Mondays from `from_` are company holidays.
    mondays = [from_ + timedelta(weeks=n) for n in range(120)]
    text = (CONFIG_DIR / "calendars.yaml").read_text(encoding="utf-8")
    text += (
        "\n  broken:\n    timezone: Europe/London\n"
        '    hours: {mon: ["09:00-17:00"]}\n'
        f"    extra_holidays: [{', '.join(d.isoformat() for d in mondays)}]\n"
    )
    path = tmp_path / "calendars.yaml"
    path.write_text(text.replace("london-cc: london", "london-cc: broken"), encoding="utf-8")
    return path


def test_a_calendar_that_cannot_place_a_deadline_counts_round_the_clock_and_is_reported(
    cf, tmp_path
):
    settings = SlaSettings.of(cf).model_copy(
        update={
            "sla_policies_path": CONFIG_DIR / "policies.yaml",
            "sla_calendars_path": broken_calendars(tmp_path),
        }
    )
    with psycopg.connect(cf.db_url()) as conn:
        sla, registry = timer(settings, conn)

        # Given a P3 complaint from a call center whose calendar has no working time for years
        started = sla.handle(routed("k1", Priority.P3, "standard-P3"), conn)

        # Then its clocks still start, counted round the clock (3 business days = 72 h)
        assert deadline(started) == MON + timedelta(days=3)
        assert deadline(started, "acknowledge") == MON + timedelta(hours=4)
        # And the calendar is the problem reported, once however many clocks met it
        (problem,) = sla.problems.current()
        assert (problem.kind, problem.subject) == (CALENDAR, "broken")
        assert "no working time for 400 days" in problem.message
        assert errors(registry, CALENDAR) == 3

        # And a complaint from a call center with a sound calendar is not affected
        sound = sla.handle(routed("k2", Priority.P3, "standard-P3", source="austin-cc"), conn)
        assert deadline(sound) != MON + timedelta(days=3)
        assert errors(registry, CALENDAR) == 3


def test_a_calendar_that_places_the_deadline_but_not_the_escalations_after_it(cf, tmp_path):
    # London works on Mondays only, and every Monday after the first is a holiday: the
    # acknowledge deadline (4 business hours) fits on the first Monday, the escalation chain
    # after its breach (a business day to the department manager) does not.
    path = broken_calendars(tmp_path, from_=MON.date() + timedelta(weeks=1))
    settings = SlaSettings.of(cf).model_copy(
        update={"sla_policies_path": CONFIG_DIR / "policies.yaml", "sla_calendars_path": path}
    )
    with psycopg.connect(cf.db_url()) as conn:
        sla, registry = timer(settings, conn)
        started = sla.handle(routed("k1", Priority.P3, "standard-P3"), conn)
        assert deadline(started, "acknowledge") == MON + timedelta(hours=4)
        # (the resolve clock, 3 business days, is already counted round the clock)
        reported = errors(registry, CALENDAR)

        # When the acknowledge deadline passes
        sla.clock.advance(timedelta(hours=4, seconds=1))
        fired = events(sla.tick(conn), "acknowledge")

        # Then it is breached and the owner told at once; the later levels, which the
        # calendar cannot place, are counted round the clock, and the calendar reported again
        assert ("breached", None) in fired
        assert ("escalated", 1) in fired
        assert errors(registry, CALENDAR) > reported
        sla.clock.advance(timedelta(hours=2))
        assert ("escalated", 2) in events(sla.tick(conn), "acknowledge")
        sla.clock.advance(timedelta(hours=22))
        assert ("escalated", 3) in events(sla.tick(conn), "acknowledge")
