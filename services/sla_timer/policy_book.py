"""The SLA policy book: policies.yaml and calendars.yaml, validated, and the lookups on them.

A policy depends only on what happened (priority, category, department, sensitivity), never
on what the customer is worth. Both files go through the kernel's config-file loader: every
problem, cross-references included, is reported at once with its file, line and key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import Priority
from schemas.sla import SlaTarget
from services.kernel.config_files import Label, Problem, load_model
from services.kernel.errors import ConfigError
from services.sla_timer.calendar import ALWAYS, BusinessCalendar, CalendarError, CalendarModel
from services.sla_timer.policy import (
    LOCAL,
    WALL_CLOCK,
    DefaultsModel,
    Escalation,
    Level,
    PoliciesFile,
    Policy,
    PolicyModel,
    Target,
)

CONFIG_DIR = Path(__file__).parent / "config"
T = TypeVar("T")
REQUIRED_TARGETS = (SlaTarget.ACKNOWLEDGE, SlaTarget.RESOLVE)
__all__ = [
    "ConfigError",
    "Escalation",
    "Level",
    "Policy",
    "PolicyBook",
    "Target",
    "load",
    "load_default",
]


class PolicyBook:
    """All policies and calendars, with the lookups the SLA timer needs."""

    def __init__(
        self,
        policies: Iterable[Policy],
        calendars: Mapping[str, BusinessCalendar],
        *,
        sources: Mapping[str, str],
        default_calendar: str,
    ) -> None:
        self.policies = tuple(policies)
        self.calendars = {ALWAYS: WALL_CLOCK, **calendars}
        self.sources = dict(sources)
        self.default_calendar = default_calendar
        self._by_key = {
            (p.priority, p.category, p.department): p for p in self.policies if not p.named_only
        }
        self._by_name = {p.name: p for p in self.policies}

    @property
    def names(self) -> frozenset[str]:
        """Every policy name routing may put on a complaint and find here."""
        return frozenset(self._by_name)

    def resolve(
        self,
        priority: Priority,
        category: str | None = None,
        department: str | None = None,
        sensitive: bool = False,
    ) -> Policy:
        """The most specific policy: category+department > category > department > priority.

        Deliberately takes nothing about the customer's value: the SLA follows the facts.
        """
        cat, dept = normalise(category), normalise(department)
        for key in ((cat, dept), (cat, None), (None, dept), (None, None)):
            policy = self._by_key.get((Priority(priority), *key))
            if policy is not None:
                return replace(policy, sensitive=sensitive)
        raise KeyError(f"no policy for priority {priority}")  # load() requires one per priority

    def named(self, name: str, *, sensitive: bool = False) -> Policy:
        """The policy called `name` (as recorded on a routed complaint); KeyError if unknown."""
        return replace(self._by_name[name], sensitive=sensitive)

    def calendar_for_source(self, source: str | None) -> BusinessCalendar:
        """The business calendar of a call-center source; unknown sources get the default."""
        return self.calendars[self.sources.get(source or "", self.default_calendar)]

    def calendar_for(
        self, policy: Policy, target: SlaTarget | str, source: str | None
    ) -> BusinessCalendar:
        """The calendar on which `target` of `policy` counts for a complaint from `source`
        (the policy's own for a target it does not track: what a stopped clock was measured
        on). CalendarError if that calendar is not configured."""
        rule = policy.targets.get(SlaTarget(target))
        name = rule.calendar if rule is not None else policy.calendar
        if name == LOCAL:
            return self.calendar_for_source(source)
        if name not in self.calendars:
            raise CalendarError(name, f"of policy {policy.name!r} is not configured")
        return self.calendars[name]


def normalise(value: str | None) -> str | None:
    """Category and department names match case- and space-insensitively."""
    return (value or "").strip().lower() or None


def load_default() -> PolicyBook:
    """The policies and calendars shipped in `services/sla_timer/config/`."""
    return load(CONFIG_DIR / "policies.yaml", CONFIG_DIR / "calendars.yaml")


def load(policies_path: Path | str, calendars_path: Path | str) -> PolicyBook:
    """Read and validate operator-supplied files; raise ConfigError naming what is wrong."""
    cals = load_model(calendars_path, CalendarsFile, check=_check_calendars)
    calendars = {name: spec.build(name) for name, spec in cals.calendars.items()}
    known = {ALWAYS, LOCAL, *calendars}
    pols = load_model(
        policies_path,
        PoliciesFile,
        check=lambda doc: _check_policies(doc, known),
        labels=POLICY_LABELS,
    )
    policies = _build_policies(pols)
    return PolicyBook(policies, calendars, sources=cals.sources, default_calendar=cals.default)


POLICY_LABELS = {"policies": Label("policy", "name")}
"""Errors say `policy #3 'p3-billing'`, not `policies[2]`."""


def _expected_calendar(name: str, known: Iterable[str]) -> str:
    return f"expected one of the calendars {sorted(known)}, got {name!r}"


class CalendarsFile(BaseModel):
    """The whole of calendars.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: str
    sources: dict[str, str] = {}
    calendars: dict[str, CalendarModel] = Field(min_length=1)


