"""Business calendars: working hours, public holidays and DST-correct business-time arithmetic.

Arithmetic runs on UTC instants. Local wall time is used only to lay out each day's working
periods, so a DST change moves the periods instead of creating or losing business time.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, PlainValidator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = "24x7"
MIDNIGHT = 24 * 60
IDLE_DAYS_LIMIT = 400
"""A calendar with no working period for this many days in a row is broken, not slow."""

Period = tuple[int, int]
"""A working period as minutes since local midnight, end exclusive (1440 means 24:00)."""

_PERIOD = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_SPAN = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


class CalendarError(ValueError):
    """A calendar that cannot place a deadline: its configuration, not the complaint, is wrong.

    `calendar` and `reason` stay the same however often it happens (for one report of it);
    the message adds where it was met.
    """

    def __init__(self, calendar: str, reason: str, where: str = "") -> None:
        super().__init__(f"calendar {calendar!r} {reason}{where}")
        self.calendar = calendar
        self.reason = reason


@dataclass(frozen=True)
class Span:
    """A configured duration: fixed time plus whole business days.

    A business day is worth the calendar's `day_length` of business time (24h on 24x7), so
    "3d" counted from Monday 15:00 ends Thursday 15:00, and from a Saturday ends at the
    close of Wednesday. Pausing and warning percentages stay exact in business time.
    """

    fixed: timedelta = timedelta(0)
    days: int = 0

    def on(self, calendar: BusinessCalendar) -> timedelta:
        """The business time this span is worth on `calendar`."""
        return self.fixed + calendar.day_length * self.days


def parse_span(text: object) -> Span:
    """Parse "30m", "4h", "1h30m" or "3d" (business days); raise ValueError otherwise."""
    match = _SPAN.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    if match is None or not any(match.groups()):
        raise ValueError(f"expected a duration like '30m', '4h', '1h30m' or '3d', got {text!r}")
    d, h, m, s = (int(g) if g else 0 for g in match.groups())
    return Span(timedelta(hours=h, minutes=m, seconds=s), d)


def parse_period(text: object) -> Period:
    """Parse "09:00-12:00" into minutes since midnight; "24:00" is allowed as an end."""
    match = _PERIOD.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected a period like '09:00-12:00', got {text!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= MIDNIGHT or end > MIDNIGHT:
        raise ValueError(f"expected times between 00:00 and 24:00, got {text!r}")
    if start >= end:
        raise ValueError(f"expected the period to end after it starts, got {text!r}")
    return start, end


def parse_periods(texts: object) -> tuple[Period, ...]:
    """Parse and sort a day's periods, e.g. ["09:00-12:00", "13:30-18:00"]; no overlaps."""
    if not isinstance(texts, list | tuple):
        raise ValueError(f"expected a list of periods like ['09:00-12:00'], got {texts!r}")
    periods = sorted(parse_period(t) for t in texts)
    for (_, end), (start, _) in zip(periods, periods[1:], strict=False):
        if start < end:
            raise ValueError(f"expected periods that do not overlap, got {list(texts)!r}")
    return tuple(periods)


def parse_weekdays(key: object) -> tuple[int, ...]:
    """Parse "mon", "sat" or a range such as "mon-fri" into weekday numbers (Monday = 0)."""
    first, _, last = str(key).strip().lower().partition("-")
    if first not in WEEKDAYS or (last and last not in WEEKDAYS):
        raise ValueError(f"expected a weekday such as 'mon' or a range 'mon-fri', got {key!r}")
    lo, hi = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
    if hi < lo:
        raise ValueError(f"expected a range from an earlier to a later weekday, got {key!r}")
    return tuple(range(lo, hi + 1))


def parse_holiday_code(code: object) -> str:
    """Check the `holidays` library knows a country ("CN") or subdivision ("US-TX") code."""
    country, _, subdiv = str(code).strip().partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ValueError(f"expected a country code the holidays library knows, got {country!r}")
    if subdiv and subdiv not in supported[country]:
        raise ValueError(
            f"expected a subdivision of {country} ({', '.join(supported[country][:12])} ...), "
            f"got {subdiv!r}"
        )
    return str(code).strip()


def time_zone(name: object) -> str:
    """Check `name` is an IANA time zone known to zoneinfo."""
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"expected an IANA time zone such as 'Asia/Shanghai', got {name!r}"
        ) from None
    return str(name)


@dataclass(frozen=True)
class _Year:
    closed: frozenset[date]
    working: frozenset[date]
    """Weekend days the government declared working days (mainland China's swaps)."""


