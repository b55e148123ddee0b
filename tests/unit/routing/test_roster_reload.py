"""A roster edit that does not load is reported by the routing worker until the file loads."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from services.kernel.clock import FrozenClock
from services.routing.app import ROSTER_RELOAD, Routing
from services.routing.settings import RoutingSettings
from tests.unit.routing.conftest import MINI_PERIODS, MINI_ROSTER, MINI_RULES, Write

T0 = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)


def _rewrite(path: Path, data: bytes) -> None:
    # Move the mtime on explicitly: two writes within the clock's resolution look unchanged.
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_bytes(data)
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def routing(write: Write, tmp_path: Path) -> tuple[Routing, CollectorRegistry, Path]:
    roster = write("roster.yaml", MINI_ROSTER)
    settings = RoutingSettings(
        home=tmp_path,
        routing_rules_path=write("rules.yaml", MINI_RULES),
        routing_periods_path=write("special_periods.yaml", MINI_PERIODS),
        routing_roster_path=roster,
        routing_classifier="keywords",  # no trained model: nothing to read from a database
    )
    registry = CollectorRegistry()
    handler = Routing(settings, registry, FrozenClock(T0))
    handler.start(None)  # type: ignore[arg-type]  # reads files only
    return handler, registry, roster


def value(registry: CollectorRegistry, name: str) -> float | None:
    return registry.get_sample_value(name, {"worker": "routing", "kind": ROSTER_RELOAD})


def test_a_broken_roster_is_reported_once_per_edit_and_cleared_when_it_loads(write, tmp_path):
    handler, registry, path = routing(write, tmp_path)
    handler.watch_roster()
    assert handler.problems.current() == []

    # When the roster is edited into something that does not load
    _rewrite(path, MINI_ROSTER.replace("capacity: 3}", "capacity: many}").encode())
    for _ in range(3):  # the loop looks on every pass
        handler.watch_roster()

    # Then it is one problem, counted once, naming the file, the agent and the key
    (problem,) = handler.problems.current()
    assert problem.kind == ROSTER_RELOAD and problem.subject == str(path)
    assert "agent #1 'amy': key capacity" in problem.message
    assert "last roster that loaded (5 agents)" in problem.message
    assert value(registry, "complaintflow_config_errors_total") == 1
    assert value(registry, "complaintflow_config_problems") == 1
    # And complaints still get owners from the last good roster
    assert handler.router.roster is not None
    assert handler.router.roster.current().pick("billing", "en", ["billing"], {})[0] == "amy"

    # When it is broken another way (bytes that are not UTF-8), that counts again
    _rewrite(path, b"\xff\xfe not yaml")
    handler.watch_roster()
    (problem,) = handler.problems.current()
    assert "UTF-8" in problem.message
    assert value(registry, "complaintflow_config_errors_total") == 2

    # When the file loads again, the problem is gone and the new roster is used
    _rewrite(path, MINI_ROSTER.replace("id: amy", "id: ann").encode())
    handler.watch_roster()
    assert handler.problems.current() == []
    assert value(registry, "complaintflow_config_problems") == 0
    assert handler.router.roster.current().pick("billing", "en", ["billing"], {})[0] == "ann"


def test_a_roster_edit_met_while_routing_a_complaint_is_reported_by_the_next_pass(write, tmp_path):
    handler, registry, path = routing(write, tmp_path)
    _rewrite(path, b"agents: [")
    assert handler.router.roster is not None
    handler.router.roster.current()  # what choosing an owner does

    handler.watch_roster()

    assert [p.kind for p in handler.problems.current()] == [ROSTER_RELOAD]
    assert value(registry, "complaintflow_config_errors_total") == 1


def test_a_pass_that_rolls_back_reports_the_broken_roster_again_on_the_next(write, tmp_path):
    handler, registry, path = routing(write, tmp_path)
    _rewrite(path, b"agents: [")

    handler.hooks.begin()
    handler.watch_roster()
    handler.hooks.rolled_back()
    assert handler.problems.current() == []

    handler.hooks.begin()
    handler.watch_roster()
    handler.hooks.committed()
    assert [p.kind for p in handler.problems.current()] == [ROSTER_RELOAD]
    assert value(registry, "complaintflow_config_errors_total") == 1
