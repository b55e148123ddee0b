"""Reporting periods on event time: which window a report covers, the one before it to compare
with, how finely its trend is bucketed, and the age bands of the open backlog. Pure."""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

KINDS = ("day", "week", "month")


@dataclass(frozen=True)
class Period:
    """The half-open window [start, end) of event time a figure covers."""

    start: datetime
    end: datetime
    kind: str = "custom"
    """`day`, `week`, `month` (a calendar one), or `custom`."""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period's start and end need a time zone")
        if self.end <= self.start:
            raise ValueError(f"the period ends ({self.end:%Y-%m-%d %H:%M}) before it starts")

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> Period:
        """The period just before, of the same kind (the calendar month before a month)."""
        if self.kind == "month":
            return Period(_add_months(self.start, -1), self.start, "month")
        return Period(self.start - self.length, self.start, self.kind)

    @property
    def bucket(self) -> str:
        """The trend's granularity: hours for up to two days, days up to two months, weeks."""
        if self.length <= timedelta(days=2):
            return "hour"
        if self.length <= timedelta(days=62):
            return "day"
        return "week"

    def label(self) -> str:
        last = self.end - timedelta(microseconds=1)
        if self.start.time() == self.end.time() == datetime.min.time():
            if self.length == timedelta(days=1):
                return f"{self.start:%Y-%m-%d}"
            return f"{self.start:%Y-%m-%d} – {last:%Y-%m-%d}"
        return f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC"


def period_of(
    kind: str = "week",
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime,
) -> Period:
    """The period a report asks for: `start` and `end` as given; one of them and the kind's
    length from it; or neither: the last whole `kind` (UTC calendar day, ISO week, month)
    before `now`."""
    if kind not in KINDS:
        raise ValueError(f"period {kind!r}: expected one of {', '.join(KINDS)}")
    if start is not None and end is not None:
        return Period(start, end)
    if start is not None:
        return Period(start, _step(kind, start, +1), kind)
    if end is not None:
        return Period(_step(kind, end, -1), end, kind)
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    if kind == "day":
        return Period(today - timedelta(days=1), today, kind)
    if kind == "week":
        monday = today - timedelta(days=today.weekday())
        return Period(monday - timedelta(days=7), monday, kind)
    first = today.replace(day=1)
    return Period(_add_months(first, -1), first, kind)


def _step(kind: str, at: datetime, sign: int) -> datetime:
    if kind == "month":
        return _add_months(at, sign)
    return at + sign * timedelta(days=1 if kind == "day" else 7)


def _add_months(at: datetime, months: int) -> datetime:
    index = at.year * 12 + at.month - 1 + months
    year, month = divmod(index, 12)
    return at.replace(year=year, month=month + 1, day=min(at.day, monthrange(year, month + 1)[1]))


AGE_BANDS: tuple[tuple[str, timedelta | None], ...] = (
    ("<1d", timedelta(days=1)),
    ("1-3d", timedelta(days=3)),
    ("3-7d", timedelta(days=7)),
    ("7-30d", timedelta(days=30)),
    (">30d", None),
)
"""Backlog age bands: (name, upper bound, exclusive); the last is open-ended."""


def age_band(age: timedelta) -> str:
    """The band an open complaint of this age (since it happened) falls in."""
    for name, upper in AGE_BANDS:
        if upper is None or age < upper:
            return name
    return AGE_BANDS[-1][0]


def age_band_sql(age: str) -> str:
    """A SQL CASE naming the band of the interval expression `age` (same bands as above)."""
    arms = [
        f"WHEN {age} < interval '{int(upper.total_seconds())} seconds' THEN '{name}'"
        for name, upper in AGE_BANDS
        if upper is not None
    ]
    return f"CASE {' '.join(arms)} ELSE '{AGE_BANDS[-1][0]}' END"
