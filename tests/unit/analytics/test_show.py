"""`complaintflow show` names the category as people read it."""

from __future__ import annotations

from services.analytics.queries import category_label

ROUTED = {"category": "billing", "category_display": {"zh-Hans": "账单费用", "en": "Billing"}}


def test_the_category_is_shown_by_the_display_names_its_latest_decision_gave():
    events = [
        ("t0", "complaints.registered.v1", "registered", {"category": "billing"}),
        ("t1", "complaints.routed.v1", "routed:v1", ROUTED),
        ("t2", "complaints.routed.v1", "routed:v2", {"category": "network"}),
    ]
    assert category_label("billing", events) == "账单费用 / Billing (billing)"
    # A category no decision gave display names for is shown by its name
    assert category_label("network", events) == "network"
    assert category_label("费用问题", []) == "费用问题"
