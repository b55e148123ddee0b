"""Fixtures for the routing rules: the shipped router, and small configurations written to tmp."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from services.routing.rules import Router, default_router

MINI_RULES = """
version: 1
defaults: {department: cs, queue: general, priority: P3}
triage: {department: cs, queue: triage, priority: P3}
classifier: {threshold: 0.5}
categories:
  billing: {labels: [账单, Billing dept], keywords: {话费: 2, bill: 1}}
  network: {keywords: [宽带, outage]}
  safety: {keywords: {起火: 3}}
  other: {labels: [misc]}
sub_categories:
  fraud_scam: {labels: [Fraud or scam]}
severity:
  safety: [fire, 起火]
  threats: {court: [sue, 律师], media: [news]}
  sensitive_channels: [social]
rules:
  - name: social-tag
    when: {channel: social}
    then: {tags: public, priority: P2}
    continue: true
  - name: scam
    when: {sub_category: fraud_scam}
    then: {department: compliance, queue: fraud, priority: P1}
  - name: billing-cn
    when: {category: billing, region: CN}
    then: {department: finance, queue: billing_cn, sla_policy: cn, skills: billing}
  - name: billing
    when: {category: billing}
    then:
      department: finance
      queue: billing
      priority: P4
      skills: billing
      tier_queues: {vip: billing_vip}
  - name: network-fiber
    when: {category: network, product: [fiber, 光纤]}
    then: {department: tech, queue: fiber, priority: P2}
  - name: network-elderly
    when: {category: network, keywords: [elderly, 老人]}
    then: {department: tech, queue: network_care, skills: care}
  - name: network
    when: {category: network}
    then: {department: tech, queue: network}
  - name: recall
    when: {special_period: recall}
    then: {department: quality, queue: recall, priority: P2}
  - name: repeat-safety
    when: {category: safety, repeat: true}
    then: {department: quality, queue: safety_repeat, priority: P1}
  - name: safety
    when: {category: safety}
    then: {department: quality, queue: safety, priority: P1, sla_policy: urgent}
"""

MINI_PERIODS = """
version: 1
periods:
  - name: cn-315
    dates: [{start: "03-08", end: "03-22"}]
    regions: [CN]
    sla_suffix: "315"
    tags: ["3·15"]
  - name: recall
    dates: [{start: 2025-06-01, end: 2025-06-30}]
    products: [heater x2, 取暖器]
    sla_policy: recall
"""

MINI_ROSTER = """
version: 1
agents:
  - {id: amy, queues: [billing, billing_vip], skills: [billing], languages: [en], capacity: 3}
  - {id: bob, queues: [billing], skills: [billing], languages: [en, zh-Hans], capacity: 2}
  - id: chen
    queues: [billing, billing_cn]
    skills: [billing]
    languages: [zh-Hans, zh-Hant]
    capacity: 5
  - {id: dina, queues: [network, network_care], skills: [care], languages: [en], capacity: 1}
  - {id: eve, queues: [network], skills: [], languages: [en], capacity: 4}
"""

Write = Callable[[str, str], Path]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write `text` (dedented) to `tmp_path / name` and return the path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def mini(write: Write) -> Router:
    """A small router whose every rule a test below exercises."""
    return Router.from_files(
        write("rules.yaml", MINI_RULES),
        periods_path=write("special_periods.yaml", MINI_PERIODS),
        roster_path=write("roster.yaml", MINI_ROSTER),
    )


@pytest.fixture(scope="session")
def shipped() -> Router:
    """The router of the shipped default configuration."""
    return default_router()
