"""Routing rules, table-driven in Chinese and English."""

from __future__ import annotations

import pytest

from schemas.common import Priority
from services.routing.rules import decide


@pytest.mark.parametrize(
    ("category", "text", "repeat", "department", "priority", "tags"),
    [
        ("billing", "charged twice on my bill", 0, "finance", Priority.P3, ()),
        ("billing", "账单多扣了钱", 1, "finance", Priority.P2, ("repeat",)),
        ("network", "宽带断了三天", 0, "technical", Priority.P2, ()),
        ("product_quality", "充电宝起火了，孩子受伤", 0, "quality", Priority.P1, ("safety",)),
        ("delivery", "the heater caught fire", 0, "logistics", Priority.P1, ("safety",)),
        (
            "service_attitude",
            "态度差，我要找记者曝光",
            0,
            "customer_service",
            Priority.P2,
            ("sensitive",),
        ),
        ("refund", "I will talk to my lawyer", 0, "finance", Priority.P2, ("sensitive",)),
        ("contract", "terms unclear", 2, "customer_service", Priority.P3, ("repeat",)),
        (None, "没有分类的投诉", 0, "customer_service", Priority.P3, ()),
        ("unheard-of", "something", 0, "customer_service", Priority.P3, ()),
    ],
)
def test_decisions(category, text, repeat, department, priority, tags):
    decision = decide(category=category, text=text, repeat_count=repeat)
    assert decision.department == department
    assert decision.priority == priority
    assert decision.tags == tags
    assert decision.reasons  # every decision explains itself
    assert decision.sla_policy == f"standard-{priority.value}"


def test_unrouted_categories_go_to_triage_and_say_why():
    decision = decide(category=None, text="x", repeat_count=0)
    assert decision.queue == "triage" and decision.category == "uncategorised"
    assert "triage" in decision.reasons[0]


def test_p1_is_never_raised_further_and_reasons_accumulate():
    decision = decide(category="fraud", text="my lawyer will sue", repeat_count=3)
    assert decision.priority == Priority.P1
    assert len(decision.reasons) == 3
