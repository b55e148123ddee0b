"""Configuration problems a worker runs on with: logged once, counted, listed on /readyz."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from services.kernel.clock import FrozenClock
from services.kernel.handler import Handler
from services.kernel.ops_http import OpsServer, readyz_body
from services.kernel.problems import ConfigProblems
from services.kernel.settings import Settings

T0 = datetime(2026, 3, 15, 8, 0, tzinfo=UTC)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, {"worker": "routing", **labels})


def problems() -> tuple[ConfigProblems, CollectorRegistry, FrozenClock]:
    registry, clock = CollectorRegistry(), FrozenClock(T0)
    return ConfigProblems.create("routing", registry, clock), registry, clock


def test_a_problem_met_on_every_record_is_logged_once_and_counted_each_time(caplog):
    found, registry, clock = problems()
    caplog.set_level(logging.INFO, logger="services.kernel.problems")

    # When the same problem is met three times, a minute apart
    for _ in range(3):
        found.report("unknown_sla_policy", "policy 'x-P2' is not defined", subject="x-P2")
        clock.advance(60)

    # Then one warning, three errors counted, one problem present, since its first sighting
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "x-P2" in warnings[0].getMessage()
    assert sample(registry, "complaintflow_config_errors_total", kind="unknown_sla_policy") == 3
    assert sample(registry, "complaintflow_config_problems", kind="unknown_sla_policy") == 1
    (only,) = found.current()
    assert (only.kind, only.subject, only.count) == ("unknown_sla_policy", "x-P2", 3)
    assert only.since == T0 and only.last_seen == T0.replace(minute=2)


def test_distinct_problems_of_one_kind_add_up_and_a_new_message_is_logged_again(caplog):
    found, registry, _ = problems()
    caplog.set_level(logging.WARNING, logger="services.kernel.problems")

    found.report("unknown_sla_policy", "a", subject="x-P2")
    found.report("unknown_sla_policy", "b", subject="y-P3")
    found.report("roster_reload", "line 3: bad", subject="roster.yaml")
    found.report("roster_reload", "line 9: worse", subject="roster.yaml")  # another edit

    assert sample(registry, "complaintflow_config_problems", kind="unknown_sla_policy") == 2
    assert sample(registry, "complaintflow_config_problems", kind="roster_reload") == 1
    assert len(caplog.records) == 4
    assert [p.message for p in found.current() if p.kind == "roster_reload"] == ["line 9: worse"]


def test_a_cleared_problem_is_gone_from_the_list_and_the_gauge_but_stays_counted(caplog):
    found, registry, _ = problems()
    caplog.set_level(logging.INFO, logger="services.kernel.problems")
    found.report("roster_reload", "bad", subject="roster.yaml")

    found.clear("roster_reload", subject="roster.yaml")
    found.clear("roster_reload", subject="roster.yaml")  # clearing what is absent: nothing

    assert found.current() == []
    assert sample(registry, "complaintflow_config_problems", kind="roster_reload") == 0
    assert sample(registry, "complaintflow_config_errors_total", kind="roster_reload") == 1
    resolved = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(resolved) == 1 and "resolved" in resolved[0]

    # And it is logged again if it comes back
    found.report("roster_reload", "bad", subject="roster.yaml")
    assert sum(r.levelno == logging.WARNING for r in caplog.records) == 2


def test_readyz_stays_ready_and_lists_each_problem_on_its_own_line():
    found, _, clock = problems()
    assert readyz_body(True, []) == "ready\n"
    found.report("roster_reload", "roster.yaml:3: bad\n  roster.yaml:9: worse", subject="r.yaml")
    clock.advance(1)
    found.report("calendar", "no working time", subject="shanghai")

    body = readyz_body(True, found.current())

    lines = body.splitlines()
    assert lines[0] == "ready, degraded: 2 configuration problems"
    assert lines[1].startswith("- roster_reload r.yaml: roster.yaml:3: bad")
    assert lines[2].startswith("      roster.yaml:9: worse (since 2026-03-15T08:00:00+00:00")
    assert lines[3].startswith("- calendar shanghai: no working time")
    assert readyz_body(False, found.current()).startswith("not ready, degraded")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_ops_endpoints_show_the_problems_of_a_ready_worker():
    found, registry, _ = problems()
    ready = [True]
    ops = OpsServer(
        registry,
        host="127.0.0.1",
        port=0,
        healthy=lambda: True,
        ready=lambda: ready[0],
        problems=found.current,
        worker="routing",
    ).start()
    try:
        assert get(f"{ops.url}/readyz") == (200, "ready\n")

        found.report("roster_reload", "roster.yaml:3: bad", subject="roster.yaml")

        status, body = get(f"{ops.url}/readyz")
        assert status == 200 and "roster_reload roster.yaml: roster.yaml:3: bad" in body
        status, body = get(f"{ops.url}/statusz")
        said = json.loads(body)
        assert status == 200 and said["ready"] is True and said["degraded"] is True
        assert said["problems"][0]["kind"] == "roster_reload"
        assert said["problems"][0]["since"] == T0.isoformat()
        _, metrics = get(f"{ops.url}/metrics")
        assert 'complaintflow_config_problems{kind="roster_reload",worker="routing"} 1.0' in metrics

        ready[0] = False  # a worker not ready says so, problems or not
        assert get(f"{ops.url}/readyz")[0] == 503
    finally:
        ops.stop()


def test_a_handler_reports_a_problem_once_its_transaction_commits(tmp_path):
    registry = CollectorRegistry()
    handler = Handler(Settings(home=tmp_path), registry, FrozenClock(T0))

    # When a problem is met in a transaction that rolls back
    handler.hooks.begin()
    handler.config_problem("calendar", "no working time", subject="shanghai")
    handler.hooks.rolled_back()
    # Then nothing is shown or counted: the work is tried again
    assert handler.problems.current() == []
    assert (
        registry.get_sample_value(
            "complaintflow_config_errors_total", {"worker": "worker", "kind": "calendar"}
        )
        is None
    )

    # When the retry meets it and commits, Then it is reported once
    handler.hooks.begin()
    handler.config_problem("calendar", "no working time", subject="shanghai")
    handler.hooks.committed()
    assert [p.subject for p in handler.problems.current()] == ["shanghai"]
    assert (
        registry.get_sample_value(
            "complaintflow_config_errors_total", {"worker": "worker", "kind": "calendar"}
        )
        == 1
    )

    # And it is cleared the same way
    handler.hooks.begin()
    handler.config_fixed("calendar", subject="shanghai")
    handler.hooks.committed()
    assert handler.problems.current() == []
