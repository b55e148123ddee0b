"""Routing decisions with the shipped rules (Chinese, English, CFPB) and the rule semantics."""

from __future__ import annotations

from datetime import date

import pytest

from schemas.common import Channel, Priority
from services.routing.rules import Facts, Router, decide

P1, P2, P3, P4 = Priority.P1, Priority.P2, Priority.P3, Priority.P4


@pytest.mark.parametrize(
    ("text", "category", "department", "queue", "priority"),
    [
        # simplified Chinese
        ("这个月话费多扣了200元", "billing", "finance", "billing", P3),
        ("家里宽带断网三天了", "network", "technical", "network", P2),
        ("快递显示已签收但我没收到", "delivery", "logistics", "delivery", P3),
        ("退货一个月了还没退款", "refund", "finance", "refunds", P3),
        ("信用卡被盗刷了5000元", "fraud", "compliance", "fraud", P1),
        ("客服服务态度差，直接挂电话", "service_attitude", "customer_service", "conduct", P3),
        ("营业厅工作人员态度恶劣", "service_attitude", "customer_service", "conduct", P3),
        ("我的个人信息被泄露了", "privacy", "compliance", "privacy", P2),
        # traditional Chinese (the shipped terms are simplified only)
        ("這個月話費多扣了200元", "billing", "finance", "billing", P3),
        ("家裡寬頻斷網三天", "network", "technical", "network", P2),
        ("手機一直沒訊號", "network", "technical", "network", P2),
        ("快遞顯示已簽收但我沒收到", "delivery", "logistics", "delivery", P3),
        ("信用卡被盜刷", "fraud", "compliance", "fraud", P1),
        ("服務態度差", "service_attitude", "customer_service", "conduct", P3),
        ("我的個人資訊被洩露", "privacy", "compliance", "privacy", P2),
        # English, any case
        ("I was CHARGED TWICE on my bill", "billing", "finance", "billing", P3),
        ("My broadband has been down for three days", "network", "technical", "network", P2),
        ("The parcel was marked delivered but never arrived", "delivery", "logistics",
         "delivery", P3),
        ("Still no refund a month after I returned the item", "refund", "finance", "refunds",
         P3),
        ("The agent was rude and hung up on me", "service_attitude", "customer_service",
         "conduct", P3),
        ("There is a fee on my statement I never agreed to", "billing", "finance", "billing", P3),
        ("The battery started to smoke and burn in the kitchen", "safety", "quality", "safety",
         P1),
    ],
)  # fmt: skip
def test_free_text_complaints_without_category_are_classified_and_routed(
    text, category, department, queue, priority
):
    # Given a complaint with no category, When it is routed with the shipped rules
    decision = decide(category=None, text=text, repeat_count=0)
    # Then the classifier found the category and the rules routed it
    assert (decision.category, decision.department, decision.queue) == (category, department, queue)
    assert decision.priority == priority
    assert decision.confidence >= 0.5
    assert decision.sla_policy == ("urgent" if category == "safety" else "standard") + (
        f"-{priority.value}"
    )


def test_a_sensitive_chinese_complaint_is_classified_and_raised():
    text = "客服态度非常差，直接挂我电话。再不处理我就找记者曝光，还要打12315。"
    decision = decide(category=None, text=text, repeat_count=0)
    assert (decision.category, decision.queue, decision.priority) == (
        "service_attitude",
        "conduct",
        P2,
    )
    assert decision.sensitive
    assert any("media ('记者', '曝光'); threat to go to regulator ('12315')" in r
               for r in decision.reasons)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "safety_term"),
    [
        ("充电宝起火了，孩子受伤", "起火"),
        ("熱水器起火，孩子受傷", "起火"),
        ("The heater caught fire and my son was injured", "caught fire"),
        ("吃了零食后全家中毒", "中毒"),
        ("插座漏電，觸電了", "触电"),
    ],
)
def test_safety_is_p1_whatever_the_category(text, safety_term):
    decision = decide(category="delivery", text=text, repeat_count=0)
    assert decision.priority == P1
    assert "safety" in decision.tags
    assert any(safety_term in r and "→ P1" in r for r in decision.reasons)


