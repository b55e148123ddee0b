"""The routing configuration models and rules.yaml; every file is read by the kernel's
config-file loader, so errors name the file, line, rule (agent, period) and key."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from schemas.common import Channel, Language, Priority
from services.kernel.config_files import Label, Problem, load_model

CONFIG_DIR = Path(__file__).parent / "config"
"""The shipped default configuration (rules.yaml, roster.yaml, special_periods.yaml)."""

RULE_LABELS = {"rules": Label("rule", "name")}
"""Errors say `rule #3 'card-fraud'`, not `rules[2]`."""

NAME = r"^[a-z0-9][a-z0-9_\-]*$"
CATEGORY_NAME = r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{0,62}[^\s\x00-\x1f\x7f])?$"
"""A category is named as the call center names it (费用问题, Billing & payments, billing): up to
64 characters, no control characters, no space at either end."""
RESERVED_CATEGORY = "uncategorised"
"""The category of a complaint that went to triage."""


def one_or_many(value: Any) -> Any:
    """Accept `category: billing` as well as `category: [billing]`, and numbers as text (a term
    like 12315 is a hotline number, not an integer)."""

    def text(item: Any) -> Any:
        return str(item) if isinstance(item, int | float) and not isinstance(item, bool) else item

    if isinstance(value, list):
        return [text(item) for item in value]
    return [text(value)] if isinstance(value, str | int | float) else value


OneOrMany = Annotated[list[str], BeforeValidator(one_or_many)]
Channels = Annotated[list[Channel], BeforeValidator(one_or_many)]


def _weighted(value: Any) -> Any:
    # A plain list of terms means weight 1 each; a mapping gives each term its own weight.
    return {str(term): 1.0 for term in value} if isinstance(value, list) else value


Weighted = Annotated[dict[str, Annotated[float, Field(gt=0, le=10)]], BeforeValidator(_weighted)]


class Model(BaseModel):
    """Base of every configuration model: unknown keys are typos, and typos are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Route(Model):
    """Where a complaint goes when nothing more specific says otherwise."""

    department: str
    queue: str
    priority: Priority
    sla_policy: str = "standard"


class CategoryRoute(Model):
    """Where complaints of one category go, before any rule says otherwise."""

    department: str
    queue: str
    priority: Priority
    sla_policy: str = "standard"
    skills: OneOrMany = []
    """Skills the owner needs."""
    tier_queues: dict[str, str] = {}
    """Customer tier → queue (the queue only; priority and SLA never see the tier)."""


class CategorySpec(Model):
    display: dict[Language, Annotated[str, Field(min_length=1)]] = {}
    """The category's name as people read it, per language (zh-Hans, zh-Hant, en)."""
    labels: OneOrMany = []
    """Exact category names call centers use for it (CFPB products, 账单, …), any case."""
    keywords: Weighted = {}
    """Terms that point to this category in free text, with their weight (default 1)."""
    route: CategoryRoute | None = None
    """Department, queue, skills, default priority and SLA policy of the category; rules that
    match still apply on top. Without it the rules (or `defaults`) decide."""


class SubCategorySpec(Model):
    labels: OneOrMany = []
    """Exact sub-category names (CFPB issues, …) that mean this sub-category."""


class ClassifierSpec(Model):
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.5
    """Below this confidence a complaint without a known category goes to triage (keywords)."""
    prior: Annotated[float, Field(gt=0)] = 1.0
    """Pseudo-weight of "none of these": confidence = best / (best + runner-up + prior)."""
    model_threshold: Annotated[float, Field(ge=0, le=1)] = 0.3
    """Below this probability of the trained model's best category: triage."""
    explain_terms: Annotated[int, Field(ge=0, le=20)] = 5
    """How many of the character sequences that weighed most a decision's reasons name."""
    correction_weight: Annotated[float, Field(gt=0, le=100)] = 5.0
    """How much more an agent's correction counts in retraining than a row of the file."""


class SeveritySpec(Model):
    safety: OneOrMany
    """Terms that mean someone is or could be hurt: priority P1."""
    threats: dict[str, OneOrMany]
    """Kind (media, regulator, court, social_media) → terms: sensitive, priority up one level."""
    sensitive_channels: Channels = []
    """Channels that are already public or regulatory: sensitive, priority up one level."""


