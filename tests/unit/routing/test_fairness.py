"""Fairness: the SLA depends on what happened, never on what the customer is worth."""

from __future__ import annotations

import inspect
from datetime import date

import pytest
from pydantic import ValidationError

from services.routing.rules import Facts, Router, decide

TIERS = [None, "vip", "gold", "standard", "basic"]
COMPLAINTS = [
    Facts(category="billing", text="charged twice on my bill"),
    Facts(
        category="billing",
        text="账单多扣了钱，我要找记者曝光",
        region="CN-SH",
        on=date(2025, 3, 15),
    ),
    Facts(category="network", text="宽带断网", repeat_count=2),
    Facts(category="Credit card or prepaid card", text="", channel="regulator"),
    Facts(category=None, text="快递没收到"),
    Facts(category=None, text="the heater caught fire"),
    Facts(category=None, text="something nobody can classify"),
]
WHAT_MAY_DIFFER = {"queue", "owner", "reasons", "customer_tier"}


@pytest.mark.parametrize("facts", COMPLAINTS)
def test_the_tier_may_change_the_queue_but_nothing_else(shipped: Router, facts: Facts):
    load = {"cn-finance-01": 3, "en-telecom-01": 1}
    decisions = [
        shipped.decide(facts, language="en", customer_tier=tier, load=load).model_dump(
            exclude=WHAT_MAY_DIFFER
        )
        for tier in TIERS
    ]
    assert all(d == decisions[0] for d in decisions[1:])


def test_a_vip_gets_another_queue_with_the_same_priority_and_sla():
    standard = decide(category="billing", text="bill wrong", repeat_count=0)
    vip = decide(category="billing", text="bill wrong", repeat_count=0, customer_tier="vip")
    assert (standard.queue, vip.queue) == ("billing", "billing_priority")
    assert (vip.priority, vip.sla_policy) == (standard.priority, standard.sla_policy)
    assert (
        "customer tier 'vip': queue billing → billing_priority (priority, SLA same)" in vip.reasons
    )


def test_tier_is_structurally_out_of_reach_of_priority_and_sla():
    # The facts that priority and SLA are computed from cannot carry a tier …
    with pytest.raises(ValidationError):
        Facts(category="billing", customer_tier="vip")  # type: ignore[call-arg]
    # … and the step that computes them does not take one.
    assert not any("tier" in p for p in inspect.signature(Router._assess).parameters)
    assert not any("tier" in p for p in inspect.signature(Router._route).parameters)