CFPB = [
    # (product, issue, category, sub-category, department, queue, priority)
    ("Credit reporting, credit repair services, or other personal consumer reports",
     "Incorrect information on your report", "credit_reporting", "incorrect_information",
     "disputes", "credit_reports", P3),
    ("Debt collection", "Attempts to collect debt not owed", "debt_collection", "debt_not_owed",
     "collections", "collection_disputes", P2),
    ("Mortgage", "Trouble during payment process", "mortgage", "payment_trouble", "lending",
     "mortgages", P3),
    ("Credit card or prepaid card", "Problem with a purchase shown on your statement",
     "credit_card", "statement_dispute", "cards", "card_disputes", P3),
    ("Checking or savings account", "Managing an account", "bank_account",
     "account_management", "banking", "accounts", P3),
    ("Student loan", "Dealing with your lender or servicer", "student_loan",
     "dealing with your lender or servicer", "lending", "student_loans", P3),
    ("Vehicle loan or lease", "Managing the loan or lease", "vehicle_loan",
     "managing the loan or lease", "lending", "vehicle_loans", P3),
    ("Money transfer, virtual currency, or money service", "Fraud or scam", "money_transfer",
     "fraud_scam", "compliance", "fraud", P1),
    ("Payday loan, title loan, or personal loan", "Charged fees or interest you didn't expect",
     "consumer_loan", "charged fees or interest you didn't expect", "lending", "consumer_loans",
     P3),
    # labels match in any case; a product we have no label for is classified by keywords
    ("DEBT COLLECTION", None, "debt_collection", None, "collections", "collections", P3),
    ("Consumer credit reports", "Incorrect information on your report", "credit_reporting",
     "incorrect_information", "disputes", "credit_reports", P3),
    # no product at all: the issue alone says enough
    (None, "Attempts to collect debt not owed", "debt_collection", "debt_not_owed",
     "collections", "collection_disputes", P2),
    (None, "Fraud or scam", "fraud", "fraud_scam", "compliance", "fraud", P1),
]  # fmt: skip


@pytest.mark.parametrize(("product", "issue", "cat", "sub", "dept", "queue", "prio"), CFPB)
def test_cfpb_products_and_issues(product, issue, cat, sub, dept, queue, prio):
    decision = decide(category=product, sub_category=issue, text="", repeat_count=0)
    assert (decision.category, decision.sub_category) == (cat, sub)
    assert (decision.department, decision.queue, decision.priority) == (dept, queue, prio)


def test_an_ambiguous_cfpb_issue_alone_goes_to_triage():
    # "Managing an account" could be a bank, card or loan account: nobody should guess.
    decision = decide(category=None, sub_category="Managing an account", text="", repeat_count=0)
    assert decision.queue == "triage" and decision.category == "uncategorised"
    assert any("triage" in r for r in decision.reasons)


def test_a_cfpb_referral_gets_the_regulatory_policy_and_is_sensitive():
    decision = decide(
        category="Mortgage", text="", repeat_count=0, channel="regulator", region="US-TX"
    )
    assert decision.sla_policy == "regulatory-P2"  # P3 raised one level: sensitive
    assert decision.sensitive and {"via_regulator", "sensitive"} <= set(decision.tags)
    assert decision.matched_rules == ("regulator-referral", "mortgage")


@pytest.mark.parametrize(
    ("category", "text", "repeat", "priority", "tags"),
    [
        ("billing", "charged twice on my bill", 0, P3, ()),
        ("billing", "账单多扣了钱", 1, P2, ("repeat",)),
        ("service_attitude", "态度差，我要找记者曝光", 0, P2, ("sensitive",)),
        ("service_attitude", "態度差，我要找記者曝光", 0, P2, ("sensitive",)),
        ("refund", "I will talk to my lawyer", 0, P2, ("sensitive",)),
        ("contract", "terms unclear", 2, P3, ("repeat",)),
        ("contract", "terms unclear, I will sue", 2, P2, ("sensitive", "repeat")),
        ("fraud", "my lawyer will sue", 3, P1, ("fraud", "sensitive", "repeat")),
    ],
)
def test_sensitivity_and_repeats_raise_priority_one_level_each(
    category, text, repeat, priority, tags
):
    decision = decide(category=category, text=text, repeat_count=repeat)
    assert decision.priority == priority
    assert set(decision.tags) == set(tags)
    assert decision.sensitive == ("sensitive" in tags)


