"""Safety, threats to go public, priority moves, and special periods on and off by date."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from schemas.common import Channel, Priority
from services.routing.rules import Facts, Router, decide
from services.routing.severity import (
    DateRange,
    Severity,
    SpecialPeriods,
    adjust,
    load_periods,
    local_date,
)

from .conftest import MINI_PERIODS, MINI_RULES, Write

P1, P2, P3, P4 = Priority.P1, Priority.P2, Priority.P3, Priority.P4


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("再不处理我就找记者曝光", "media"),
        ("再不處理我就找媒體", "media"),
        ("I'm taking this to the news", "media"),
        ("我要打12315", "regulator"),
        ("已向消協投訴", "regulator"),
        ("我会向市场监管部门反映", "regulator"),
        ("I have written to the Attorney General", "regulator"),
        ("Filed with the CFPB and the BBB", "regulator"),
        ("我已经请了律师", "court"),
        ("我會找律師起訴你們", "court"),
        ("I will sue", "court"),
        ("my lawyer has the file", "court"),
        ("我要发微博", "social_media"),
        ("posting this on social media", "social_media"),
    ],
)
def test_threats_make_a_complaint_sensitive(shipped: Router, text, kind):
    severity = shipped.severity.assess(text=text, channel=Channel.PHONE)
    assert severity.sensitive
    assert kind in dict(severity.threats)


@pytest.mark.parametrize(
    "text",
    [
        "This issue has been open for a week",
        "Please stop sending me the newsletter",
        "I want to pursue a refund for my suede shoes",
        "My firewall settings were reset",
        "heartburn medicine was not delivered",
        "The courteous agent could not help",
    ],
)
def test_no_false_positives_from_parts_of_words(shipped: Router, text):
    severity = shipped.severity.assess(text=text, channel=Channel.EMAIL)
    assert not severity.sensitive and not severity.safety


@pytest.mark.parametrize("channel", [Channel.REGULATOR, Channel.SOCIAL])
def test_public_and_regulatory_channels_are_sensitive(shipped: Router, channel):
    severity = shipped.severity.assess(text="账单不对", channel=channel)
    assert severity.sensitive and severity.public_channel == channel
    assert not shipped.severity.assess(text="账单不对", channel=Channel.PHONE).sensitive


def _severity(safety=(), threats=(), channel=None) -> Severity:
    return Severity(tuple(safety), tuple(threats), channel)


@pytest.mark.parametrize(
    ("base", "severity", "repeat", "reopens", "expected"),
    [
        (P4, _severity(), 0, 0, P4),
        (P4, _severity(safety=["fire"]), 0, 0, P1),
        (P3, _severity(threats=[("court", ("sue",))]), 0, 0, P2),
        (P3, _severity(channel=Channel.SOCIAL), 0, 0, P2),
        (P4, _severity(), 1, 0, P3),
        (P3, _severity(threats=[("media", ("news",))]), 2, 0, P1),
        (P4, _severity(), 0, 2, P2),
        (P2, _severity(threats=[("court", ("sue",))]), 1, 1, P1),
        (P1, _severity(threats=[("court", ("sue",))]), 1, 0, P1),
    ],
)
def test_adjust(base, severity, repeat, reopens, expected):
    moved = adjust(base, severity, repeat_count=repeat, reopens=reopens)
    assert moved.priority == expected
    assert len(moved.reasons) == sum(
        [bool(severity.safety), severity.sensitive, repeat > 0, reopens > 0]
    )


@pytest.fixture
def calendar(write: Write) -> SpecialPeriods:
    return SpecialPeriods(load_periods(write("periods.yaml", MINI_PERIODS)).periods)


@pytest.mark.parametrize(
    ("on", "region", "active"),
    [
        (date(2025, 3, 15), "CN-SH", True),
        (date(2025, 3, 8), "CN-SH", True),
        (date(2025, 3, 22), "CN", True),
        (date(2031, 3, 15), "CN-GD", True),  # every year
        (date(2025, 3, 7), "CN-SH", False),
        (date(2025, 3, 23), "CN-SH", False),
        (date(2025, 3, 15), "US-TX", False),
        (date(2025, 3, 15), None, False),
        (None, "CN-SH", False),
    ],
)
def test_yearly_period_by_date_and_region(calendar: SpecialPeriods, on, region, active):
    found = calendar.active(on, category="billing", region=region, product=None, text="")
    assert ([a.period.name for a in found] == ["cn-315"]) is active


@pytest.mark.parametrize(
    ("on", "product", "text", "active"),
    [
        (date(2025, 6, 10), "Heater X2", "", True),
        (date(2025, 6, 10), None, "我家的取暖器冒烟了", True),
        (date(2025, 6, 10), "Heater X3", "", False),
        (date(2025, 5, 31), "Heater X2", "", False),
        (date(2026, 6, 10), "Heater X2", "", False),  # a dated period does not repeat
    ],
)
def test_recall_period_is_limited_to_its_products(
    calendar: SpecialPeriods, on, product, text, active
):
    found = calendar.active(on, category="safety", region="US", product=product, text=text)
    assert ([a.period.name for a in found] == ["recall"]) is active


@pytest.mark.parametrize(
    ("day", "inside"),
    [(date(2025, 12, 24), True), (date(2025, 12, 31), True), (date(2026, 1, 2), True),
     (date(2026, 1, 3), False), (date(2025, 12, 23), False)],
)  # fmt: skip
def test_a_yearly_range_may_cross_new_year(day, inside):
    assert DateRange(start="12-24", end="01-02").contains(day) is inside


def test_3_15_tightens_the_sla_and_makes_the_complaint_visible_to_management():
    # Given the same billing complaint from Shanghai, once on 3·15 and once a month later
    on_day = decide(
        category="billing", text="", repeat_count=0, region="CN-SH", on=date(2026, 3, 15)
    )
    later = decide(
        category="billing", text="", repeat_count=0, region="CN-SH", on=date(2026, 4, 15)
    )
    # Then only the first has the tighter policy and is visible to management
    assert on_day.sla_policy == "standard-315-P3" and later.sla_policy == "standard-P3"
    assert {"management_visible", "3·15"} <= set(on_day.tags)
    assert "management_visible" not in later.tags
    assert on_day.special_periods == ("cn-315",) and later.special_periods == ()
    assert on_day.priority == later.priority  # a period tightens the SLA, not the priority
    assert any("special period 'cn-315' on 2026-03-15" in r for r in on_day.reasons)


def test_the_first_active_period_tightens_the_policy_once(write: Write):
    periods = (
        MINI_PERIODS
        + """
  - name: peak
    dates: [{start: "03-01", end: "03-31"}]
    sla_suffix: peak
    tags: [peak]
