"""The SLA policy book: policies.yaml and calendars.yaml, validated, and the lookups on them.

A policy depends only on what happened (priority, category, department, sensitivity), never
on what the customer is worth. Configuration errors name the file, the line, the key path
and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.common import Priority
from schemas.sla import SlaTarget
from services.kernel.errors import ConfigError
from services.sla_timer.calendar import ALWAYS, BusinessCalendar, CalendarModel
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
M = TypeVar("M", bound=BaseModel)
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
        self._by_key = {(p.priority, p.category, p.department): p for p in self.policies}
        self._by_name = {p.name: p for p in self.policies}

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
        """The calendar on which `target` of `policy` counts for a complaint from `source`."""
        name = policy.target(target).calendar
        return self.calendar_for_source(source) if name == LOCAL else self.calendars[name]


def normalise(value: str | None) -> str | None:
    """Category and department names match case- and space-insensitively."""
    return (value or "").strip().lower() or None


def load_default() -> PolicyBook:
    """The policies and calendars shipped in `services/sla_timer/config/`."""
    return load(CONFIG_DIR / "policies.yaml", CONFIG_DIR / "calendars.yaml")


def load(policies_path: Path | str, calendars_path: Path | str) -> PolicyBook:
    """Read and validate operator-supplied files; raise ConfigError naming what is wrong."""
    cal_doc, cals = _read(Path(calendars_path), CalendarsFile)
    for name in cals.calendars:
        if name in (ALWAYS, LOCAL):
            raise cal_doc.error(("calendars", name), f"expected a name other than {name!r}")
    if cals.default not in cals.calendars:
        raise cal_doc.error(("default",), _expected_calendar(cals.default, cals.calendars))
    for source, name in cals.sources.items():
        if name not in cals.calendars:
            raise cal_doc.error(("sources", source), _expected_calendar(name, cals.calendars))
    calendars = {name: spec.build(name) for name, spec in cals.calendars.items()}
    pol_doc, pols = _read(Path(policies_path), PoliciesFile)
    policies = _build_policies(pols, pol_doc, {ALWAYS, LOCAL, *calendars})
    return PolicyBook(policies, calendars, sources=cals.sources, default_calendar=cals.default)


def _expected_calendar(name: str, known: Iterable[str]) -> str:
    return f"expected one of the calendars {sorted(known)}, got {name!r}"


class CalendarsFile(BaseModel):
    """The whole of calendars.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: str
    sources: dict[str, str] = {}
    calendars: dict[str, CalendarModel] = Field(min_length=1)


def _build_policies(doc: PoliciesFile, src: _Doc, calendars: set[str]) -> list[Policy]:
    if doc.defaults.calendar not in calendars:
        raise src.error(
            ("defaults", "calendar"), _expected_calendar(doc.defaults.calendar, calendars)
        )
    base: dict[Priority, PolicyModel] = {}
    names: dict[str, int] = {}
    keys: dict[tuple[Priority, str | None, str | None], int] = {}
    for i, p in enumerate(doc.policies):
        key = (p.priority, normalise(p.category), normalise(p.department))
        if p.name in names:
            raise src.error(
                ("policies", i, "name"),
                f"expected a unique name; {p.name!r} is already policies[{names[p.name]}]",
            )
        if key in keys:
            raise src.error(
                ("policies", i),
                "expected one policy per priority, category and"
                f" department; policies[{keys[key]}] already covers them",
            )
        names[p.name], keys[key] = i, i
        if key[1:] == (None, None):
            base[p.priority] = p
    missing = [p.value for p in Priority if p not in base]
    if missing:
        raise src.error(
            ("policies",),
            "expected a default policy (no category, no department)"
            f" for every priority; missing {missing}",
        )
    return [
        _policy(i, p, base[p.priority], doc.defaults, src, calendars)
        for i, p in enumerate(doc.policies)
    ]


