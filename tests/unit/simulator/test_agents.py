"""The simulated agents' plans: on time mostly, late sometimes, the customer kept informed."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from services.simulator.agents import FOLLOW_UP, TARGETS, Step, plan

CUSTOMER = {"contact", "survey"}
"""What the customer does; everything else is an agent's update."""


def plans(priority: str, n: int = 2000, seed: int = 5) -> list[list[Step]]:
    rng = random.Random(seed)
    return [plan(rng, priority) for _ in range(n)]


def first(steps: list[Step], kind: str) -> Step:
    return next(s for s in steps if s.kind == kind)


def test_same_seed_same_plans():
    assert plans("P3", 50, seed=1) == plans("P3", 50, seed=1)
    assert plans("P3", 50, seed=1) != plans("P3", 50, seed=2)


@pytest.mark.parametrize("priority", list(TARGETS))
def test_a_complaint_is_acknowledged_assigned_worked_resolved_in_time_order(priority):
    for steps in plans(priority, 300):
        assert [s.kind for s in steps[:3]] == ["acknowledged", "assigned", "in_progress"]
        assert [s.after for s in steps] == sorted(s.after for s in steps)
        assert "resolved" in {s.kind for s in steps}
        surveys = [s for s in steps if s.kind == "survey"]
        if surveys:
            last_resolved = max(s.after for s in steps if s.kind == "resolved")
            assert surveys[0].after > last_resolved


@pytest.mark.parametrize("priority", list(TARGETS))
def test_most_are_within_their_targets_and_a_few_are_late(priority):
    t, all_plans = TARGETS[priority], plans(priority)
    late_acks = sum(first(p, "acknowledged").after > t.acknowledge for p in all_plans)
    late_resolutions = sum(first(p, "resolved").after > t.resolve for p in all_plans)
    assert 0 < late_acks < 0.06 * len(all_plans)
    assert 0 < late_resolutions < 0.12 * len(all_plans)


@pytest.mark.parametrize("priority", list(TARGETS))
def test_the_customer_hears_from_an_agent_within_keep_informed_until_resolution(priority):
    keep = TARGETS[priority].keep_informed
    for steps in plans(priority, 500):
        resolved = first(steps, "resolved").after
        updates = [s.after for s in steps if s.kind not in CUSTOMER and s.after <= resolved]
        assert max(b - a for a, b in zip(updates, updates[1:], strict=False)) < keep


def test_callbacks_are_mostly_kept_some_missed():
    kept = missed = 0
    for steps in plans("P3"):
        for i, s in enumerate(steps):
            if s.kind == "callback":
                assert s.due is not None and s.due > s.after
                after = next(n for n in steps[i + 1 :] if n.kind not in CUSTOMER)
                if after.after <= s.due:
                    kept += 1
                else:
                    missed += 1
    assert kept > 2 * missed > 0


def test_some_wait_on_the_customer_who_then_gets_in_touch():
    waits = 0
    for steps in plans("P2"):
        for i, s in enumerate(steps):
            if s.kind == "waiting_on_customer":
                waits += 1
                assert steps[i + 1].kind == "contact"
    assert waits > 50


def test_a_few_are_reopened_and_resolved_again():
    reopened = [p for p in plans("P3") if any(s.kind == "reopened" for s in p)]
    assert 0 < len(reopened) < 100
    for steps in reopened:
        kinds = [s.kind for s in steps]
        assert kinds.index("reopened") < len(kinds) - 1 - kinds[::-1].index("resolved")


def test_surveys_mostly_happy_some_low_most_within_the_follow_up():
    surveys = [s for p in plans("P3") for s in p if s.kind == "survey"]
    scores = Counter(s.score for s in surveys)
    assert len(surveys) > 0.9 * 2000
    assert scores[4] + scores[5] > 0.7 * len(surveys)
    assert scores[1] + scores[2] > 0
    for p in plans("P3", 300):
        resolved = max(s.after for s in p if s.kind == "resolved")
        for s in p:
            if s.kind == "survey":
                assert s.after - resolved < FOLLOW_UP
