"""Severity and sensitivity: safety, threats to go public or to a regulator or court, and the
special periods (3·15, recalls) in which complaints are watched more closely."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, model_validator

from schemas.common import Channel, Priority
from services.kernel.config_files import Label, Problem, load_model
from services.routing.classifier import Terms, fold, region_in
from services.routing.rulebook import NAME, Model, OneOrMany, SeveritySpec

_ORDER = list(Priority)
MANAGEMENT_VISIBLE = "management_visible"


def raise_priority(priority: Priority, levels: int = 1) -> Priority:
    """`priority` made `levels` more urgent, never past P1."""
    return _ORDER[max(0, _ORDER.index(priority) - levels)]


@dataclass(frozen=True)
class Severity:
    """What the text and channel of a complaint say about harm and exposure."""

    safety: tuple[str, ...]
    """Safety terms found: someone is or could be hurt."""
    threats: tuple[tuple[str, tuple[str, ...]], ...]
    """(kind, terms found) for each kind of threat: media, regulator, court, social_media."""
    public_channel: Channel | None
    """The channel, when it is itself public or regulatory."""

    @property
    def sensitive(self) -> bool:
        return bool(self.threats) or self.public_channel is not None


class SeverityAssessor:
    """Finds safety and threat terms (word boundaries for English, both Chinese scripts)."""

    def __init__(self, spec: SeveritySpec) -> None:
        self._safety = Terms(spec.safety)
        self._threats = {kind: Terms(terms) for kind, terms in spec.threats.items()}
        self._channels = frozenset(spec.sensitive_channels)

    def assess(self, *, text: str, channel: Channel | None) -> Severity:
        """The severity of a complaint from its subject and description (any script or case)."""
        folded = fold(text)
        threats = tuple(
            (kind, tuple(found))
            for kind, terms in self._threats.items()
            if (found := terms.find(folded))
        )
        return Severity(
            safety=tuple(self._safety.find(folded)),
            threats=threats,
            public_channel=channel if channel in self._channels else None,
        )


@dataclass(frozen=True)
class Adjustment:
    """How severity, repeats and reopens moved a complaint's priority, and why."""

    priority: Priority
    sensitive: bool
    tags: tuple[str, ...]
    reasons: tuple[str, ...]


def adjust(
    priority: Priority, severity: Severity, *, repeat_count: int, reopens: int = 0
) -> Adjustment:
    """Safety → P1; sensitive (threat or public channel) → up one level; a repeat complaint →
    up one level; each reopen → up one level. Never past P1; every move has its reason."""
    tags: list[str] = []
    reasons: list[str] = []

    def up(levels: int) -> str:
        nonlocal priority
        before, priority = priority, raise_priority(priority, levels)
        return f"priority {before} → {priority}" if before != priority else "priority stays P1"

    if severity.safety:
        tags.append("safety")
        terms = ", ".join(map(repr, severity.safety))
        reasons.append(f"safety terms {terms}: {up(len(_ORDER))}")
    if severity.sensitive:
        tags.append("sensitive")
        why = [
            f"threat to go to {kind} ({', '.join(map(repr, t))})" for kind, t in severity.threats
        ]
        if severity.public_channel:
            why.append(f"arrived through the {severity.public_channel.value} channel")
        reasons.append(f"{'; '.join(why)}: sensitive, {up(1)}")
    if repeat_count > 0:
        tags.append("repeat")
        reasons.append(f"repeat complaint ({repeat_count} earlier): {up(1)}")
    if reopens > 0:
        tags.append("reopened")
        reasons.append(f"reopened {reopens} time(s): {up(reopens)}")
    return Adjustment(priority, severity.sensitive, tuple(tags), tuple(reasons))


_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


def _day(value: Any) -> Any:
    # YAML reads 2025-03-15 as a date and "03-15" as a string; keep both as text, checked.
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        m = _MONTH_DAY.match(value.strip())
        try:
            if m:
                date(2000, int(m[1]), int(m[2]))  # 2000 is a leap year: 02-29 is a valid day
            else:
                date.fromisoformat(value.strip())
            return value.strip()
        except ValueError:
            pass
    raise ValueError(f"expected a date YYYY-MM-DD or a yearly day MM-DD, got {value!r}")


Day = Annotated[str, BeforeValidator(_day)]


class DateRange(Model):
    """Inclusive range of days; `MM-DD` ends repeat every year and may cross new year."""

    start: Day
    end: Day

    @model_validator(mode="after")
    def _same_kind(self) -> DateRange:
        yearly = (len(self.start) == 5, len(self.end) == 5)
        if yearly[0] != yearly[1]:
            raise ValueError("start and end must both be YYYY-MM-DD or both be MM-DD")
        if not yearly[0] and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def contains(self, day: date) -> bool:
        """Whether `day` falls in the range."""
        if len(self.start) == 10:
            return date.fromisoformat(self.start) <= day <= date.fromisoformat(self.end)
        md = f"{day.month:02d}-{day.day:02d}"
        if self.start <= self.end:
            return self.start <= md <= self.end
        return md >= self.start or md <= self.end


