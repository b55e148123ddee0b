"""The Grafana dashboards: valid PromQL (by promtool), only exported metrics, provisioned."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

from tests.deploy.tools import DEPLOY, exported_metrics, metric_names, recorded_metrics, run, tool

GRAFANA = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def panels(dashboard: dict[str, object]) -> Iterator[dict[str, object]]:
    """Every panel that queries, rows included."""
    for panel in dashboard["panels"]:  # type: ignore[attr-defined]
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def queries() -> list[tuple[str, str]]:
    """(where, expr) of every panel target of every dashboard."""
    out = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in panels(board):
            for target in panel["targets"]:  # type: ignore[attr-defined]
                out.append((f"{path.name}: {panel['title']} {target['refId']}", target["expr"]))
    return out


def test_every_panel_query_is_valid_promql(tmp_path: Path):
    # Given promtool, and every panel query as a recording rule of a scratch rule file
    promtool = tool("promtool", "prometheus")
    found = queries()
    assert len(found) >= 10
    rules = [{"record": f"panel:query_{i}", "expr": expr} for i, (_, expr) in enumerate(found)]
    scratch = tmp_path / "panels.yml"
    scratch.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    # When promtool checks it, then every query parses
    result = run(promtool, "check", "rules", str(scratch))
    assert f"SUCCESS: {len(found)} rules found" in result.stdout


def test_every_panel_reads_only_metrics_the_workers_export():
    known = exported_metrics() | recorded_metrics()
    for where, expr in queries():
        own = re.search(r"\b(up|ALERTS)\{", expr)  # Prometheus's own series
        assert metric_names(expr) or own, f"{where} reads no complaintflow metric: {expr}"
        assert metric_names(expr) <= known, f"{where} reads {metric_names(expr) - known}"


def test_dashboards_use_the_provisioned_datasource_and_are_distinct():
    sources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    uid = sources["datasources"][0]["uid"]
    uids = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        uids.append(board["uid"])
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
        for panel in panels(board):
            assert panel["datasource"]["uid"] == uid, f"{path.name}: {panel['title']}"
            assert panel["title"] and panel["targets"]
            for target in panel["targets"]:  # type: ignore[attr-defined]
                assert target["datasource"]["uid"] == uid
    assert len(uids) == len(set(uids)) and len(DASHBOARDS) >= 2


def test_the_dashboards_cover_what_an_sre_watches():
    read = set().union(*(metric_names(expr) for _, expr in queries()))
    for needed in (
        "complaintflow:events_processed:rate5m",  # flow per stage
        "complaintflow:dead_letters:increase15m",
        "complaintflow:consumer_lag:sum",
        "complaintflow_ready",
        "complaintflow:sla_escalations:increase10m",
        "complaintflow_sla_breaches_total",
        "complaintflow_notifications_total",
        "complaintflow:emerging_issues:increase1h",
    ):
        assert needed in read, f"no panel reads {needed}"