def test_priority_moves_are_explained_and_stop_at_p1():
    decision = decide(category="fraud", text="my lawyer will sue", repeat_count=3)
    text = "\n".join(decision.reasons)
    assert "rule #2 'fraud' matched (category fraud)" in text
    assert "threat to go to court ('lawyer', 'sue'): sensitive, priority stays P1" in text
    assert "repeat complaint (3 earlier): priority stays P1" in text


def test_the_original_call_of_app_py_still_works():
    decision = decide(category=None, text="没有分类的投诉", repeat_count=0)
    assert (decision.category, decision.queue, decision.priority) == ("uncategorised", "triage", P3)
    assert decision.sla_policy == "standard-P3" and decision.owner is None
    assert decision.reasons[-1] == "no owner chosen: the open load of the agents was not given"


def test_first_matching_rule_wins(mini: Router):
    decision = mini.decide(Facts(category="billing", text="", region="CN-SH"))
    assert decision.matched_rules == ("billing-cn",)
    assert (decision.queue, decision.sla_policy) == ("billing_cn", "cn-P3")  # P3: defaults
    assert decision.skills == ("billing",)


def test_continue_applies_and_a_later_rule_never_lowers_priority(mini: Router):
    decision = mini.decide(Facts(category="billing", text="", channel=Channel.SOCIAL))
    assert decision.matched_rules == ("social-tag", "billing")
    assert decision.queue == "billing" and "public" in decision.tags
    # social-tag says P2, billing says P4: P2 stands; the social channel is sensitive: P1
    assert decision.priority == P1
    assert any("rule #1 'social-tag' matched (channel social)" in r for r in decision.reasons)
    assert any("rule #4 'billing' matched (category billing)" in r for r in decision.reasons)


@pytest.mark.parametrize(
    ("facts", "queue"),
    [
        (Facts(category="billing", region="CN"), "billing_cn"),
        (Facts(category="billing", region="cn-bj"), "billing_cn"),
        (Facts(category="billing", region="CNX"), "billing"),
        (Facts(category="billing", region=None), "billing"),
        (Facts(category="network", product="Fiber 500M"), "fiber"),
        (Facts(category="network", product="光纖寬頻"), "fiber"),
        (Facts(category="network", product="fiberglass antenna"), "network"),
        (Facts(category="network", text="My ELDERLY mother has no line"), "network_care"),
        (Facts(category="network", text="家裡老人打不了電話"), "network_care"),
        (Facts(category="network", text="elderlyish"), "network"),
        (Facts(category="safety", text="", repeat_count=1), "safety_repeat"),
        (Facts(category="safety", text="", repeat_count=0), "safety"),
        (Facts(category="misc"), "general"),
        (Facts(category="billing", sub_category="FRAUD OR SCAM"), "fraud"),
    ],
)
def test_rule_conditions(mini: Router, facts: Facts, queue: str):
    assert mini.decide(facts).queue == queue


def test_without_a_deciding_rule_the_defaults_apply_and_say_so(mini: Router):
    decision = mini.decide(Facts(category="misc"))
    assert (decision.department, decision.queue, decision.priority) == ("cs", "general", P3)
    assert any("no rule decided the route: defaults cs/general" in r for r in decision.reasons)


def test_a_rule_can_match_a_special_period(mini: Router):
    facts = Facts(category="misc", product="Heater X2", on=date(2025, 6, 10))
    assert mini.decide(facts).queue == "recall"
    assert mini.decide(facts.model_copy(update={"on": date(2025, 7, 1)})).queue == "general"
    # Order still counts: an earlier matching rule (network) decides first.
    assert mini.decide(facts.model_copy(update={"category": "network"})).queue == "network"
