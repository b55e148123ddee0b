"""`complaintflow show` names the category as people read it."""

from __future__ import annotations

from services.analytics.queries import category_label, display_name

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


def test_list_names_a_category_in_the_operator_s_language_or_script_else_by_its_own_name():
    shown = {"zh-Hans": "账单费用", "en": "Billing"}
    assert display_name("billing", shown, "zh-Hans") == "账单费用"
    # A Chinese reader reads the other script's name rather than the taxonomy's
    assert display_name("billing", shown, "zh-Hant") == "账单费用"
    assert display_name("billing", {"zh-Hant": "帳單費用"}, "zh-Hans") == "帳單費用"
    assert display_name("billing", {"zh-Hant": "帳單費用"}, "en") == "billing"
    assert display_name("billing", {}, "en") == "billing"
    assert display_name(None, {}, "en") == "-"