class Period(Model):
    name: Annotated[str, Field(pattern=NAME)]
    description: str = ""
    dates: list[DateRange]
    regions: OneOrMany = []
    categories: OneOrMany = []
    products: OneOrMany = []
    sla_policy: str | None = None
    """A stricter policy to use instead of the rule's; otherwise `sla_suffix` is added."""
    sla_suffix: Annotated[str, Field(pattern=NAME)] = "special"
    tags: OneOrMany = []


class PeriodsFile(Model):
    """special_periods.yaml: the calendar of named periods."""

    version: Literal[1]
    periods: list[Period] = []


PERIOD_LABELS = {"periods": Label("period", "name")}


def _check_periods(doc: PeriodsFile, categories: Collection[str] | None) -> list[Problem]:
    seen: set[str] = set()
    problems: list[Problem] = []
    known = sorted(categories) if categories is not None else None
    for i, period in enumerate(doc.periods):
        if period.name in seen:
            problems.append((("periods", i, "name"), f"duplicate period name {period.name!r}"))
        seen.add(period.name)
        for j, category in enumerate(period.categories if known is not None else []):
            if known is not None and category not in known:
                problems.append(
                    (
                        ("periods", i, "categories", j),
                        f"unknown category {category!r}: expected one of {', '.join(known)}",
                    )
                )
    return problems


def load_periods(path: Path | str, *, categories: Collection[str] | None = None) -> PeriodsFile:
    """Read and validate a special-periods file (ConfigError names file, period and key);
    with `categories`, a period limited to a category the rules do not know is an error."""
    return load_model(
        path,
        PeriodsFile,
        check=lambda doc: _check_periods(doc, categories),
        labels=PERIOD_LABELS,
    )


@dataclass(frozen=True)
class ActivePeriod:
    period: Period
    reason: str


class SpecialPeriods:
    """Which special periods are active for one complaint on its local calendar date."""

    def __init__(self, periods: Sequence[Period]) -> None:
        self.periods = tuple(periods)
        self._products = {p.name: Terms(p.products) for p in self.periods}

    @property
    def names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.periods)

    def active(
        self,
        on: date | None,
        *,
        category: str | None,
        region: str | None,
        product: str | None,
        text: str,
    ) -> list[ActivePeriod]:
        """The periods whose dates include `on` and whose limits the complaint is within."""
        if on is None:
            return []
        out: list[ActivePeriod] = []
        folded = fold(" | ".join(filter(None, [product, text])))
        for period in self.periods:
            if not any(r.contains(on) for r in period.dates):
                continue
            limits = []
            if period.regions:
                if not region_in(region, period.regions):
                    continue
                limits.append(f"region {region}")
            if period.categories:
                if category not in period.categories:
                    continue
                limits.append(f"category {category}")
            if period.products:
                found = self._products[period.name].find(folded)
                if not found:
                    continue
                limits.append("product " + ", ".join(repr(t) for t in found))
            scope = f" for {'; '.join(limits)}" if limits else ""
            out.append(ActivePeriod(period, f"special period {period.name!r} on {on}{scope}"))
        return out


@dataclass(frozen=True)
class Tightening:
    sla_base: str
    tags: tuple[str, ...]
    reasons: tuple[str, ...]


def tighten(sla_base: str, active: Sequence[ActivePeriod]) -> Tightening:
    """The SLA policy and tags in the active special periods: every period makes the complaint
    visible to management; the first one (in file order) tightens the policy, once."""
    tags: list[str] = []
    reasons: list[str] = []
    for n, ap in enumerate(active):
        for tag in (MANAGEMENT_VISIBLE, *ap.period.tags):
            if tag not in tags:
                tags.append(tag)
        if n == 0:
            before = sla_base
            sla_base = ap.period.sla_policy or f"{before}-{ap.period.sla_suffix}"
            reasons.append(f"{ap.reason}: SLA policy {before} → {sla_base}, visible to management")
        else:
            reasons.append(f"{ap.reason}: visible to management (SLA already tightened)")
    return Tightening(sla_base, tuple(tags), tuple(reasons))


def local_date(moment: datetime, *, time_zone: str | None, utc_offset: str | None) -> date:
    """The calendar date of `moment` where the complaint was made: its IANA time zone if known,
    else its UTC offset (`+08:00`), else UTC. 3·15 starts at midnight in Shanghai, not London."""
    if time_zone:
        try:
            return moment.astimezone(ZoneInfo(time_zone)).date()
        except (ZoneInfoNotFoundError, ValueError):
            pass  # an unknown zone name falls back to the offset the call center reported
    if utc_offset:
        m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", utc_offset.strip())
        if m:
            delta = timedelta(hours=int(m[2]), minutes=int(m[3]))
            return moment.astimezone(timezone(delta if m[1] == "+" else -delta)).date()
    return moment.astimezone(UTC).date()
