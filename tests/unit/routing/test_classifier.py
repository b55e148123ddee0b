"""Text folding, term matching with word boundaries, and the category classifier."""

from __future__ import annotations

import pytest

from services.routing.classifier import Terms, fold, region_in
from services.routing.rules import Facts, Router

from .conftest import MINI_PERIODS, MINI_RULES, Write


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("受傷 律師 記者 話費", "受伤 律师 记者 话费"),
        ("ＣＦＰＢ　１２３１５", "cfpb 12315"),
        ("Caught   FIRE\n", "caught fire"),
        ("3・15", "3·15"),
    ],
)
def test_fold(text, folded):
    assert fold(text) == folded


@pytest.mark.parametrize(
    ("term", "text", "matches"),
    [
        ("sue", "I will sue you", True),
        ("sue", "SUE!", True),
        ("sue", "this issue is still open", False),
        ("sue", "I will pursue a refund", False),
        ("sue", "suede jacket", False),
        ("news", "I will take this to the news.", True),
        ("news", "unsubscribe me from the newsletter", False),
        ("12315", "再不处理就打12315投诉", True),
        ("12315", "１２３１５", True),
        ("12315", "客服电话4001231567", False),
        ("injur*", "my son was injured", True),
        ("injur*", "a serious injury", True),
        ("injur*", "noninjury", False),
        ("caught fire", "it Caught  Fire overnight", True),
        ("caught fire", "caughtfire", False),
        ("cfpb", "I filed with the CFPB", True),
        ("cfpb", "cfpbx", False),
        ("sim卡", "SIM卡坏了", True),
        ("sim卡", "esim卡", False),
        ("律师", "已請律師發函", True),
        ("曝光", "我要找媒體曝光", True),
        ("attorney general", "writing to the Attorney General", True),
        ("bbb", "complained to the BBB", True),
        ("bbb", "bbbq", False),
    ],
)
def test_terms_match_whole_english_words_and_chinese_anywhere(term, text, matches):
    assert (Terms([term]).find(fold(text)) == [term]) is matches


def test_terms_report_every_match_in_configuration_order():
    terms = Terms(["服务态度", "态度差", "rude"])
    assert terms.find(fold("服務態度差 and rude")) == ["服务态度", "态度差", "rude"]


@pytest.mark.parametrize(
    ("region", "codes", "inside"),
    [("CN-SH", ["CN"], True), ("cn", ["CN"], True), ("CNX", ["CN"], False), (None, ["CN"], False)],
)
def test_region_in(region, codes, inside):
    assert region_in(region, codes) is inside


@pytest.mark.parametrize(
    ("category", "text", "expected", "confidence", "method"),
    [
        ("账单", "", "billing", 1.0, "label"),
        ("帳單", "", "billing", 1.0, "label"),
        ("BILLING DEPT", "", "billing", 1.0, "label"),
        ("billing", "", "billing", 1.0, "label"),
        (None, "这个月话费不对", "billing", 0.667, "keywords"),  # 2 / (2 + 0 + 1)
        (None, "a wrong bill", "billing", 0.5, "keywords"),  # 1 / (1 + 0 + 1): at threshold
        ("Some other label", "话费 and bill", "billing", 0.75, "keywords"),  # 3 / (3 + 1)
        (None, "bill, and the 宽带 is down", None, 0.333, "keywords"),  # 1 / (1 + 1 + 1)
        (None, "nothing we know", None, 0.0, "none"),
    ],
)
def test_classifier_confidence(mini: Router, category, text, expected, confidence, method):
    result = mini.classifier.classify(category=category, text=text)
    assert (result.category, result.confidence, result.method) == (expected, confidence, method)


def test_below_the_threshold_the_best_guess_is_kept_and_the_complaint_goes_to_triage(
    mini: Router,
):
    result = mini.classifier.classify(category=None, text="bill, and the 宽带 is down")
    assert result.best_guess == "billing"  # tie: the category listed first in rules.yaml
    decision = mini.decide(Facts(text="bill, and the 宽带 is down"))
    assert (decision.queue, decision.category) == ("triage", "uncategorised")
    assert decision.confidence == 0.333
    assert "confidence 0.33 < threshold 0.50" in decision.reasons[0]
    assert decision.reasons[1] == "sent to triage: cs/triage at P3"


def test_the_threshold_is_configurable(write: Write):
    strict = MINI_RULES.replace("classifier: {threshold: 0.5}", "classifier: {threshold: 0.7}")
    router = Router.from_files(
        write("strict.yaml", strict), periods_path=write("periods.yaml", MINI_PERIODS)
    )
    assert router.decide(Facts(text="这个月话费不对")).queue == "triage"  # 0.667 < 0.7
    assert router.decide(Facts(text="话费 bill")).queue == "billing"  # 3 / 4 = 0.75


def test_a_wrong_category_is_reclassified_and_the_reason_says_so(mini: Router):
    decision = mini.decide(Facts(category="Accounts Receivable", text="my 话费 is wrong"))
    assert decision.category == "billing"
    assert decision.reasons[0].startswith("category 'Accounts Receivable' is not one we know")


def test_sub_category_labels(mini: Router):
    assert mini.classifier.sub_category("Fraud or scam") == "fraud_scam"
    assert mini.classifier.sub_category("  Something Else ") == "something else"
    assert mini.classifier.sub_category(None) is None
