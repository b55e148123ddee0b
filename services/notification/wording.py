"""Dates, times and promises said the way a person says them, per language and time zone
(Babel). Pure functions: the clock and the zone are arguments."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime, format_timedelta

from schemas.common import Language

WHEN = {
    "en_GB": "EEEE d MMMM HH:mm",
    "en_US": "EEEE, MMMM d, h:mm a",
    "zh": "M月d日（EEEE）HH:mm",
}


def zone(name: str | None, offset: str | None = None, default: str = "Asia/Shanghai") -> tzinfo:
    """The time zone named (IANA), else the fixed offset (`+08:00`), else `default`."""
    for candidate in (name, None if offset else default):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                pass
    if offset:
        try:
            sign = -1 if offset.startswith("-") else 1
            hours, minutes = offset.lstrip("+-").split(":")
            return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
        except ValueError:
            pass
    return ZoneInfo(default)


def locale_of(language: Language, tz: tzinfo) -> str:
    key = getattr(tz, "key", "") or ""
    if language == Language.EN:
        return "en_US" if key.startswith("America/") else "en_GB"
    if language == Language.ZH_HANT:
        return "zh_Hant_HK" if key in ("Asia/Hong_Kong", "Asia/Macau") else "zh_Hant_TW"
    return "zh_Hans_CN"


def when(moment: datetime, language: Language, tz: tzinfo) -> str:
    """`Thursday 6 March 18:00`, `3月6日（星期四）18:00`, in the reader's zone."""
    loc = locale_of(language, tz)
    pattern = WHEN["zh"] if loc.startswith("zh") else WHEN[loc]
    return format_datetime(moment.astimezone(tz), pattern, locale=loc)


def duration(span: timedelta, language: Language, tz: tzinfo) -> str:
    """`4 hours`, `4小时`."""
    said = format_timedelta(
        span, granularity="minute", threshold=1.0, locale=locale_of(language, tz)
    )
    return said if language == Language.EN else said.replace(" ", "")


def working_days(start: date, end: date) -> int:
    """Weekdays after `start` up to and including `end` (Monday 15:00 + 3 days = Thursday)."""
    days, day = 0, start
    while day < end:
        day += timedelta(days=1)
        days += day.weekday() < 5
    return days


def promise(language: Language, *, now: datetime, deadline: datetime, tz: tzinfo) -> str:
    """By when the customer will hear from us, as a person says it:
    `within 3 working days, by Thursday 6 March 18:00` /
    `3个工作日内，即3月6日（星期四）18:00前` / `4 hours` spans for the same or next day."""
    by = when(deadline, language, tz)
    span = deadline - now
    days = working_days(now.astimezone(tz).date(), deadline.astimezone(tz).date())
    if span >= timedelta(days=1) and days >= 1:
        if language == Language.EN:
            unit = "working day" if days == 1 else "working days"
            return f"within {days} {unit}, by {by}"
        if language == Language.ZH_HANS:
            return f"{days}个工作日内，即{by}前"
        return f"{days}個工作天內，即{by}前"
    within = duration(max(span, timedelta(minutes=1)), language, tz)
    if language == Language.EN:
        return f"within {within}, by {by}"
    inside = "内" if language == Language.ZH_HANS else "內"
    return f"{within}{inside}，即{by}前"