def _check_calendars(doc: CalendarsFile) -> list[Problem]:
    problems: list[Problem] = [
        (("calendars", name), f"expected a name other than {name!r}")
        for name in doc.calendars
        if name in (ALWAYS, LOCAL)
    ]
    if doc.default not in doc.calendars:
        problems.append((("default",), _expected_calendar(doc.default, doc.calendars)))
    problems += [
        (("sources", source), _expected_calendar(name, doc.calendars))
        for source, name in doc.sources.items()
        if name not in doc.calendars
    ]
    return problems


def _check_policies(doc: PoliciesFile, calendars: set[str]) -> list[Problem]:
    """Unique names and keys, a default policy per priority, known calendars, required targets.

    Each calendar is checked where it is written, so an unknown one is reported once."""
    problems: list[Problem] = []
    if doc.defaults.calendar not in calendars:
        where = ("defaults", "calendar")
        problems.append((where, _expected_calendar(doc.defaults.calendar, calendars)))
    names: dict[str, int] = {}
    keys: dict[tuple[Priority, str | None, str | None], int] = {}
    for i, p in enumerate(doc.policies):
        key = _key(p)
        if p.name in names:
            problems.append(
                (
                    ("policies", i, "name"),
                    f"expected a unique name; {p.name!r} is already policy #{names[p.name] + 1}",
                )
            )
        if key in keys and not p.named_only:
            problems.append(
                (
                    ("policies", i),
                    "expected one policy per priority, category and"
                    f" department; policy #{keys[key] + 1} already covers them",
                )
            )
        names.setdefault(p.name, i)
        if not p.named_only:  # chosen by its name alone: no priority/category/department key
            keys.setdefault(key, i)
        written = [(("policies", i, "calendar"), p.calendar)] + [
            (("policies", i, "targets", name.value, "calendar"), t.calendar)
            for name, t in p.targets.items()
        ]
        problems += [
            (where, _expected_calendar(name, calendars))
            for where, name in written
            if name is not None and name not in calendars
        ]
    base = _bases(doc)
    missing = [p.value for p in Priority if p not in base]
    if missing:
        problems.append(
            (
                ("policies",),
                "expected a default policy (no category, no department)"
                f" for every priority; missing {missing}",
            )
        )
    for i, p in enumerate(doc.policies):
        inherited = base[p.priority].targets if p.priority in base else {}
        for required in REQUIRED_TARGETS:
            if required not in {**inherited, **p.targets}:
                problems.append((("policies", i, "targets"), f"expected a {required} target"))
    return problems


def _key(p: PolicyModel) -> tuple[Priority, str | None, str | None]:
    return p.priority, normalise(p.category), normalise(p.department)


def _bases(doc: PoliciesFile) -> dict[Priority, PolicyModel]:
    # The default policy of each priority: the first with no category and no department.
    base: dict[Priority, PolicyModel] = {}
    for p in doc.policies:
        if _key(p)[1:] == (None, None) and not p.named_only:
            base.setdefault(p.priority, p)
    return base


def _build_policies(doc: PoliciesFile) -> list[Policy]:
    # Only after _check_policies found nothing: every name below resolves.
    base = _bases(doc)
    return [_policy(p, base[p.priority], doc.defaults) for p in doc.policies]


def _policy(p: PolicyModel, base: PolicyModel, defaults: DefaultsModel) -> Policy:
    # A category/department policy states only what differs from its priority's default.
    calendar = p.calendar or base.calendar or defaults.calendar
    warnings = _first(p.warnings, base.warnings, defaults.warnings)
    targets: dict[SlaTarget, Target] = {}
    for name, t in {**base.targets, **p.targets}.items():
        before = t.warn_before.fixed if t.warn_before else None
        pcts = tuple(sorted(set(_first(t.warnings, warnings))))
        escalate = t.escalate if t.escalate is not None else name != SlaTarget.FOLLOW_UP
        targets[name] = Target(name, t.calendar or calendar, t.within, before, pcts, escalate)
    escalation = _first(p.escalation, base.escalation, defaults.escalation)
    return Policy(
        name=p.name,
        priority=p.priority,
        calendar=calendar,
        targets=targets,
        escalation=escalation.build(),
        category=normalise(p.category),
        department=normalise(p.department),
        named_only=p.named_only,
    )


def _first(*values: T | None) -> T:
    # An explicit empty list (e.g. `warnings: []`) is a setting, not a gap to fill.
    return next(v for v in values if v is not None)