class BusinessCalendar:
    """A call center's business hours: when SLA clocks run and by how much.

    `week` holds Monday..Sunday periods; `holiday_code` ("CN", "US-TX") names the `holidays`
    calendar. Per date, `special_hours` beats `extra_holidays`, which beats extra or
    government-swapped working days (on `workday_hours` if the weekday is normally closed),
    which beat public holidays, which beat the week.
    """

    def __init__(
        self,
        *,
        name: str,
        timezone: str,
        week: Sequence[Sequence[Period]] = (),
        holiday_code: str | None = None,
        extra_holidays: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        workday_hours: Sequence[Period] | None = None,
        special_hours: Mapping[date, Sequence[Period]] | None = None,
        day_length: timedelta | None = None,
        always: bool = False,
    ) -> None:
        self.name = name
        self.tz = ZoneInfo(timezone)
        self.always = always
        self._week = tuple(tuple(day) for day in week) if not always else ()
        if not always and (len(self._week) != 7 or not any(self._week)):
            raise ValueError(f"calendar {name!r}: expected 7 weekdays with some working hours")
        code = parse_holiday_code(holiday_code) if holiday_code else ""
        self._country, _, self._subdiv = code.partition("-")
        self._extra_closed = frozenset(extra_holidays)
        self._extra_open = frozenset(extra_working_days)
        # A swapped working Saturday follows a normal weekday's schedule unless configured.
        self._workday = tuple(workday_hours or next((d for d in self._week if d), ()))
        self._special = {d: tuple(p) for d, p in (special_hours or {}).items()}
        totals = [sum(e - s for s, e in day) for day in self._week]
        default_day = timedelta(hours=24) if always else timedelta(minutes=max(totals))
        self.day_length = day_length or default_day
        self._years: dict[int, _Year] = {}
        self._days: dict[date, tuple[tuple[datetime, datetime], ...]] = {}
        self._running: dict[int, list[timedelta]] = {}

    @classmethod
    def always_open(cls, name: str = ALWAYS) -> BusinessCalendar:
        """The 24x7 calendar: every instant counts, a business day is 24 hours."""
        return cls(name=name, timezone="UTC", always=True)

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.name!r}, {self.tz.key})"

    def periods_on(self, day: date) -> tuple[Period, ...]:
        """The local working periods of `day`, after holidays and overrides."""
        if self.always:
            return ((0, MIDNIGHT),)
        if day in self._special:
            return self._special[day]
        if day in self._extra_closed:
            return ()
        weekly = self._week[day.weekday()]
        year = self._year(day.year)
        if day in self._extra_open or day in year.working:
            return weekly or self._workday
        return () if day in year.closed else weekly

    def is_business_time(self, t: datetime) -> bool:
        """Whether the SLA clock runs at instant `t`."""
        now = as_utc(t)
        return self.always or any(a <= now < b for a, b in self._intervals(self._day(now)))

    def next_business_start(self, t: datetime) -> datetime:
        """`t` itself if it is business time, else the start of the next working period (UTC)."""
        now = as_utc(t)
        if self.always:
            return now
        for a, b in self._walk(self._day(now)):
            if b > now:
                return max(a, now)
        raise AssertionError("unreachable: _walk never ends")

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant (UTC) by which `duration` of business time has passed since
        `start`; counting begins at the next working period if `start` is outside one.

        Whole years and days are skipped with per-year running totals, so a duration of
        years costs a few steps; only the first and the last day are walked period by period.
        """
        if duration < timedelta(0):
            raise ValueError(f"expected a duration of zero or more, got {duration}")
        now = as_utc(start)
        if self.always or not duration:
            return now + duration
        remaining = duration
        day = self._day(now)
        for a, b in self._intervals(day):
            if b <= now:
                continue
            begin = max(a, now)
            if remaining <= b - begin:
                return begin + remaining
            remaining -= b - begin
        day += timedelta(days=1)
        while True:
            totals, i = self._totals(day.year), day.timetuple().tm_yday - 1
            left = totals[-1] - totals[i]
            if not left:
                break  # no working time in the rest of the year: walked, in case it is broken
            if left < remaining:
                remaining -= left
                day = date(day.year + 1, 1, 1)
                continue
            # the day on which the running total first reaches what remains
            end = bisect_left(totals, totals[i] + remaining, lo=i + 1) - 1
            remaining -= totals[end] - totals[i]
            day += timedelta(days=end - i)
            break
        for a, b in self._walk(day):
            if remaining <= b - a:
                return a + remaining
            remaining -= b - a
        raise AssertionError("unreachable: _walk never ends")

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """How much business time lies between `a` and `b` (zero if `b` is not after `a`).

        The days between the first and the last are counted from per-year running totals,
        so a complaint from years ago costs as little as one from this morning.
        """
        lo, hi = as_utc(a), as_utc(b)
        if hi <= lo:
            return timedelta(0)
        if self.always:
            return hi - lo
        first, last = self._day(lo), self._day(hi)
        if first == last:
            return self._within(first, lo, hi)
        return (
            self._within(first, lo, hi)
            + self._whole_days(first + timedelta(days=1), last)
            + self._within(last, lo, hi)
        )

    def _within(self, day: date, lo: datetime, hi: datetime) -> timedelta:
        """The business time of local `day` that lies between `lo` and `hi`."""
        total = timedelta(0)
        for s, e in self._intervals(day):
            if min(e, hi) > max(s, lo):
                total += min(e, hi) - max(s, lo)
        return total

    def _whole_days(self, first: date, end: date) -> timedelta:
        """The business time of the local days from `first` up to, not including, `end`."""
        if end <= first:
            return timedelta(0)
        i, j = first.timetuple().tm_yday - 1, end.timetuple().tm_yday - 1
        if first.year == end.year:
            totals = self._totals(first.year)
            return totals[j] - totals[i]
        head = self._totals(first.year)
        years = sum((self._totals(y)[-1] for y in range(first.year + 1, end.year)), timedelta(0))
        return head[-1] - head[i] + years + self._totals(end.year)[j]

    def _totals(self, year: int) -> list[timedelta]:
        """Running business time of `year`: item k is that of its first k local days."""
        cached = self._running.get(year)
        if cached is None:
            cached, total, day = [timedelta(0)], timedelta(0), date(year, 1, 1)
            while day.year == year:
                total += sum((b - a for a, b in self._intervals(day)), timedelta(0))
                cached.append(total)
                day += timedelta(days=1)
            self._running[year] = cached
        return cached

    def _walk(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """Every working interval (UTC) from local `day` onwards, in order."""
        idle = 0
        while idle < IDLE_DAYS_LIMIT:
            intervals = self._intervals(day)
            idle = 0 if intervals else idle + 1
            yield from intervals
            day += timedelta(days=1)
        since = day - timedelta(days=IDLE_DAYS_LIMIT)
        raise CalendarError(
            self.name, f"has no working time for {IDLE_DAYS_LIMIT} days", f" after {since}"
        )

    def _intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        # Cached per date: every plan asks for the same few days again and again.
        cached = self._days.get(day)
        if cached is None:
            pairs = (
                (self._instant(day, s), self._instant(day, e)) for s, e in self.periods_on(day)
            )
            cached = self._days[day] = tuple((a, b) for a, b in pairs if b > a)
        return cached

    def _instant(self, day: date, minutes: int) -> datetime:
        # A local time skipped by a spring-forward change takes the pre-change offset
        # (zoneinfo's fold=0), so it lands after the gap and no period gains time that the
        # wall clock skipped; a repeated fall-back time means its first occurrence.
        if minutes == MIDNIGHT:
            day, minutes = day + timedelta(days=1), 0
        local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.tz)
        return local.astimezone(UTC)

    def _day(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is None:
            cached = _Year(frozenset(), frozenset())
            if self._country:
                book = holidays.country_holidays(
                    self._country, subdiv=self._subdiv or None, years=year
                )
                swaps = getattr(book, "weekend_workdays", ())
                cached = _Year(
                    frozenset(d for d in book if d.year == year),
                    frozenset(d for d in swaps if d.year == year),
                )
            self._years[year] = cached
        return cached


def as_utc(t: datetime) -> datetime:
    """`t` in UTC; a naive datetime is an error, never silently local time."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got naive {t.isoformat()}")
    return t.astimezone(UTC)


