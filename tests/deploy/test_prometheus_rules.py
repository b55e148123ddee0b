"""The Prometheus configuration, recording and alert rules: valid, unit-tested, documented."""

from __future__ import annotations

import json
import re

import yaml

from services.commands.workers import WORKERS
from tests.deploy.tools import (
    PROMETHEUS,
    ROOT,
    RULE_FILES,
    alert_rules,
    exported_metrics,
    metric_names,
    recorded_metrics,
    run,
    tool,
)

RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*_test.yml"))


def test_configuration_and_rules_are_valid():
    # Given promtool from Debian's prometheus package
    promtool = tool("promtool", "prometheus")
    # When it checks the configuration (which loads the rule files) and each rule file
    # Then each is valid
    run(promtool, "check", "config", "prometheus.yml", cwd=PROMETHEUS)
    checked = run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert checked.stdout.count("SUCCESS") == len(RULE_FILES)


def test_rule_unit_tests_pass():
    promtool = tool("promtool", "prometheus")
    assert RULE_TESTS, "no promtool rule tests in deploy/prometheus/tests"
    result = run(promtool, "test", "rules", *(p.name for p in RULE_TESTS), cwd=PROMETHEUS / "tests")
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS), result.stdout


def test_every_alert_has_a_case_that_fires_it_and_one_that_does_not():
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {str(rule["alert"]) for rule in alert_rules()}
    assert names - fires == set(), "alerts no test fires"
    assert names - quiet == set(), "alerts no test shows quiet"


def test_every_alert_is_documented_with_a_runbook_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    anchors = {_anchor(h) for h in re.findall(r"^#+ (.+)$", readme, flags=re.M)}
    for rule in alert_rules():
        notes = rule["annotations"]
        assert isinstance(notes, dict)
        assert notes.get("summary") and notes.get("description"), rule["alert"]
        link = str(notes.get("runbook_url", ""))
        page, _, anchor = link.partition("#")
        assert page == "README.md" and anchor in anchors, f"{rule['alert']}: {link}"
        assert anchor == _anchor(str(rule["alert"]))
        assert rule["labels"]["severity"] in {"page", "warning", "business"}  # type: ignore[index]


def test_rules_read_only_metrics_the_workers_export():
    known = exported_metrics() | recorded_metrics()
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                unknown = metric_names(rule["expr"]) - known
                assert not unknown, f"{rule.get('record') or rule.get('alert')} reads {unknown}"


def test_the_example_targets_name_every_worker():
    groups = json.loads((PROMETHEUS / "targets" / "complaintflow.json.example").read_text())
    assert {g["labels"]["worker"] for g in groups} == set(WORKERS)
    keep = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())["scrape_configs"][0]
    assert keep["job_name"] == "complaintflow"
    assert set(keep["relabel_configs"][0]["regex"].split("|")) == set(WORKERS)


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
