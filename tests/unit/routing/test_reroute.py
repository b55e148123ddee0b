"""Re-routing: transfers, category corrections and reopens make the next version, with reasons."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import TypeAdapter

from schemas.common import Priority
from services.routing.rules import (
    CategoryCorrection,
    Change,
    Decision,
    Facts,
    Reopen,
    RerouteError,
    Router,
    Transfer,
    reroute,
)

P1, P2, P3, P4 = Priority.P1, Priority.P2, Priority.P3, Priority.P4


@pytest.fixture
def billing(mini: Router) -> Decision:
    return mini.decide(Facts(category="billing", text="wrong bill"), language="en", load={})


def test_transfer_to_another_queue_picks_an_owner_there_and_keeps_priority_and_sla(
    mini: Router, billing: Decision
):
    # Given a billing complaint owned by amy, When an agent transfers it to the network queue
    change = Transfer(queue="network", by="amy", note="it is the line")
    moved = mini.reroute(billing, change, load={"dina": 1})
    # Then version 2 is in the network team's queue, with a network agent as owner
    assert (moved.version, moved.department, moved.queue, moved.owner) == (
        2,
        "tech",
        "network",
        "eve",
    )
    assert (moved.priority, moved.sla_policy) == (billing.priority, billing.sla_policy)
    assert moved.reasons[: len(billing.reasons)] == billing.reasons
    assert moved.reasons[-2] == (
        "v2: transferred by amy from finance/billing (owner amy) to tech/network (it is the line); "
        "priority and SLA unchanged"
    )
    assert moved.reasons[-1].startswith("v2: owner 'eve': least open load 0/4")
    assert moved.skills == ()  # the network queue's rule asks for no skill; billing is not needed


def test_transfer_to_a_named_owner(mini: Router, billing: Decision):
    moved = mini.reroute(billing, Transfer(owner="bob", by="lead-1"))
    assert (moved.version, moved.queue, moved.owner) == (2, "billing", "bob")
    assert moved.reasons[-1] == "v2: owner 'bob' named by the transfer"


def test_transfer_department_can_be_given_and_unknown_queues_keep_the_department(
    mini: Router, billing: Decision
):
    assert mini.reroute(billing, Transfer(queue="x", by="a")).department == "finance"
    named = Transfer(queue="x", department="compliance", by="a")
    assert mini.reroute(billing, named).department == "compliance"
    unknown = Transfer(queue="x", department="legal", by="a")  # not a department of the rules
    assert mini.reroute(billing, unknown).department == "other"


def test_a_transfer_to_nowhere_is_refused(mini: Router, billing: Decision):
    with pytest.raises(RerouteError, match="must name a queue, an owner or both"):
        mini.reroute(billing, Transfer(by="amy"))


def test_category_correction_decides_again_from_the_stored_facts(mini: Router):
    # Given a complaint nobody could classify, in triage
    triaged = mini.decide(Facts(text="please help", repeat_count=1), language="en", load={})
    assert (triaged.queue, triaged.priority) == ("triage", P2)
    # When an agent corrects the category
    fixed = mini.reroute(triaged, CategoryCorrection(category="帳單", by="amy"), load={"amy": 1})
    # Then it is routed as billing, the repeat still counts, and the reasons say who and why
    assert (fixed.version, fixed.category, fixed.confidence) == (2, "billing", 1.0)
    assert (fixed.queue, fixed.owner, fixed.priority) == ("billing", "bob", P3)  # P4 + repeat
    assert fixed.facts.category == "billing" and fixed.facts.text == "please help"
    assert fixed.reasons[0] == "v2: category corrected by amy from uncategorised to billing"
    assert "repeat complaint (1 earlier): priority P4 → P3" in fixed.reasons


def test_a_correction_that_keeps_the_queue_keeps_the_owner(mini: Router, billing: Decision):
    fixed = mini.reroute(
        billing, CategoryCorrection(category="billing", sub_category="late fee", by="a"), load={}
    )
    assert (fixed.queue, fixed.owner, fixed.sub_category) == ("billing", "amy", "late fee")
    assert fixed.reasons[-1] == "owner 'amy' stays: the queue did not change"


def test_a_correction_keeps_the_special_period_of_the_complaint_date(mini: Router):
    first = mini.decide(Facts(category="network", region="CN-SH", on=date(2025, 3, 15)))
    fixed = mini.reroute(first, CategoryCorrection(category="billing", by="a"))
    assert fixed.sla_policy == "cn-315-P3" and "management_visible" in fixed.tags


def test_an_unknown_category_is_refused(mini: Router, billing: Decision):
    with pytest.raises(RerouteError, match="unknown category 'telepathy': expected one of billing"):
        mini.reroute(billing, CategoryCorrection(category="telepathy", by="amy"))


def test_reopen_raises_priority_and_keeps_the_owner(mini: Router, billing: Decision):
    assert (billing.priority, billing.owner) == (P4, "amy")
    once = mini.reroute(billing, Reopen(note="still wrong"))
    twice = mini.reroute(once, Reopen(by="agent-9"))
    assert [d.version for d in (billing, once, twice)] == [1, 2, 3]
    assert [d.priority for d in (billing, once, twice)] == [P4, P3, P2]
    assert [d.sla_policy for d in (once, twice)] == ["standard-P3", "standard-P2"]
    assert twice.owner == "amy" and twice.reopens == 2 and twice.tags.count("reopened") == 1
    assert once.reasons[-1] == (
        "v2: reopened by customer (still wrong): priority P4 → P3; owner 'amy' stays accountable"
    )


def test_a_correction_after_a_reopen_keeps_the_reopen_in_the_priority(mini: Router):
    first = mini.decide(Facts(category="misc"), language="en", load={})
    reopened = mini.reroute(first, Reopen())
    fixed = mini.reroute(reopened, CategoryCorrection(category="billing", by="a"))
    assert (first.priority, reopened.priority, fixed.priority) == (P3, P2, P3)  # billing P4 + 1
    assert fixed.version == 3 and "reopened 1 time(s): priority P4 → P3" in fixed.reasons


def test_a_stored_decision_can_be_rerouted_after_a_round_trip_through_json(mini: Router):
    first = mini.decide(Facts(category="billing", text="bill", on=date(2025, 6, 1)), load={})
    stored = Decision.model_validate_json(first.model_dump_json())
    assert stored == first
    change = TypeAdapter(Change).validate_python(
        {"kind": "transfer", "queue": "network", "by": "x"}
    )
    assert mini.reroute(stored, change).version == 2


def test_module_level_reroute_uses_the_shipped_rules(shipped: Router):
    first = shipped.decide(Facts(text="宽带断网"), language="zh-Hans", load={})
    fixed = reroute(first, CategoryCorrection(category="Debt collection", by="a"), load={})
    assert (fixed.category, fixed.department, fixed.version) == (
        "debt_collection",
        "collections",
        2,
    )


@pytest.mark.parametrize(
    ("named", "department"),
    [
        ("finance", "finance"),
        (" Finance ", "finance"),
        ("TECH", "tech"),
        ("nana@example.cn", "other"),
        ("the people upstairs", "other"),
        ("[email]", "other"),
    ],
)
def test_a_transfer_names_a_known_department_or_other(
    mini: Router, billing: Decision, named: str, department: str
):
    # Given an agent who types the department of a transfer by hand
    moved = mini.reroute(billing, Transfer(queue="network", department=named, by="amy"))
    # Then the decision carries a department routing knows (a bounded label), or `other`
    assert moved.department == department
    assert named.strip() not in " ".join(moved.reasons) or department != "other"
