"""Promises and dates said the way a person says them, per language and time zone."""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.common import Language
from services.notification.wording import promise, when, working_days, zone

SHANGHAI = zone("Asia/Shanghai")
MONDAY_10 = datetime(2025, 3, 3, 10, 0, tzinfo=SHANGHAI)
THURSDAY_18 = datetime(2025, 3, 6, 18, 0, tzinfo=SHANGHAI)


def test_three_working_days_in_each_language():
    said = {
        lang: promise(lang, now=MONDAY_10, deadline=THURSDAY_18, tz=SHANGHAI) for lang in Language
    }
    assert said[Language.EN] == "within 3 working days, by Thursday 6 March 18:00"
    assert said[Language.ZH_HANS] == "3个工作日内，即3月6日（星期四）18:00前"
    assert said[Language.ZH_HANT] == "3個工作天內，即3月6日（星期四）18:00前"


def test_a_same_day_target_is_said_in_hours():
    deadline = MONDAY_10 + timedelta(hours=4)
    assert promise(Language.EN, now=MONDAY_10, deadline=deadline, tz=SHANGHAI) == (
        "within 4 hours, by Monday 3 March 14:00"
    )
    assert promise(Language.ZH_HANS, now=MONDAY_10, deadline=deadline, tz=SHANGHAI) == (
        "4小时内，即3月3日（星期一）14:00前"
    )


def test_the_reader_s_time_zone_and_its_way_of_writing_dates():
    # Given a deadline of 18:00 in Shanghai, read in New York
    new_york = zone("America/New_York")
    assert when(THURSDAY_18, Language.EN, new_york) == "Thursday, March 6, 5:00 AM"


def test_working_days_skip_the_weekend():
    friday = datetime(2025, 3, 7).date()
    assert working_days(friday, friday + timedelta(days=3)) == 1  # Saturday, Sunday, Monday


def test_a_zone_falls_back_to_the_offset_then_the_default():
    assert str(zone("Not/AZone", "+05:30")) == "UTC+05:30"
    assert getattr(zone(None, None, "Europe/London"), "key", None) == "Europe/London"