class When(Model):
    """Conditions of a rule: all given keys must hold; within a key any listed value will do."""

    category: OneOrMany | None = None
    sub_category: OneOrMany | None = None
    product: OneOrMany | None = None
    """Terms matched in the product name (word boundaries for English)."""
    channel: Channels | None = None
    region: OneOrMany | None = None
    """Region codes; `CN` also matches `CN-SH`."""
    keywords: OneOrMany | None = None
    """Terms matched in the complaint's subject and description."""
    repeat: bool | None = None
    special_period: OneOrMany | None = None
    """Names of special periods, one of which must be active; `any` for any active period."""

    @model_validator(mode="before")
    @classmethod
    def _no_customer_value(cls, data: Any) -> Any:
        # Fairness: what a customer is worth may choose a queue, never which rule (and so which
        # priority or SLA) applies. Say so instead of a bare "unknown key".
        if isinstance(data, dict):
            for key in ("customer_tier", "tier", "vip", "customer_value"):
                if key in data:
                    raise ValueError(
                        f"'{key}' cannot be a rule condition: a customer tier may only pick a "
                        "queue (then.tier_queues), never the priority or SLA"
                    )
        return data


class Then(Model):
    """What a matching rule sets; keys it leaves out keep what earlier rules or defaults set."""

    department: str | None = None
    queue: str | None = None
    priority: Priority | None = None
    sla_policy: str | None = None
    tags: OneOrMany = []
    skills: OneOrMany = []
    """Skills the owner needs (added to those of earlier matching rules)."""
    sensitive: bool = False
    """Mark the complaint sensitive; the priority moves only if the rule sets one."""
    tier_queues: dict[str, str] = {}
    """Customer tier → queue. Consulted for the queue only; priority and SLA never see it."""


class Rule(Model):
    name: Annotated[str, Field(pattern=NAME)]
    when: When = When()
    then: Then
    continue_: bool = Field(False, alias="continue")
    """Keep evaluating later rules after this one matched (first match wins otherwise)."""


class RulesFile(Model):
    """rules.yaml: categories, classifier, severity terms and the ordered routing rules."""

    version: Literal[1]
    defaults: Route
    triage: Route
    classifier: ClassifierSpec = ClassifierSpec()
    categories: dict[Annotated[str, Field(pattern=CATEGORY_NAME)], CategorySpec]
    sub_categories: dict[Annotated[str, Field(pattern=NAME)], SubCategorySpec] = {}
    severity: SeveritySpec | None = None
    """Safety and threat terms; left out: the shipped ones (services/routing/config/rules.yaml)."""
    rules: list[Rule] = []


def check_rules(doc: RulesFile) -> list[Problem]:
    """Cross-references a schema cannot see: a label of two categories, unknown categories,
    duplicate rule names, tier queues on a rule that does not choose a queue."""
    problems: list[Problem] = []
    # A category's own name is one of its labels: no other category may use it.
    owner: dict[str, str] = {name.casefold().strip(): name for name in doc.categories}
    for name, spec in doc.categories.items():
        if name.casefold() == RESERVED_CATEGORY:
            problems.append((("categories", name), f"{name!r} is reserved for triage"))
        for j, label in enumerate(spec.labels):
            other = owner.setdefault(label.casefold().strip(), name)
            if other != name:
                where = ("categories", name, "labels", j)
                problems.append((where, f"label {label!r} is already a label of {other!r}"))
    seen: set[str] = set()
    for i, rule in enumerate(doc.rules):
        if rule.name in seen:
            problems.append((("rules", i, "name"), f"duplicate rule name {rule.name!r}"))
        seen.add(rule.name)
        for key, known in (("category", doc.categories), ("sub_category", doc.sub_categories)):
            for j, value in enumerate(getattr(rule.when, key) or []):
                if value not in known:
                    problems.append(
                        (
                            ("rules", i, "when", key, j),
                            f"unknown {key} {value!r}: expected one of {', '.join(sorted(known))}",
                        )
                    )
        if rule.then.tier_queues and not rule.then.queue:
            problems.append(
                (("rules", i, "then", "tier_queues"), "tier_queues needs a queue on the same rule")
            )
    return problems


def check_periods_named(doc: RulesFile, periods: frozenset[str]) -> list[Problem]:
    """Rules that name a special period the calendar does not have (a typo would never match)."""
    known = ", ".join(sorted(periods)) or "(no periods configured)"
    return [
        (
            ("rules", i, "when", "special_period", j),
            f"unknown special period {name!r}: expected 'any' or one of {known}",
        )
        for i, rule in enumerate(doc.rules)
        for j, name in enumerate(rule.when.special_period or [])
        if name != "any" and name not in periods
    ]


def load_rules(path: Path | str) -> RulesFile:
    """Read and validate a rules file (ConfigError names the file, line, rule and key)."""
    return load_model(path, RulesFile, check=check_rules, labels=RULE_LABELS)


@lru_cache(maxsize=1)
def shipped_severity() -> SeveritySpec:
    """The severity terms of the shipped rules, for a file that brings none of its own."""
    severity = load_rules(CONFIG_DIR / "rules.yaml").severity
    assert severity is not None, "the shipped rules.yaml defines severity"
    return severity
