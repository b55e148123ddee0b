"""Every SLA policy the routing rules can name is defined, and is what its name promises."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path

import pytest

from schemas.common import Priority
from schemas.sla import SlaTarget
from services.kernel.errors import ConfigError
from services.routing.decision import Facts, Reopen
from services.routing.rules import Router, default_router
from services.sla_timer.policy_book import PolicyBook, load, load_default
from tests.unit.routing.conftest import MINI_PERIODS, MINI_ROSTER, MINI_RULES

CLOCKS = (SlaTarget.ACKNOWLEDGE, SlaTarget.KEEP_INFORMED, SlaTarget.RESOLVE)


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return load_default()


def test_every_policy_the_shipped_routing_can_name_is_a_shipped_sla_policy(book):
    # Given the names the shipped rules and special periods can put on a decision
    names = default_router().sla_policies()
    assert {"standard-P3", "standard-315-P2", "regulatory-P2", "recall-P2"} <= names

    # Then the shipped SLA policies define each of them: none falls back to another
    assert sorted(names - book.names) == []


def test_the_names_are_read_from_the_rule_and_period_files(tmp_path: Path):
    # Given a router whose rules name `cn` and `urgent` and whose periods add `-315` and `recall`
    paths = {}
    for name, text in (("r", MINI_RULES), ("p", MINI_PERIODS), ("a", MINI_ROSTER)):
        paths[name] = tmp_path / f"{name}.yaml"
        paths[name].write_text(text, encoding="utf-8")
    mini = Router.from_files(paths["r"], periods_path=paths["p"], roster_path=paths["a"])

    # Then it can name each of those, as it is and tightened, at every priority
    bases = ["standard", "cn", "urgent", "standard-315", "cn-315", "urgent-315", "recall"]
    assert mini.sla_policies() == {f"{b}-{p.value}" for b in bases for p in Priority}


def test_the_names_cover_every_decision_the_shipped_router_makes():
    # Given complaints of every category, through every channel, from China and elsewhere,
    # in and out of 3·15, calm, threatening and dangerous, first or repeated, then reopened
    router = default_router()
    names = router.sla_policies()
    texts = ("", "我要找记者曝光", "the charger caught fire and I was injured")
    channels = (None, "regulator", "social", "phone")
    days = (date(2026, 3, 15), date(2026, 7, 1))
    seen = set()
    for category, text, channel, region, day, repeats in itertools.product(
        [*router.config.categories, None], texts, channels, ("CN-SH", "US"), days, (0, 2)
    ):
        facts = Facts(
            category=category,
            text=text,
            channel=channel,
            region=region,
            on=day,
            repeat_count=repeats,
        )
        decision = router.decide(facts, load={})
        reopened = router.reroute(decision, Reopen(by="customer"), load={})
        for d in (decision, reopened):
            assert d.sla_policy in names, (category, text, channel, region, day)
            seen.add(d.sla_policy)
    # And the walk met the special-period and regulator names, not only the standard ones
    assert {"standard-315-P2", "regulatory-P2", "urgent-P1", "urgent-315-P1"} <= seen


def _within(book: PolicyBook, name: str, target: SlaTarget) -> timedelta:
    policy = book.named(name)
    return policy.duration(target, book.calendar_for(policy, target, "shanghai-cc"))


@pytest.mark.parametrize("priority", list(Priority))
@pytest.mark.parametrize(
    ("variant", "of"),
    [
        ("standard-315", "standard"),
        ("regulatory-315", "regulatory"),
        ("urgent-315", "urgent"),
        ("recall", "standard"),
        ("regulatory", "standard"),
        ("urgent", "standard"),
    ],
)
def test_a_named_policy_is_never_looser_than_the_one_it_stands_for(book, variant, of, priority):
    # Given a special-period, regulator or safety policy and the policy it replaces
    special, plain = f"{variant}-{priority.value}", f"{of}-{priority.value}"
    for target in CLOCKS:
        # Then each clock allows at most as much time
        assert _within(book, special, target) <= _within(book, plain, target), (special, target)


@pytest.mark.parametrize("priority", [Priority.P2, Priority.P3, Priority.P4])
def test_3_15_gives_the_next_stricter_priority_s_times_on_the_complaint_s_own_calendar(
    book, priority
):
    # (what the SLA timer falls back to for a special period, one priority stricter)
    stricter = book.resolve(list(Priority)[list(Priority).index(priority) - 1])
    tightened = book.named(f"standard-315-{priority.value}")
    assert tightened.calendar == book.named(f"standard-{priority.value}").calendar
    for target in CLOCKS:
        assert tightened.targets[target].within == stricter.targets[target].within


def test_a_named_only_policy_is_never_chosen_by_priority(book):
    for priority in Priority:
        assert book.resolve(priority).name == f"standard-{priority.value}"
        assert book.resolve(priority, sensitive=True).name == f"standard-{priority.value}"


def test_a_named_only_policy_inherits_what_it_does_not_state(book):
    recall = book.named("recall-P3")
    standard = book.named("standard-P3")
    assert recall.targets[SlaTarget.FOLLOW_UP] == standard.targets[SlaTarget.FOLLOW_UP]
    assert recall.escalation == standard.escalation and recall.calendar == "local"


def test_a_named_only_policy_with_a_category_is_refused_naming_file_and_line(tmp_path):
    text = (Path(__file__).parents[3] / "services/sla_timer/config/policies.yaml").read_text()
    bad = text.replace(
        "  - {name: recall-P1, priority: P1, named_only: true}",
        "  - {name: recall-P1, priority: P1, named_only: true, category: billing}",
    )
    assert bad != text
    line = next(i for i, s in enumerate(bad.splitlines(), 1) if "category: billing" in s)
    policies = tmp_path / "policies.yaml"
    policies.write_text(bad, encoding="utf-8")
    calendars = Path(__file__).parents[3] / "services/sla_timer/config/calendars.yaml"
    with pytest.raises(ConfigError) as caught:
        load(policies, calendars)
    assert str(caught.value).startswith(f"{policies}:{line}: policy #"), caught.value
    assert "'recall-P1'" in str(caught.value)
    assert "named_only: expected no category or department" in str(caught.value)
