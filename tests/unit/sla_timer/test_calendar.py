"""Business calendars: working periods, holidays, swapped weekends, DST and 24x7."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from services.sla_timer.calendar import (
    BusinessCalendar,
    Span,
    parse_period,
    parse_periods,
    parse_span,
    parse_weekdays,
)

SH, LON, CHI = ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/London"), ZoneInfo("America/Chicago")
H = timedelta(hours=1)
SPLIT_DAY = ((9 * 60, 12 * 60), (13 * 60, 18 * 60))


def week(*day: tuple[int, int], weekend: tuple[tuple[int, int], ...] = ()) -> list:
    return [tuple(day)] * 5 + [weekend] * 2


def shanghai(**over: object) -> BusinessCalendar:
    kw: dict = dict(name="sh", timezone="Asia/Shanghai", week=week(*SPLIT_DAY), holiday_code="CN")
    kw.update(over)
    return BusinessCalendar(**kw)


def at(tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


SHANGHAI = shanghai()
LONDON = BusinessCalendar(
    name="lon", timezone="Europe/London", week=week((540, 1050)), holiday_code="GB-ENG"
)
AUSTIN = BusinessCalendar(
    name="aus", timezone="America/Chicago", week=week((480, 720), (780, 1020)), holiday_code="US-TX"
)
ALWAYS = BusinessCalendar.always_open()


@pytest.mark.parametrize(
    ("start", "hours", "deadline", "why"),
    [
        ((2026, 3, 16, 10), 1, (2026, 3, 16, 11), "within the morning period"),
        ((2026, 3, 16, 11, 30), 1, (2026, 3, 16, 13, 30), "lunch break skipped"),
        ((2026, 3, 16, 12, 30), 0.5, (2026, 3, 16, 13, 30), "start inside lunch"),
        ((2026, 3, 16, 7), 1, (2026, 3, 16, 10), "start before opening"),
        ((2026, 3, 16, 9), 8, (2026, 3, 16, 18), "a full day ends at closing, not next morning"),
        ((2026, 3, 16, 17), 2, (2026, 3, 17, 10), "overnight"),
        ((2026, 3, 13, 17), 2, (2026, 3, 16, 10), "weekend skipped"),
        ((2026, 3, 14, 10), 1, (2026, 3, 16, 10), "start on a Saturday"),
        ((2026, 9, 30, 17), 2, (2026, 10, 8, 10), "National Day week closed"),
        ((2026, 10, 9, 17), 2, (2026, 10, 10, 10), "Saturday 10 Oct is a swapped working day"),
        ((2026, 9, 18, 17), 2, (2026, 9, 20, 10), "Sunday 20 Sep is a swapped working day"),
        ((2026, 2, 13, 17), 2, (2026, 2, 14, 10), "Saturday 14 Feb works before Spring Festival"),
        ((2026, 2, 14, 17), 2, (2026, 2, 24, 10), "Spring Festival 15-23 Feb closed"),
        ((2026, 2, 27, 17), 2, (2026, 2, 28, 10), "Saturday 28 Feb works after Spring Festival"),
    ],
)
def test_add_business_time_in_shanghai(start, hours, deadline, why):
    # Given the Shanghai calendar (09-12, 13-18 Mon-Fri, CN holidays and swaps)
    # When `hours` of business time are added to `start`
    got = SHANGHAI.add_business_time(at(SH, *start), hours * H)
    # Then the deadline is as expected, in UTC
    assert got == at(SH, *deadline).astimezone(UTC), why
    assert got.tzinfo is UTC


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        ((2026, 10, 8, 9), True),
        ((2026, 10, 8, 12, 30), False),
        ((2026, 10, 8, 13), True),
        ((2026, 10, 8, 18), False),
        ((2026, 10, 1, 10), False),
        ((2026, 10, 10, 10), True),
        ((2026, 10, 17, 10), False),
    ],
)
def test_is_business_time(instant, expected):
    assert SHANGHAI.is_business_time(at(SH, *instant)) is expected


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        ((2026, 3, 16, 10), (2026, 3, 16, 10)),
        ((2026, 3, 16, 12, 15), (2026, 3, 16, 13)),
        ((2026, 3, 13, 18), (2026, 3, 16, 9)),
        ((2026, 9, 30, 18), (2026, 10, 8, 9)),
    ],
)
def test_next_business_start(instant, expected):
    assert SHANGHAI.next_business_start(at(SH, *instant)) == at(SH, *expected).astimezone(UTC)


def test_business_time_between_a_paused_night_counts_only_working_hours():
    # Given a clock paused from Monday 17:00 to Tuesday 10:00 in Shanghai
    a, b = at(SH, 2026, 3, 16, 17), at(SH, 2026, 3, 17, 10)
    # Then only two business hours passed, and none backwards
    assert SHANGHAI.business_time_between(a, b) == 2 * H
    assert SHANGHAI.business_time_between(b, a) == timedelta(0)
    assert SHANGHAI.business_time_between(a, a) == timedelta(0)


def test_business_time_between_across_national_day_and_time_zones():
    # Given instants written in different zones, Then the span is measured on instants
    a = at(SH, 2026, 9, 30, 9).astimezone(LON)
    b = at(SH, 2026, 10, 8, 18).astimezone(CHI)
    assert SHANGHAI.business_time_between(a, b) == 16 * H


@pytest.mark.parametrize("start", [(2026, 3, 16, 10, 17), (2026, 2, 13, 11), (2026, 9, 27, 3)])
@pytest.mark.parametrize("minutes", [1, 59, 181, 8 * 60, 37 * 60 + 11, 400 * 60])
def test_adding_then_measuring_gives_the_duration_back(start, minutes):
    begin = at(SH, *start)
    end = SHANGHAI.add_business_time(begin, timedelta(minutes=minutes))
    assert SHANGHAI.business_time_between(begin, end) == timedelta(minutes=minutes)


def _nth_working_day(first: date, n: int) -> date:
    # An independent reference: weekdays minus CN holidays plus CN swapped weekends.
    cn = holidays.country_holidays("CN", years=range(first.year, first.year + 3))
    day, count = first, 0
    while True:
        if (day.weekday() < 5 and day not in cn) or day in cn.weekend_workdays:
            count += 1
            if count == n:
                return day
        day += timedelta(days=1)


@pytest.mark.parametrize("days", [10, 40, 120, 250])
def test_long_durations_of_many_weeks(days):
    # Given a Monday morning in Shanghai, When `days` full business days are added
    got = SHANGHAI.add_business_time(at(SH, 2026, 3, 2, 9), days * 8 * H)
    # Then it is the close of the days-th working day (holidays and swaps included)
    last = _nth_working_day(date(2026, 3, 2), days)
    assert got == at(SH, last.year, last.month, last.day, 18).astimezone(UTC)


@pytest.mark.parametrize(
    ("cal", "start", "hours", "deadline_utc", "why"),
    [
        (LONDON, at(LON, 2026, 3, 27, 16), 3, (2026, 3, 30, 9, 30), "Mon 10:30 BST"),
        (LONDON, at(LON, 2026, 10, 23, 16), 3, (2026, 10, 26, 10, 30), "Mon 10:30 GMT"),
        (AUSTIN, at(CHI, 2026, 3, 6, 16), 2, (2026, 3, 9, 14), "Mon 09:00 CDT"),
        (AUSTIN, at(CHI, 2026, 10, 30, 16), 2, (2026, 11, 2, 15), "Mon 09:00 CST"),
        (LONDON, at(LON, 2026, 4, 2, 17), 1, (2026, 4, 7, 8, 30), "Good Friday, Easter Monday"),
        (AUSTIN, at(CHI, 2026, 11, 25, 16), 2, (2026, 11, 30, 15), "Thanksgiving and Friday"),
    ],
)
def test_deadlines_across_dst_changes_and_holidays(cal, start, hours, deadline_utc, why):
    # Given a Friday afternoon before a DST weekend (or a holiday)
    # When a deadline runs over it, Then Monday's opening hour is in the new offset
    assert cal.add_business_time(start, hours * H) == datetime(*deadline_utc).replace(tzinfo=UTC), (
        why
    )


@pytest.mark.parametrize(("day", "hours"), [((2026, 3, 29), 23), ((2026, 10, 25), 25)])
def test_a_round_the_clock_local_day_has_23_or_25_hours_on_dst_days(day, hours):
    # Given a calendar open 00:00-24:00 every local day in London
    cal = BusinessCalendar(name="x", timezone="Europe/London", week=[((0, 1440),)] * 7)
    # Then the DST days hold one hour less or more business time
    midnight = at(LON, *day)
    next_midnight = at(LON, *(midnight.date() + timedelta(days=1)).timetuple()[:3])
    assert cal.business_time_between(midnight, next_midnight) == hours * H


def test_24x7_counts_every_instant_in_utc_even_across_dst():
    # Given 00:30 London time on the spring-forward night
    start = at(LON, 2026, 3, 29, 0, 30)
    # When two hours are added, Then it is 02:30 UTC (03:30 BST), not 02:30 on the wall
    assert ALWAYS.add_business_time(start, 2 * H) == datetime(2026, 3, 29, 2, 30, tzinfo=UTC)
    assert ALWAYS.is_business_time(at(SH, 2026, 10, 1, 3))
    assert ALWAYS.next_business_start(start) == start.astimezone(UTC)
    assert ALWAYS.business_time_between(start, at(LON, 2026, 3, 30, 0, 30)) == 23 * H
    assert ALWAYS.day_length == 24 * H


def test_configured_overrides():
    # Given extra holidays, an extra working Saturday, a half day and a working holiday
    cal = shanghai(
        extra_holidays=[date(2026, 3, 16)],
        extra_working_days=[date(2026, 3, 21), date(2026, 5, 1)],
        special_hours={date(2026, 3, 20): ((9 * 60, 11 * 60),)},
    )
    # Then each date has the periods its override gives it
    assert cal.periods_on(date(2026, 3, 16)) == ()
    assert cal.periods_on(date(2026, 3, 20)) == ((540, 660),)
    assert cal.periods_on(date(2026, 3, 21)) == SPLIT_DAY
    assert cal.periods_on(date(2026, 5, 1)) == SPLIT_DAY
    assert cal.periods_on(date(2026, 3, 22)) == ()
    # And a deadline from the half day jumps to the extra Saturday
    got = cal.add_business_time(at(SH, 2026, 3, 20, 10), 2 * H)
    assert got == at(SH, 2026, 3, 21, 10).astimezone(UTC)


def test_swapped_working_days_may_follow_their_own_hours():
    cal = shanghai(workday_hours=((10 * 60, 16 * 60),))
    assert cal.periods_on(date(2026, 10, 10)) == ((600, 960),)
    assert cal.periods_on(date(2026, 10, 9)) == SPLIT_DAY


def test_day_length_defaults_to_the_longest_day():
    assert SHANGHAI.day_length == 8 * H
    assert shanghai(day_length=7 * H).day_length == 7 * H


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: SHANGHAI.add_business_time(datetime(2026, 3, 16, 9), H), "naive"),
        (lambda: SHANGHAI.business_time_between(datetime(2026, 3, 16), datetime.now(UTC)), "naive"),
        (lambda: SHANGHAI.add_business_time(at(SH, 2026, 3, 16), -H), "zero or more"),
        (lambda: BusinessCalendar(name="x", timezone="UTC", week=[()] * 7), "working hours"),
        (lambda: shanghai(holiday_code="XX"), "country"),
        (
            lambda: BusinessCalendar(
                name="x",
                timezone="UTC",
                week=[((540, 600),)] + [()] * 6,
                extra_holidays=[date(2026, 1, 5) + timedelta(weeks=n) for n in range(120)],
            ).add_business_time(datetime(2026, 1, 1, tzinfo=UTC), H),
            "no working time",
        ),
    ],
)
def test_bad_input_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", Span(timedelta(minutes=30))),
        ("4h", Span(4 * H)),
        ("1h30m", Span(timedelta(hours=1, minutes=30))),
        ("3d", Span(days=3)),
        ("1d4h", Span(4 * H, 1)),
    ],
)
def test_parse_span(text, expected):
    assert parse_span(text) == expected


@pytest.mark.parametrize("text", ["", "3days", "h", "4 hours", 5, None])
def test_parse_span_rejects(text):
    with pytest.raises(ValueError, match="expected a duration"):
        parse_span(text)


def test_business_days_are_worth_the_calendar_day_length():
    assert parse_span("3d").on(SHANGHAI) == 24 * H
    assert parse_span("1d2h").on(ALWAYS) == 26 * H


def test_parse_periods_and_weekdays():
    assert parse_period("09:00-12:00") == (540, 720)
    assert parse_period("18:00-24:00") == (1080, 1440)
    assert parse_periods(["13:30-18:00", "09:00-12:00"]) == ((540, 720), (810, 1080))
    assert parse_weekdays("mon-fri") == (0, 1, 2, 3, 4)
    assert parse_weekdays("sun") == (6,)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: parse_period("12:00-09:00"), "end after it starts"),
        (lambda: parse_period("25:00-26:00"), "between 00:00 and 24:00"),
        (lambda: parse_period("9-12"), "like '09:00-12:00'"),
        (lambda: parse_periods(["09:00-12:00", "11:00-13:00"]), "overlap"),
        (lambda: parse_periods("09:00-12:00"), "list of periods"),
        (lambda: parse_weekdays("fri-mon"), "earlier to a later"),
        (lambda: parse_weekdays("monday"), "weekday"),
    ],
)
def test_parsers_reject_with_what_was_expected(call, match):
    with pytest.raises(ValueError, match=match):
        call()