Periods = Annotated[tuple[Period, ...], PlainValidator(parse_periods)]


class CalendarModel(BaseModel):
    """One calendar in calendars.yaml (see the comments there); `build` makes it usable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: Annotated[str, PlainValidator(time_zone)]
    hours: dict[Annotated[tuple[int, ...], PlainValidator(parse_weekdays)], Periods]
    holidays: Annotated[str, PlainValidator(parse_holiday_code)] | None = None
    extra_holidays: list[date] = []
    extra_working_days: list[date] = []
    workday_hours: Periods | None = None
    special_hours: dict[date, Periods] = {}
    day_length: Annotated[Span, PlainValidator(parse_span)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CalendarModel:
        listed = [day for key in self.hours for day in key]
        twice = sorted({WEEKDAYS[d] for d in listed if listed.count(d) > 1})
        if twice:
            raise ValueError(f"hours: expected each weekday once, got {twice} more than once")
        if not any(self.hours.values()):
            raise ValueError("hours: expected at least one working period in the week")
        both = sorted(set(self.extra_holidays) & set(self.extra_working_days))
        if both:
            days = ", ".join(d.isoformat() for d in both)
            raise ValueError(f"expected a date in extra_holidays or extra_working_days: {days}")
        if self.day_length and (self.day_length.days or not self.day_length.fixed):
            raise ValueError("day_length: expected hours such as '8h'")
        return self

    def build(self, name: str) -> BusinessCalendar:
        """The calendar this configuration describes."""
        week: list[tuple[Period, ...]] = [() for _ in WEEKDAYS]
        for key, periods in self.hours.items():
            for day in key:
                week[day] = periods
        return BusinessCalendar(
            name=name,
            timezone=self.timezone,
            week=week,
            holiday_code=self.holidays,
            extra_holidays=self.extra_holidays,
            extra_working_days=self.extra_working_days,
            workday_hours=self.workday_hours,
            special_hours=self.special_hours,
            day_length=self.day_length.fixed if self.day_length else None,
        )
