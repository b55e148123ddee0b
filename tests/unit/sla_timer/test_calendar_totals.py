"""Business-time arithmetic over years: the running totals give exactly what walking every
working period of every day gives, on calendars with holidays, swapped days and DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.sla_timer.calendar import BusinessCalendar
from services.sla_timer.policy_book import load_default

CALENDARS = load_default().calendars
NAMES = sorted(n for n, c in CALENDARS.items() if not c.always)
EPOCH = datetime(1998, 1, 1, tzinfo=UTC)


def walked_between(cal: BusinessCalendar, lo: datetime, hi: datetime) -> timedelta:
    """The reference: every working interval of every local day, clipped to [lo, hi)."""
    total, day = timedelta(0), cal._day(lo)
    while day <= cal._day(hi):
        for s, e in cal._intervals(day):
            if min(e, hi) > max(s, lo):
                total += min(e, hi) - max(s, lo)
        day += timedelta(days=1)
    return total


def walked_add(cal: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """The reference: consume working intervals one by one from the day of `start`."""
    remaining = duration
    for a, b in cal._walk(cal._day(start)):
        if b <= start:
            continue
        begin = max(a, start)
        if remaining <= b - begin:
            return begin + remaining
        remaining -= b - begin
    raise AssertionError("unreachable")


instants = st.integers(0, 33 * 365 * 24 * 3600).map(lambda s: EPOCH + timedelta(seconds=s))
durations = st.one_of(
    st.integers(1, 8 * 3600),  # within a day
    st.integers(1, 90 * 24 * 3600),  # weeks
    st.integers(1, 5 * 365 * 24 * 3600),  # years
).map(lambda s: timedelta(seconds=s))


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(NAMES), a=instants, span=durations)
def test_business_time_between_equals_the_day_by_day_walk(name, a, span):
    cal = CALENDARS[name]
    assert cal.business_time_between(a, a + span) == walked_between(cal, a, a + span)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(NAMES), start=instants, duration=durations)
def test_add_business_time_equals_the_day_by_day_walk(name, start, duration):
    cal = CALENDARS[name]
    end = cal.add_business_time(start, duration)
    assert end == walked_add(cal, start, duration)
    assert cal.business_time_between(start, end) == duration


def test_a_span_of_years_ends_on_the_right_working_period():
    shanghai = CALENDARS["shanghai"]
    start = datetime(2001, 3, 5, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, a Monday
    used = shanghai.business_time_between(start, datetime(2026, 12, 1, tzinfo=UTC))
    assert shanghai.add_business_time(start, used) <= datetime(2026, 12, 1, tzinfo=UTC)
    assert shanghai.add_business_time(start, used + timedelta(seconds=1)) > datetime(
        2026, 11, 30, tzinfo=UTC
    )
