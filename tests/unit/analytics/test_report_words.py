"""The report's words and headline changes, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.analytics.figures import Compliance, Durations, Figures
from services.analytics.periods import Period
from services.analytics.report.build import buckets, headline
from services.analytics.report.labels import Words

MON = datetime(2026, 3, 2, tzinfo=UTC)


def figures(**values: object) -> Figures:
    f = Figures(Period(MON, MON + timedelta(days=7)), None)
    for name, value in values.items():
        setattr(f, name, value)
    return f


def test_numbers_durations_and_rates_in_each_language():
    en, zh, tw = Words("en"), Words("zh-Hans"), Words("zh-Hant")
    assert (en.duration(1800), en.duration(3 * 3600), en.duration(3 * 86400)) == (
        "30.0 min", "3.0 h", "3.0 d"
    )  # fmt: skip
    assert zh.duration(259200) == "3.0 天" and tw.duration(600) == "10.0 分鐘"
    assert en.duration(12.34) == "12.3 s" and zh.duration(90) == "90.0 秒"
    assert en.percent(3 / 7) == "42.9%" and en.number(1234567) == "1,234,567"
    assert en.number(None) == en.percent(None) == en.duration(None) == "–"
    assert zh("title") == "投诉管理报告" and tw("title") == "投訴管理報告"
    assert en("billing") == "billing"  # a value, not a word of ours, stays as it is
    assert (zh.department("finance"), tw.department("technical")) == ("财务部", "技術支援部")
    assert en.department("customer_service") == "Customer service"
    assert zh.department("night-shift") == "night-shift"  # one the rules do not name
    with pytest.raises(ValueError, match="expected one of en, zh-Hans, zh-Hant"):
        Words("fr")


def test_a_change_reads_good_or_bad_by_which_way_is_better():
    now = figures(received=6, sla_total=Compliance(3, 4), mttr=Durations(2, 10.0, 10.0, 10.0))
    before = figures(received=3, sla_total=Compliance(3, 1), mttr=Durations(2, 20.0, 20.0, 20.0))
    rows = {h.label: h for h in headline(now, before, Words("en"))}
    assert (rows["Complaints received"].change, rows["Complaints received"].tone) == (
        "+100%", "neutral"
    )  # fmt: skip
    assert rows["SLA targets met"].change == "-32.1 pt" and rows["SLA targets met"].tone == "bad"
    assert rows["Time to resolve (median)"].tone == "good"  # faster
    assert rows["Satisfaction (1–5)"].change == "–"  # no answers in either period
    assert rows["Escalated targets"].change == "±0"


def test_trend_buckets_cover_the_period():
    week = Period(MON, MON + timedelta(days=7))
    assert buckets(week) == [MON + timedelta(days=d) for d in range(7)]
    day = Period(MON, MON + timedelta(days=1))
    assert len(buckets(day)) == 24
    quarter = Period(MON + timedelta(days=2), MON + timedelta(days=92))
    weeks = buckets(quarter)  # Mondays from the one before the start to the last before the end
    assert (weeks[0], weeks[-1], len(weeks)) == (MON, datetime(2026, 6, 1, tzinfo=UTC), 14)


def test_categories_read_as_routing_s_display_names_in_the_report_s_language():
    en, zh, tw = Words("en"), Words("zh-Hans"), Words("zh-Hant")
    for w in (en, zh, tw):
        w.categories = {"billing": {"zh-Hans": "账单费用", "en": "Billing"}}
    assert (en.category("billing"), zh.category("billing"), tw.category("billing")) == (
        "Billing", "账单费用", "账单费用"
    )  # fmt: skip
    assert en.category("费用问题") == "费用问题"  # no display names: the archive's name
    assert zh.issue("billing / double charge") == "账单费用 / double charge"