def _policy(
    i: int,
    p: PolicyModel,
    base: PolicyModel,
    defaults: DefaultsModel,
    src: _Doc,
    calendars: set[str],
) -> Policy:
    # A category/department policy states only what differs from its priority's default.
    calendar = p.calendar or base.calendar or defaults.calendar
    if calendar not in calendars:
        raise src.error(("policies", i, "calendar"), _expected_calendar(calendar, calendars))
    warnings = _first(p.warnings, base.warnings, defaults.warnings)
    targets: dict[SlaTarget, Target] = {}
    for name, t in {**base.targets, **p.targets}.items():
        cal = t.calendar or calendar
        if cal not in calendars:
            path = ("policies", i, "targets", name.value, "calendar")
            raise src.error(path, _expected_calendar(cal, calendars))
        before = t.warn_before.fixed if t.warn_before else None
        pcts = tuple(sorted(set(_first(t.warnings, warnings))))
        targets[name] = Target(name, cal, t.within, before, pcts)
    for required in REQUIRED_TARGETS:
        if required not in targets:
            raise src.error(("policies", i, "targets"), f"expected a {required} target")
    escalation = _first(p.escalation, base.escalation, defaults.escalation)
    return Policy(
        name=p.name,
        priority=p.priority,
        calendar=calendar,
        targets=targets,
        escalation=escalation.build(),
        category=normalise(p.category),
        department=normalise(p.department),
    )


def _first(*values: T | None) -> T:
    # An explicit empty list (e.g. `warnings: []`) is a setting, not a gap to fill.
    return next(v for v in values if v is not None)


# --- reading YAML with errors that say where -----------------------------------------------


@dataclass(frozen=True)
class _Doc:
    path: Path
    root: yaml.Node | None

    def error(self, loc: Sequence[str | int], message: str) -> ConfigError:
        return ConfigError(f"{self.where(loc)}: {message}")

    def where(self, loc: Sequence[str | int]) -> str:
        node, line = self.root, 1
        for key in loc:
            # A key's own line reads better than where its block value starts.
            mark = None
            if isinstance(node, yaml.MappingNode):
                pair = next(((k, v) for k, v in node.value if str(k.value) == str(key)), None)
                mark, node = (pair[0].start_mark, pair[1]) if pair else (None, None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
                node = node.value[key] if key < len(node.value) else None
                mark = node.start_mark if node else None
            if mark is None:
                break
            line = mark.line + 1
        return f"{self.path}:{line}: {_dotted(loc)}"


def _dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for key in loc:
        if key == "[key]":
            continue
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out or "(top level)"


def _read(path: Path, model: type[M]) -> tuple[_Doc, M]:
    try:
        text = path.read_text(encoding="utf-8")
        doc = _Doc(path, yaml.compose(text, Loader=yaml.SafeLoader))
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read SLA configuration: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: expected valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise doc.error((), f"expected a mapping of settings, got {type(data).__name__}")
    try:
        return doc, model.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(doc, model, err) for err in exc.errors()]
        raise ConfigError("\n".join(problems)) from None


def _problem(doc: _Doc, model: type[BaseModel], err: Any) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        msg = f"unknown key; expected one of {_keys_at(model, err['loc'][:-1])}"
    elif err["type"] not in ("missing", "value_error") and not isinstance(value, dict | list):
        msg += f" (got {value!r})"
    return f"{doc.where(err['loc'])}: {msg}"


def _keys_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys the schema allows at `loc`, following the model's type annotations."""
    tp: Any = model
    for key in loc:
        while get_origin(tp) in (Annotated, Union, UnionType):
            tp = next(a for a in get_args(tp) if a is not type(None))
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            tp = tp.model_fields[str(key)].annotation
        else:  # a list item or a dict value
            tp = get_args(tp)[-1]
    while get_origin(tp) in (Annotated, Union, UnionType):
        tp = next(a for a in get_args(tp) if a is not type(None))
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []
