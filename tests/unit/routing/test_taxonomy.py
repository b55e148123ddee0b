"""A call center's own categories: names and display labels, a route per category, a trained
model over them, and the rules that still apply on top."""

from __future__ import annotations

import pytest

from schemas.common import Priority
from services.kernel.errors import ConfigError
from services.routing.classifier import Trained
from services.routing.model import ModelParams, TextModel
from services.routing.rules import Facts, Router
from tests.unit.routing.conftest import Write

TAXONOMY = """
version: 1
defaults: {department: 客服部, queue: general, priority: P3}
triage: {department: 客服部, queue: triage, priority: P3}
classifier: {model_threshold: 0.5, explain_terms: 3}
categories:
  费用问题:
    display: {zh-Hans: 费用问题, zh-Hant: 費用問題, en: Charges}
    labels: [Billing]
    route: {department: 财务部, queue: 账务, priority: P3, skills: [账务], sla_policy: standard}
  网络质量:
    display: {zh-Hans: 网络质量, en: Network quality}
    route: {department: 网络部, queue: 网络, priority: P2, sla_policy: network}
  Other & misc:
    display: {en: Other}
rules:
  - name: network-vip-line
    when: {category: 网络质量, keywords: [专线]}
    then: {queue: 专线, priority: P1}
"""

TEXTS = [
    "话费多扣了",
    "账单金额不对",
    "月租被重复收取",
    "多收了流量费",
    "宽带断网",
    "信号很差",
    "网速太慢",
    "老是掉线",
    "别的问题",
    "一般咨询",
    "想问个事情",
    "随便说说",
]
LABELS = ["费用问题"] * 4 + ["网络质量"] * 4 + ["Other & misc"] * 4


def router(write: Write) -> Router:
    return Router.from_files(write("rules.yaml", TAXONOMY))


def test_categories_named_by_the_call_center_route_as_the_taxonomy_says(write):
    r = router(write)
    # Given a complaint the call center filed under its own label
    d = r.decide(Facts(category="Billing", text="上个月的账单"))
    # Then it takes the category's route: department, queue, priority, skills, SLA policy
    assert (d.category, d.department, d.queue, d.priority) == (
        "费用问题",
        "财务部",
        "账务",
        Priority.P3,
    )
    assert d.skills == ("账务",) and d.sla_policy == "standard-P3"
    assert any("category '费用问题' goes to 财务部/账务 at P3" in why for why in d.reasons)
    # And a category without a route goes to the defaults
    d = r.decide(Facts(category="other & MISC"))
    assert (d.category, d.department, d.queue) == ("Other & misc", "客服部", "general")
    # And the SLA policies the router can name include the routes'
    assert "network-P1" in r.sla_policies()


def test_rules_and_severity_still_apply_on_top_of_the_route(write):
    r = router(write)
    # A rule on the category still overrides the route's queue and priority
    d = r.decide(Facts(category="网络质量", text="公司专线断了"))
    assert (d.department, d.queue, d.priority) == ("网络部", "专线", Priority.P1)
    # The shipped severity terms apply to a file that brings none: safety → P1
    d = r.decide(Facts(category="费用问题", text="充电器起火了"))
    assert d.priority == Priority.P1 and "safety" in d.tags
    # A threat to go to a regulator makes it sensitive and one level more urgent
    d = r.decide(Facts(category="费用问题", text="再不处理我就打12315"))
    assert d.sensitive and d.priority == Priority.P2


def test_a_trained_model_classifies_and_explains_itself(write):
    r = router(write)
    model = TextModel.fit(TEXTS, LABELS, params=ModelParams(min_df=1))
    r.classifier.trained = Trained("v7", model)
    # Given a complaint without a category the model is sure of
    d = r.decide(Facts(text="这个月话费又多扣了"))
    # Then the model's category routes it, and the reasons say which model, how sure, and why
    assert d.category == "费用问题" and d.classified_by == "model" and d.model_version == "v7"
    why = d.reasons[0]
    assert "model v7 says '费用问题' with confidence" in why
    assert "'话费' +" in why.split("weighed most: ")[1]
    # And text the model is not sure of goes to triage, still naming the model's guess
    d = r.decide(Facts(text="嗯"))
    assert d.category == "uncategorised" and d.queue == "triage" and d.model_version == "v7"
    assert "< threshold 0.50" in d.reasons[0]
    # And a label the call center gave still wins over the model
    d = r.decide(Facts(category="网络质量", text="话费多扣"))
    assert d.category == "网络质量" and d.classified_by == "label" and d.model_version is None


def test_a_model_of_another_taxonomy_never_routes_to_a_category_this_one_lacks(write):
    r = router(write)
    r.classifier.trained = Trained("v1", TextModel.fit(TEXTS, ["billing"] * 6 + ["network"] * 6))
    d = r.decide(Facts(text="话费多扣了"))
    assert d.category == "uncategorised" and "not a category of this taxonomy" in d.reasons[0]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            (
                "priority: P3, skills: [账务]",
                "priority: P9, skills: [账务]",
            ),
            "rules.yaml:10: key categories.费用问题.route.priority: expected 'P1', 'P2', 'P3'",
        ),
        (
            ("display: {zh-Hans: 网络质量, en: Network quality}", "display: {fr: Réseau}"),
            "rules.yaml:12: key categories.网络质量.display.fr: expected 'zh-Hans', 'zh-Hant'",
        ),
        (("  Other & misc:", "  uncategorised:"), "'uncategorised' is reserved for triage"),
        (("labels: [Billing]", "labels: [Billing, 网络质量]"), "is already a label of '网络质量'"),
        (("  Other & misc:", "  ' padded':"), "key categories. padded: expected text matching"),
    ],
)
def test_taxonomy_errors_name_the_file_line_and_key(write, change, expected):
    old, new = change
    assert old in TAXONOMY
    with pytest.raises(ConfigError) as err:
        Router.from_files(write("rules.yaml", TAXONOMY.replace(old, new)))
    assert expected in str(err.value)
