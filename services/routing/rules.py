"""The routing decision as a pure function of what happened: classify, apply the rules of
rules.yaml, assess severity and special periods, pick a queue and a dedicated owner, explain —
and re-route on a transfer, a category correction or a reopen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from schemas.common import Channel, Language, Priority
from services.kernel.config_files import problems_error
from services.routing.classifier import Classification, Classifier, Terms, fold, region_in
from services.routing.decision import (  # noqa: F401 - re-exported for callers
    CategoryCorrection,
    Change,
    Decision,
    Facts,
    Reopen,
    RerouteError,
    Transfer,
    sla_policy_name,
)
from services.routing.roster import Roster, RosterFile, choose_owner
from services.routing.rulebook import (
    CONFIG_DIR,
    RULE_LABELS,
    Rule,
    RulesFile,
    check_periods_named,
    load_rules,
    shipped_severity,
)
from services.routing.severity import (
    ActivePeriod,
    SeverityAssessor,
    SpecialPeriods,
    adjust,
    load_periods,
    raise_priority,
    tighten,
)

UNCATEGORISED = "uncategorised"
OTHER_DEPARTMENT = "other"
"""Where a transfer to a department the rules do not know goes."""


def _fold_name(name: str) -> str:
    return "_".join(name.strip().casefold().replace("-", " ").split())


@dataclass
class _Route:
    """Everything but the queue choice and the owner — built without the customer tier."""

    category: str
    department: str
    queue: str
    priority: Priority
    sla_base: str
    sensitive: bool = False
    tier_queues: Mapping[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    skills: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)


def _show(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return "[" + ", ".join(map(str, value)) + "]" if isinstance(value, list) else str(value)


def _add(items: list[str], new: Sequence[str]) -> None:
    items.extend(x for x in dict.fromkeys(new) if x not in items)


class Router:
    """The routing configuration, compiled once; `decide` and `reroute` are pure."""

    def __init__(
        self,
        rules: RulesFile,
        *,
        calendar: SpecialPeriods | None = None,
        roster: Roster | RosterFile | None = None,
    ) -> None:
        self.config = rules
        self.calendar = calendar or SpecialPeriods(())
        self.roster = roster
        self.classifier = Classifier(rules.classifier, rules.categories, rules.sub_categories)
        self.severity = SeverityAssessor(rules.severity or shipped_severity())
        self._terms = [
            (Terms(r.when.keywords or []), Terms(r.when.product or [])) for r in rules.rules
        ]
        # Queue → department and skills (the first rule naming the queue), so a transfer lands in
        # the department that owns the queue, and the owner needs the skills the queue's work needs.
        self.departments = {rules.triage.queue: rules.triage.department}
        self.queue_skills: dict[str, tuple[str, ...]] = {}
        routes = [c.route for c in rules.categories.values() if c.route]
        for route in routes:
            for queue in (route.queue, *route.tier_queues.values()):
                self.queue_skills.setdefault(queue, tuple(route.skills))
                self.departments.setdefault(queue, route.department)
        for t in (r.then for r in rules.rules):
            for queue in (t.queue, *t.tier_queues.values()) if t.queue else ():
                self.queue_skills.setdefault(queue, tuple(t.skills))
                if t.department:
                    self.departments.setdefault(queue, t.department)
        self.departments.setdefault(rules.defaults.queue, rules.defaults.department)
        # Every department the rules know: a transfer naming another (free text typed by an
        # agent) goes to OTHER_DEPARTMENT, so departments stay a bounded metric label.
        named = [
            rules.defaults.department,
            *(r.then.department for r in rules.rules),
            *(route.department for route in routes),
        ]
        self.known_departments = {
            _fold_name(d): d for d in (*self.departments.values(), *named) if d
        }

    @classmethod
    def from_files(
        cls,
        rules_path: Path | str,
        *,
        periods_path: Path | str | None = None,
        roster_path: Path | str | None = None,
    ) -> Router:
        """A router from the YAML files, all validated now (ConfigError names file and key).
        The roster is followed: an edited roster.yaml is used without a restart."""
        rules = load_rules(rules_path)
        periods = load_periods(periods_path, categories=rules.categories) if periods_path else None
        calendar = SpecialPeriods(periods.periods if periods else ())
        problems = check_periods_named(rules, calendar.names)
        if problems:
            raise problems_error(rules_path, problems, labels=RULE_LABELS)
        return cls(
            rules, calendar=calendar, roster=RosterFile(roster_path) if roster_path else None
        )

    def sla_policies(self) -> frozenset[str]:
        """Every SLA policy name a decision of this router can carry: the policy of the
        defaults, of triage and of each rule, as it is and as each special period tightens it,
        at every priority (severity, repeats and reopens can raise any complaint's)."""
        c = self.config
        bases = {c.defaults.sla_policy, c.triage.sla_policy}
        bases |= {r.then.sla_policy for r in c.rules if r.then.sla_policy}
        bases |= {cat.route.sla_policy for cat in c.categories.values() if cat.route}
        tightened = {
            tighten(base, [ActivePeriod(period, "")]).sla_base
            for base in bases
            for period in self.calendar.periods
        }
        return frozenset(sla_policy_name(b, p) for b in bases | tightened for p in Priority)

    def decide(
        self,
        facts: Facts,
        *,
        language: Language | str | None = None,
        customer_tier: str | None = None,
        load: Mapping[str, int] | None = None,
    ) -> Decision:
        """The first routing decision (version 1) of a complaint."""
        cls = self.classifier.classify(
            category=facts.category,
            sub_category=facts.sub_category,
            product=facts.product,
            text=facts.text,
        )
        return self._finish(self._assess(facts, cls), cls, facts, language, customer_tier, load)

    def _assess(self, facts: Facts, cls: Classification, reopens: int = 0) -> _Route:
        # The customer tier is not a parameter here, by construction: priority and SLA cannot
        # depend on it. It is read in `_finish`, for the queue only.
        active = self.calendar.active(
            facts.on,
            category=cls.category,
            region=facts.region,
            product=facts.product,
            text=facts.text,
        )
        r = self._route(facts, cls, frozenset(a.period.name for a in active))
        severity = self.severity.assess(text=facts.text, channel=facts.channel)
        moved = adjust(r.priority, severity, repeat_count=facts.repeat_count, reopens=reopens)
        r.priority, r.sensitive = moved.priority, r.sensitive or moved.sensitive
        _add(r.tags, moved.tags)
        if r.sensitive:
            _add(r.tags, ["sensitive"])
        r.reasons.extend(moved.reasons)
        tightened = tighten(r.sla_base, active)
        r.sla_base = tightened.sla_base
        _add(r.tags, tightened.tags)
        _add(r.periods, [a.period.name for a in active])
        r.reasons.extend(tightened.reasons)
        return r

    def _route(self, facts: Facts, cls: Classification, periods: frozenset[str]) -> _Route:
        """Department, queue, base priority and policy, tags and skills from the rules."""
        if cls.category is None:
            tr = self.config.triage
            r = _Route(UNCATEGORISED, tr.department, tr.queue, tr.priority, tr.sla_policy)
            r.reasons.extend(cls.reasons)
            r.reasons.append(f"sent to triage: {tr.department}/{tr.queue} at {tr.priority}")
            return r
        d = self.config.defaults
        route = self.config.categories[cls.category].route
        r = _Route(cls.category, d.department, d.queue, d.priority, d.sla_policy)
        r.reasons.extend(cls.reasons)
        if route is not None:
            r.department, r.queue, r.priority = route.department, route.queue, route.priority
            r.sla_base, r.tier_queues = route.sla_policy, route.tier_queues
            _add(r.skills, route.skills)
            r.reasons.append(
                f"category {cls.category!r} goes to {route.department}/{route.queue} at"
                f" {route.priority} ({route.sla_policy})"
            )
        text, product = fold(facts.text), fold(facts.product or "")
        priorities: list[Priority] = []
        decided = False
        for i, rule in enumerate(self.config.rules):
            why = self._match(i, rule, cls, text, product, facts, periods)
            if why is None:
                continue
            t = rule.then
            r.department = t.department or r.department
            if t.queue:
                r.queue, r.tier_queues = t.queue, t.tier_queues
            r.sla_base = t.sla_policy or r.sla_base
            r.sensitive = r.sensitive or t.sensitive
            _add(r.tags, t.tags)
            _add(r.skills, t.skills)
            priorities += [t.priority] if t.priority else []
            r.rules.append(rule.name)
            sets = ", ".join(
                f"{k}={_show(v)}" for k, v in t.model_dump(exclude_defaults=True).items()
            )
            r.reasons.append(f"rule #{i + 1} {rule.name!r} matched ({why}): {sets}")
            if not rule.continue_:
                decided = True
                break
        if priorities:
            # A later rule never lowers what an earlier matching rule made more urgent.
            r.priority = min(priorities, key=list(Priority).index)
        if not decided and route is None:
            r.reasons.append(f"no rule decided the route: defaults {d.department}/{d.queue}")
        return r

    def _match(
        self,
        i: int,
        rule: Rule,
        cls: Classification,
        text: str,
        product: str,
        facts: Facts,
        periods: frozenset[str],
    ) -> str | None:
        """Why `rule` matches (every condition it has holds), or None."""
        w = rule.when
        keywords, products = self._terms[i]
        # Conditions in a fixed order, the first that fails ending the check: most rules do
        # not match, and most fail on their first condition.
        why: list[str] = []
        if w.category is not None:
            if cls.category not in w.category:
                return None
            why.append(f"category {cls.category}")
        if w.sub_category is not None:
            if cls.sub_category not in w.sub_category:
                return None
            why.append(f"sub-category {cls.sub_category}")
        if w.product is not None:
            found = products.find(product) if w.product else []
            if not found:
                return None
            why.append("product " + ", ".join(map(repr, found)))
        if w.channel is not None:
            if facts.channel not in w.channel:
                return None
            why.append(f"channel {facts.channel}")
        if w.region is not None:
            if not region_in(facts.region, w.region):
                return None
            why.append(f"region {facts.region}")
        if w.keywords is not None:
            said = keywords.find(text) if w.keywords else []
            if not said:
                return None
            why.append("keywords " + ", ".join(map(repr, said)))
        if w.repeat is not None:
            repeat = facts.repeat_count > 0
            if repeat != w.repeat:
                return None
            why.append("repeat" if repeat else "first complaint")
        if w.special_period is not None:
            wanted = set(w.special_period)
            hit = sorted(periods if "any" in wanted else periods & wanted)
            if not hit:
                return None
            why.append("special period " + ", ".join(hit))
        return "; ".join(why) or "no conditions"

    def _finish(
        self,
        r: _Route,
        cls: Classification,
        facts: Facts,
        language: Language | str | None,
        tier: str | None,
        load: Mapping[str, int] | None,
        *,
        version: int = 1,
        reopens: int = 0,
        keep: tuple[str, str | None] | None = None,
    ) -> Decision:
        """Queue (the only place the customer tier is read), owner, and the Decision."""
        queue, reasons = r.queue, list(r.reasons)
        if tier and tier in r.tier_queues:
            queue = r.tier_queues[tier]
            reasons.append(
                f"customer tier {tier!r}: queue {r.queue} → {queue} (priority, SLA same)"
            )
        lang = Language(language) if language else None
        owner: str | None = keep[1] if keep and keep[0] == queue else None
        if owner:
            why = f"owner {owner!r} stays: the queue did not change"
        else:
            owner, why = choose_owner(self.roster, queue, lang, r.skills, load)
        return Decision(
            version=version,
            category=r.category,
            sub_category=cls.sub_category,
            confidence=cls.confidence,
            classified_by="agent" if keep is not None else cls.method,
            model_version=cls.model_version,
            department=r.department,
            queue=queue,
            owner=owner,
            priority=r.priority,
            sla_policy=sla_policy_name(r.sla_base, r.priority),
            sla_base=r.sla_base,
            sensitive=r.sensitive,
            tags=tuple(r.tags),
            skills=tuple(r.skills),
            reasons=(*reasons, why),
            matched_rules=tuple(r.rules),
            special_periods=tuple(r.periods),
            reopens=reopens,
            customer_tier=tier,
            language=lang,
            facts=facts,
        )

    def display(self, category: str) -> dict[str, str]:
        """The category's name as people read it, by language (empty: none configured)."""
        spec = self.config.categories.get(category)
        return {str(lang): name for lang, name in spec.display.items()} if spec else {}

    def reroute(
        self, previous: Decision, change: Change, *, load: Mapping[str, int] | None = None
    ) -> Decision:
        """The next version of a decision after a transfer, a category correction or a reopen.

        The new reasons say what changed, prefixed `v{version}:`. A transfer and a reopen keep
        the earlier reasons, since priority and SLA still rest on them; a correction decides
        everything again from the stored facts.
        """
        v = previous.version + 1
        note = f" ({change.note})" if change.note else ""
        if isinstance(change, CategoryCorrection):
            return self._correct(previous, change, v, note, load)
        if isinstance(change, Reopen):
            priority = raise_priority(previous.priority)
            why = f"v{v}: reopened by {change.by}{note}: priority {previous.priority} → {priority}"
            if previous.owner:
                why += f"; owner {previous.owner!r} stays accountable"
            tags = previous.tags if "reopened" in previous.tags else (*previous.tags, "reopened")
            return previous.model_copy(
                update={
                    "version": v,
                    "priority": priority,
                    "sla_policy": sla_policy_name(previous.sla_base, priority),
                    "reopens": previous.reopens + 1,
                    "tags": tags,
                    "reasons": (*previous.reasons, why),
                }
            )
        if not change.queue and not change.owner:
            raise RerouteError("a transfer must name a queue, an owner or both")
        queue = change.queue or previous.queue
        department = self.departments.get(queue, previous.department)
        unknown = ""
        if change.department:
            department = self.known_departments.get(_fold_name(change.department), OTHER_DEPARTMENT)
            if department == OTHER_DEPARTMENT:
                unknown = f"; the department it named is not one routing knows: {OTHER_DEPARTMENT}"
        moved = (
            f"v{v}: transferred by {change.by} from {previous.department}/{previous.queue} "
            f"(owner {previous.owner}) to {department}/{queue}{note}; priority and SLA unchanged"
            f"{unknown}"
        )
        skills = previous.skills if queue == previous.queue else self.queue_skills.get(queue, ())
        owner: str | None = change.owner
        if owner is None:
            owner, why = choose_owner(self.roster, queue, previous.language, skills, load)
        else:
            why = f"owner {owner!r} named by the transfer"
        return previous.model_copy(
            update={
                "version": v,
                "department": department,
                "queue": queue,
                "owner": owner,
                "skills": skills,
                "reasons": (*previous.reasons, moved, f"v{v}: {why}"),
            }
        )

    def _correct(
        self,
        previous: Decision,
        change: CategoryCorrection,
        v: int,
        note: str,
        load: Mapping[str, int] | None,
    ) -> Decision:
        name = self.classifier.known(change.category)
        if name is None:
            known = ", ".join(self.config.categories)
            raise RerouteError(f"unknown category {change.category!r}: expected one of {known}")
        sub = change.sub_category or previous.facts.sub_category
        facts = previous.facts.model_copy(update={"category": name, "sub_category": sub})
        cls = self.classifier.classify(category=name, sub_category=sub, product=facts.product)
        r = self._assess(facts, cls, reopens=previous.reopens)
        head = f"v{v}: category corrected by {change.by} from {previous.category} to {name}"
        r.reasons.insert(0, head + note)
        keep = (previous.queue, previous.owner)
        return self._finish(
            r, cls, facts, previous.language, previous.customer_tier, load,
            version=v, reopens=previous.reopens, keep=keep,
        )  # fmt: skip


@lru_cache(maxsize=1)
def default_router() -> Router:
    """The router of the shipped configuration in services/routing/config/."""
    return Router.from_files(
        CONFIG_DIR / "rules.yaml",
        periods_path=CONFIG_DIR / "special_periods.yaml",
        roster_path=CONFIG_DIR / "roster.yaml",
    )


def decide(
    *,
    category: str | None,
    text: str,
    repeat_count: int,
    sub_category: str | None = None,
    product: str | None = None,
    channel: Channel | str | None = None,
    region: str | None = None,
    on: date | None = None,
    language: Language | str | None = None,
    customer_tier: str | None = None,
    load: Mapping[str, int] | None = None,
    router: Router | None = None,
) -> Decision:
    """The routing decision of a complaint, with every reason an auditor needs.

    Priority and SLA depend only on what happened (category, text, channel, region, repeat,
    date); `customer_tier` may choose a queue, `language` and `load` the owner, nothing else.
    """
    facts = Facts(
        category=category,
        sub_category=sub_category,
        product=product,
        text=text,
        channel=Channel(channel) if channel else None,
        region=region,
        repeat_count=repeat_count,
        on=on,
    )
    return (router or default_router()).decide(
        facts, language=language, customer_tier=customer_tier, load=load
    )


def reroute(
    previous: Decision,
    change: Change,
    *,
    load: Mapping[str, int] | None = None,
    router: Router | None = None,
) -> Decision:
    """`Router.reroute` with the shipped configuration unless `router` is given."""
    return (router or default_router()).reroute(previous, change, load=load)