"""
    )
    router = Router.from_files(
        write("rules.yaml", MINI_RULES), periods_path=write("periods.yaml", periods)
    )
    decision = router.decide(Facts(category="billing", region="CN-SH", on=date(2025, 3, 15)))
    assert decision.special_periods == ("cn-315", "peak")
    assert decision.sla_policy == "cn-315-P3"  # rule billing-cn: policy cn, default P3
    assert decision.tags.count("management_visible") == 1 and "peak" in decision.tags
    assert any("'peak'" in r and "SLA already tightened" in r for r in decision.reasons)


def test_a_period_may_name_a_stricter_policy(mini: Router):
    facts = Facts(category="misc", product="heater x2", on=date(2025, 6, 3))
    assert mini.decide(facts).sla_policy == "recall-P2"


@pytest.mark.parametrize(
    ("time_zone", "offset", "expected"),
    [
        ("Asia/Shanghai", "+08:00", date(2025, 3, 15)),
        (None, "+08:00", date(2025, 3, 15)),
        ("Not/AZone", "+0800", date(2025, 3, 15)),
        ("America/Chicago", "-06:00", date(2025, 3, 14)),
        (None, None, date(2025, 3, 14)),
    ],
)
def test_local_date(time_zone, offset, expected):
    moment = datetime(2025, 3, 14, 16, 30, tzinfo=UTC)
    assert local_date(moment, time_zone=time_zone, utc_offset=offset) == expected
