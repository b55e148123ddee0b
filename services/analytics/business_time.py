"""Business time between two event times, on the calendar the complaint's SLA policy counts a
target on (the SLA timer's own policies and calendars), so figures of an import of old
complaints say how long things took then, not how long ago they were processed."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

from services.sla_timer.calendar import BusinessCalendar, CalendarError
from services.sla_timer.policy import WALL_CLOCK
from services.sla_timer.policy_book import CONFIG_DIR, PolicyBook, load


class Calendars:
    """Which calendar a (policy, target, source) counts on; a policy the book lacks counts on
    its call center's calendar, a calendar that cannot be used round the clock (as the timer
    does)."""

    def __init__(self, book: PolicyBook) -> None:
        self.book = book
        self._found: dict[tuple[str | None, str, str | None], BusinessCalendar] = {}

    def of(self, policy: str | None, target: str, source: str | None) -> BusinessCalendar:
        """The calendar of `policy`'s `target`; with no policy, the call center's."""
        key = (policy, target, source)
        found = self._found.get(key)
        if found is None:
            try:
                if policy is None:
                    raise KeyError(policy)
                found = self.book.calendar_for(self.book.named(policy), target, source)
            except KeyError:
                found = self.book.calendar_for_source(source)
            except CalendarError:
                found = WALL_CLOCK
            self._found[key] = found
        return found

    def seconds(
        self, policy: str | None, target: str, source: str | None, start: datetime, end: datetime
    ) -> float:
        """Business seconds from `start` to `end` (zero if `end` is not after it)."""
        return self.of(policy, target, source).business_time_between(start, end).total_seconds()


@cache
def _book(policies: Path | None, calendars: Path | None) -> PolicyBook:
    return load(
        policies or CONFIG_DIR / "policies.yaml", calendars or CONFIG_DIR / "calendars.yaml"
    )


def calendars(policies: Path | None = None, calendars: Path | None = None) -> Calendars:
    """The SLA timer's policies and calendars (`CF_SLA_POLICIES_PATH`,
    `CF_SLA_CALENDARS_PATH`; unset: the shipped ones), read once per process."""
    return Calendars(_book(policies, calendars))
