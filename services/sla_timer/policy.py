"""SLA policies and deadline arithmetic, as pure functions of their inputs.

`Policy.plan_target` turns a configured policy into deadlines on a business calendar;
`policies.py` loads and validates the configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, partial
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, model_validator

from schemas.common import Priority
from schemas.sla import SlaTarget
from services.sla_timer.calendar import BusinessCalendar, Span, as_utc, parse_span

LOCAL = "local"
"""Policy calendar meaning: the business calendar of the call center that took the complaint."""
WALL_CLOCK = BusinessCalendar.always_open()
_0 = timedelta(0)


@dataclass(frozen=True)
class Plan:
    """When each step of one SLA target falls due."""

    deadline: datetime
    warnings: tuple[tuple[int, datetime], ...]
    chain: Callable[[], tuple[tuple[int, str, datetime], ...]] = field(
        default=tuple, repr=False, compare=False
    )
    """Makes `escalations` when first asked: most clocks stop before their deadline, so most
    plans never need them."""

    @cached_property
    def escalations(self) -> tuple[tuple[int, str, datetime], ...]:
        """(level, role, when) of each escalation after a breach."""
        return self.chain()


@dataclass(frozen=True)
class Target:
    """One SLA target of a policy: how long it allows and when to warn."""

    name: SlaTarget
    calendar: str
    """`24x7`, `local` or a configured calendar name."""
    within: Span | None = None
    """None only for a callback, whose deadline is the promised time itself."""
    warn_before: timedelta | None = None
    warnings: tuple[int, ...] = (50, 75, 90)
    escalate: bool = True
    """False: a breach tells the owner and goes no further up the chain (the follow-up's
    default: whether a customer answers a survey is theirs to decide, not management's)."""


@dataclass(frozen=True)
class Level:
    role: str
    after: Span
    """Delay after the breach, counted on the escalation clock."""


@dataclass(frozen=True)
class Escalation:
    """The chain of people told about a breach, in order (level numbers are 1-based)."""

    levels: tuple[Level, ...]
    start_level: int = 1
    sensitive_start_level: int = 1
    clock: str = "business"
    """`business`: delays count on the target's calendar; `wall`: around the clock."""


@dataclass(frozen=True)
class Policy:
    """The SLA of one kind of complaint; `sensitive` is set per complaint by `resolve`."""

    name: str
    priority: Priority
    calendar: str
    targets: Mapping[SlaTarget, Target]
    escalation: Escalation
    category: str | None = None
    department: str | None = None
    sensitive: bool = field(default=False, compare=False)
    named_only: bool = False
    """Chosen only when routing names it, never by priority, category and department."""

    @property
    def start_level(self) -> int:
        """The first escalation level told of a breach (higher for sensitive complaints)."""
        esc = self.escalation
        return esc.sensitive_start_level if self.sensitive else esc.start_level

    def target(self, name: SlaTarget | str) -> Target:
        """The rule of target `name`; KeyError if this policy does not track it."""
        rule = self.targets.get(SlaTarget(name))
        if rule is None:
            raise KeyError(f"policy {self.name!r} has no {name} target")
        return rule

    def duration(self, name: SlaTarget | str, calendar: BusinessCalendar) -> timedelta:
        """The business time target `name` allows on `calendar` (not for callbacks)."""
        rule = self.target(name)
        if rule.within is None:
            raise ValueError(f"the {name} target has no duration: its deadline is the promise")
        return rule.within.on(calendar)

    def plan_target(
        self,
        target: SlaTarget | str,
        start: datetime,
        calendar: BusinessCalendar,
        used: timedelta = timedelta(0),
        *,
        due: datetime | None = None,
    ) -> Plan:
        """Deadline, warnings and escalations of `target` whose clock (re)starts at `start`.

        `used` is business time already spent (before a pause or a re-route). Warnings fall
        where `pct` of the business duration has passed; thresholds already passed are due
        at `start`. A callback needs `due`, the promised time: the deadline is `due` itself
        and its one warning falls `warn_before` earlier (its pct is the share of the
        promise window elapsed by then). keep_informed restarts at each customer update,
        follow_up at the resolution. All instants are UTC.
        """
        rule = self.target(target)
        begin = as_utc(start)
        if rule.within is None:
            if due is None or rule.warn_before is None:
                raise ValueError(f"the {rule.name} target needs `due`, the promised time")
            deadline = as_utc(due)
            warn_at = deadline - rule.warn_before
            window = deadline - begin
            share = (warn_at - begin) / window if window > timedelta(0) else 1.0
            warnings: tuple[tuple[int, datetime], ...] = (
                (min(99, max(1, round(share * 100))), max(warn_at, begin)),
            )
        else:
            duration = rule.within.on(calendar)
            deadline = calendar.add_business_time(begin, max(duration - used, timedelta(0)))
            warnings = tuple(
                (pct, calendar.add_business_time(begin, max(duration * pct / 100 - used, _0)))
                for pct in rule.warnings
            )
        if not rule.escalate:
            return Plan(deadline, warnings)
        return Plan(deadline, warnings, partial(self._escalations, deadline, calendar))

    def _escalations(
        self, deadline: datetime, calendar: BusinessCalendar
    ) -> tuple[tuple[int, str, datetime], ...]:
        # Starting higher shifts the chain so the start level hears at the breach itself and
        # every later level keeps its gap: the executive hears sooner by the skipped delay.
        clock = calendar if self.escalation.clock == "business" else WALL_CLOCK
        levels = self.escalation.levels
        first = levels[self.start_level - 1].after.on(clock)
        out: list[tuple[int, str, datetime]] = []
        previous = deadline
        for number in range(self.start_level, len(levels) + 1):
            level = levels[number - 1]
            delay = max(level.after.on(clock) - first, _0)
            previous = max(previous, clock.add_business_time(deadline, delay))
            out.append((number, level.role, previous))
        return tuple(out)


SpanField = Annotated[Span, PlainValidator(parse_span)]
Percent = Annotated[int, Field(ge=1, le=99)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetModel(_Model):
    """One target in policies.yaml; a bare duration ("4h") means `within`."""

    within: SpanField | None = None
    warn_before: SpanField | None = None
    warnings: list[Percent] | None = None
    calendar: str | None = None
    escalate: bool | None = None
    """Whether a breach climbs the escalation chain (default: yes, but not follow_up)."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"within": data} if isinstance(data, str) else data


class LevelModel(_Model):
    role: str = Field(min_length=1)
    after: SpanField


class EscalationModel(_Model):
    levels: list[LevelModel] = Field(min_length=1)
    start_level: str | None = None
    sensitive_start_level: str | None = None
    clock: Literal["business", "wall"] = "business"

    @model_validator(mode="after")
    def _check(self) -> EscalationModel:
        roles = [level.role for level in self.levels]
        if len(set(roles)) != len(roles):
            raise ValueError(f"levels: expected each role once, got {roles}")
        for key in ("start_level", "sensitive_start_level"):
            if getattr(self, key) not in (None, *roles):
                raise ValueError(f"{key}: expected one of {roles}, got {getattr(self, key)!r}")
        sensitive = self._number(self.sensitive_start_level, self.start_level)
        if sensitive < self._number(self.start_level):
            raise ValueError("sensitive_start_level: expected a level at or above start_level")
        return self

    def _number(self, role: str | None, default: str | None = None) -> int:
        role = role or default
        return [level.role for level in self.levels].index(role) + 1 if role else 1

    def build(self) -> Escalation:
        """The escalation chain this configuration describes."""
        return Escalation(
            levels=tuple(Level(level.role, level.after) for level in self.levels),
            start_level=self._number(self.start_level),
            sensitive_start_level=self._number(self.sensitive_start_level, self.start_level),
            clock=self.clock,
        )


class PolicyModel(_Model):
    """One entry of policies.yaml; unset keys come from its priority's default entry."""

    name: str = Field(min_length=1)
    priority: Priority
    category: str | None = None
    department: str | None = None
    calendar: str | None = None
    warnings: list[Percent] | None = None
    escalation: EscalationModel | None = None
    targets: dict[SlaTarget, TargetModel] = {}
    named_only: bool = False
    """Chosen only when routing names it (a rule's `sla_policy`, a special period's), never by
    priority, category and department; unset keys still come from its priority's default."""

    @model_validator(mode="after")
    def _check(self) -> PolicyModel:
        if self.named_only and (self.category or self.department):
            raise ValueError(
                "named_only: expected no category or department: a policy chosen by its name"
                " alone is not matched on them"
            )
        for name, t in self.targets.items():
            if name == SlaTarget.CALLBACK and (t.within or not t.warn_before):
                raise ValueError(
                    "targets.callback: expected warn_before (e.g. '15m') and no within:"
                    " a callback is due at the promised time"
                )
            if name != SlaTarget.CALLBACK and t.warn_before:
                raise ValueError(f"targets.{name}: warn_before applies only to callback")
            if t.warn_before and t.warn_before.days:
                raise ValueError(f"targets.{name}.warn_before: expected minutes or hours")
        return self


class DefaultsModel(_Model):
    calendar: str = LOCAL
    warnings: list[Percent] = [50, 75, 90]
    escalation: EscalationModel


class PoliciesFile(_Model):
    """The whole of policies.yaml."""

    defaults: DefaultsModel
    policies: list[PolicyModel] = Field(min_length=1)
