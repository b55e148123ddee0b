"""Reporting periods: the window asked for, the one before it, the trend's bucket, age bands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.analytics.periods import Period, age_band, period_of

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)  # a Wednesday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_without_dates_the_last_whole_period_before_now():
    assert period_of("day", now=NOW) == Period(utc(2026, 3, 10), utc(2026, 3, 11), "day")
    assert period_of("week", now=NOW) == Period(utc(2026, 3, 2), utc(2026, 3, 9), "week")
    assert period_of("month", now=NOW) == Period(utc(2026, 2, 1), utc(2026, 3, 1), "month")


def test_one_date_and_the_kind_give_the_other_end():
    assert period_of("week", start=utc(2025, 3, 3), now=NOW).end == utc(2025, 3, 10)
    assert period_of("month", end=utc(2026, 3, 31), now=NOW).start == utc(2026, 2, 28)
    given = period_of("week", start=utc(2026, 1, 1), end=utc(2026, 1, 3), now=NOW)
    assert given == Period(utc(2026, 1, 1), utc(2026, 1, 3))


def test_the_previous_period_is_as_long_and_a_month_is_the_calendar_month_before():
    assert Period(utc(2026, 3, 2), utc(2026, 3, 9)).previous() == Period(
        utc(2026, 2, 23), utc(2026, 3, 2)
    )
    march = Period(utc(2026, 3, 1), utc(2026, 4, 1), "month")
    assert march.previous() == Period(utc(2026, 2, 1), utc(2026, 3, 1), "month")


def test_the_trend_is_hourly_for_days_daily_for_weeks_weekly_beyond_two_months():
    assert Period(utc(2026, 3, 1), utc(2026, 3, 2)).bucket == "hour"
    assert Period(utc(2026, 3, 1), utc(2026, 4, 1)).bucket == "day"
    assert Period(utc(2026, 1, 1), utc(2026, 4, 1)).bucket == "week"


def test_bad_periods_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="before it starts"):
        Period(utc(2026, 3, 2), utc(2026, 3, 1))
    with pytest.raises(ValueError, match="expected one of day, week, month"):
        period_of("year", now=NOW)


def test_age_bands_are_half_open():
    assert age_band(timedelta(hours=23)) == "<1d"
    assert age_band(timedelta(days=1)) == "1-3d"
    assert age_band(timedelta(days=29, hours=23)) == "7-30d"
    assert age_band(timedelta(days=400)) == ">30d"


def test_labels_name_the_days_covered():
    assert Period(utc(2026, 3, 2), utc(2026, 3, 9)).label() == "2026-03-02 – 2026-03-08"
    assert Period(utc(2026, 3, 2), utc(2026, 3, 3)).label() == "2026-03-02"
