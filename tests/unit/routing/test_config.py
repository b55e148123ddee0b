"""Configuration files are validated at start; errors name the file, line, rule and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.kernel.errors import ConfigError
from services.routing.roster import load_roster
from services.routing.rulebook import CONFIG_DIR, load_rules
from services.routing.rules import Router
from services.routing.severity import load_periods

from .conftest import MINI_PERIODS, MINI_ROSTER, MINI_RULES, Write


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line containing `needle` (which may end with its newline)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line + "\n")


def rules_error(write: Write, old: str, new: str) -> tuple[Path, str]:
    assert old in MINI_RULES  # the test edits something that is there
    path = write("rules.yaml", MINI_RULES.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        Router.from_files(path, periods_path=write("periods.yaml", MINI_PERIODS))
    return path, str(err.value)


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected"),
    [
        (
            "queue: fraud, priority: P1",
            "queue: fraud, priority: P5",
            "P5",
            "rule #2 'scam': key then.priority: expected 'P1', 'P2', 'P3' or 'P4' (got 'P5')",
        ),
        (
            "when: {channel: social}",
            "when: {channel: [social, fax2]}",
            "fax2",
            "rule #1 'social-tag': key when.channel[1]: expected 'phone', 'web'",
        ),
        (
            "    then: {department: tech, queue: network}\n",
            "",
            "name: network\n",
            "rule #7 'network': key then: required key is missing",
        ),
        (
            "when: {category: billing, region: CN}",
            "whn: {category: billing, region: CN}",
            "whn:",
            "rule #3 'billing-cn': key whn: unknown key: expected one of name, when, then, "
            "continue",
        ),
        (
            "when: {category: billing, region: CN}",
            "when: {category: billing, customer_tier: vip}",
            "customer_tier",
            "rule #3 'billing-cn': key when: 'customer_tier' cannot be a rule condition: a "
            "customer tier may only pick a queue (then.tier_queues), never the priority or SLA",
        ),
        (
            "when: {category: billing, region: CN}",
            "when: {category: [billing, biling], region: CN}",
            "biling",
            "rule #3 'billing-cn': key when.category[1]: unknown category 'biling': expected one "
            "of billing, network, other, safety",
        ),
        (
            "name: billing-cn",
            "name: scam",
            "name: scam",  # the second one (line of the first is checked below)
            "rule #3 'scam': key name: duplicate rule name 'scam'",
        ),
        (
            "classifier: {threshold: 0.5}",
            "classifier: {threshold: 1.5}",
            "threshold",
            "key classifier.threshold: expected less than or equal to 1 (got 1.5)",
        ),
        (
            "when: {special_period: recall}",
            "when: {special_period: recal}",
            "recal}",
            "rule #8 'recall': key when.special_period[0]: unknown special period 'recal': "
            "expected 'any' or one of cn-315, recall",
        ),
        (
            "then: {department: quality, queue: recall, priority: P2}",
            "then: {department: quality, priority: P2, tier_queues: {vip: x}}",
            "tier_queues: {vip: x}",
            "rule #8 'recall': key then.tier_queues: tier_queues needs a queue on the same rule",
        ),
        (
            "  - name: network\n",
            "  - nme: network\n",
            "nme: network",
            "rule #7: key name: required key is missing",
        ),
    ],
)
def test_rule_errors_name_file_line_rule_and_key(write: Write, old, new, needle, expected):
    path, message = rules_error(write, old, new)
    line = line_of(path, needle)
    if needle == "name: scam":
        line = [i for i, t in enumerate(path.read_text().splitlines(), 1) if needle in t][1]
    assert f"{path}:{line}: {expected}" in message


def test_every_problem_of_a_file_is_reported_at_once(write: Write):
    text = MINI_RULES.replace("priority: P1}", "priority: P9}", 1).replace(
        "queue: general, priority: P3", "queue: general, priority: high"
    )
    with pytest.raises(ConfigError) as err:
        load_rules(write("rules.yaml", text))
    message = str(err.value)
    assert message.startswith(f"{write('x', '').parent / 'rules.yaml'}: 2 problems")
    assert "key defaults.priority: expected 'P1'" in message and "(got 'high')" in message
    assert "rule #2 'scam': key then.priority" in message and "(got 'P9')" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\nrules: [\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping of keys at the top, got list"),
        ("", "expected a mapping of keys at the top, got nothing"),
    ],
)
def test_unreadable_rules(write: Write, text, expected):
    path = write("rules.yaml", text)
    with pytest.raises(ConfigError, match=expected) as err:
        load_rules(path)
    assert str(err.value).startswith(str(path))


def test_a_duplicate_key_is_an_error_not_a_silent_overwrite(write: Write):
    text = MINI_RULES.replace("  other: {labels: [misc]}\n", "  billing: {labels: [misc]}\n")
    path = write("rules.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_rules(path)
    first, second = (
        line_of(path, "billing: {labels: [账单"),
        line_of(path, "billing: {labels: [misc]}"),
    )
    assert str(err.value) == (
        f"{path}:{second}: key categories.billing: duplicate key (first on line {first})"
    )


def test_a_duplicate_key_inside_a_rule_names_the_rule(write: Write):
    text = MINI_RULES.replace(
        "      queue: billing\n", "      queue: billing\n      queue: bills\n"
    )
    path = write("rules.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_rules(path)
    first, second = line_of(path, "queue: billing\n"), line_of(path, "queue: bills")
    assert str(err.value) == (
        f"{path}:{second}: rule #4 'billing': key then.queue: duplicate key (first on line {first})"
    )


def test_a_label_of_two_categories_is_an_error(write: Write):
    path = write("rules.yaml", MINI_RULES.replace("labels: [misc]", "labels: [misc, BILLING DEPT]"))
    with pytest.raises(ConfigError) as err:
        load_rules(path)
    assert str(err.value) == (
        f"{path}:{line_of(path, 'BILLING DEPT]')}: key categories.other.labels[1]: "
        "label 'BILLING DEPT' is already a label of 'billing'"
    )


def test_a_missing_file_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read the file") as err:
        load_rules(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(err.value)


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected"),
    [
        (
            '{start: "03-08", end: "03-22"}',
            '{start: "13-45", end: "03-22"}',
            "13-45",
            "period #1 'cn-315': key dates[0].start: expected a date YYYY-MM-DD or a yearly day "
            "MM-DD, got '13-45'",
        ),
        (
            "{start: 2025-06-01, end: 2025-06-30}",
            "{start: 2025-06-30, end: 2025-06-01}",
            "2025-06-30",
            "period #2 'recall': key dates[0]: end 2025-06-01 is before start 2025-06-30",
        ),
        (
            '{start: "03-08", end: "03-22"}',
            '{start: "03-08", end: 2025-03-22}',
            "03-08",
            "period #1 'cn-315': key dates[0]: start and end must both be YYYY-MM-DD or both",
        ),
        (
            "    regions: [CN]\n",
            "    regions: [CN]\n    categories: [billing, bilting]\n",
            "bilting",
            "period #1 'cn-315': key categories[1]: unknown category 'bilting'",
        ),
    ],
)
def test_period_errors(write: Write, old, new, needle, expected):
    path = write("periods.yaml", MINI_PERIODS.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_periods(path, categories=["billing", "network"])
    assert f"{path}:{line_of(path, needle)}: {expected}" in str(err.value)


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected"),
    [
        (
            "languages: [en, zh-Hans], capacity: 2",
            "languages: [en, zh-CN], capacity: 2",
            "zh-CN",
            "agent #2 'bob': key languages[1]: expected 'zh-Hans', 'zh-Hant' or 'en' (got 'zh-CN')",
        ),
        (
            "capacity: 5\n",
            "capacity: -1\n",
            "capacity: -1",
            "agent #3 'chen': key capacity: expected greater than or equal to 0 (got -1)",
        ),
        ("id: eve", "id: amy", "id: amy, queues: [network]", "agent #5 'amy': key id: duplicate"),
        ("queues: [network], skills: []", "skills: []", "id: eve", "agent #5 'eve': key queues:"),
    ],
)
def test_roster_errors(write: Write, old, new, needle, expected):
    assert old in MINI_ROSTER
    path = write("roster.yaml", MINI_ROSTER.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_roster(path)
    assert f"{path}:{line_of(path, needle)}: {expected}" in str(err.value)


def test_shipped_configuration_is_valid_and_every_rule_queue_has_a_skilled_agent():
    rules = load_rules(CONFIG_DIR / "rules.yaml")
    roster = load_roster(CONFIG_DIR / "roster.yaml")
    load_periods(CONFIG_DIR / "special_periods.yaml", categories=rules.categories)
    for rule in rules.rules:
        for queue in filter(None, [rule.then.queue, *rule.then.tier_queues.values()]):
            skilled = [
                a
                for a in roster.agents
                if queue in a.queues and set(rule.then.skills) <= set(a.skills)
            ]
            assert skilled, f"rule {rule.name}: nobody on queue {queue} has {rule.then.skills}"
    assert any(rules.triage.queue in a.queues for a in roster.agents)
