"""A worker process reports a configuration problem it runs on with, and clears it when fixed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from schemas.envelope import complaint_id_for
from services.devstack.stack import ProcessInfo, StackState
from services.routing.rulebook import CONFIG_DIR
from tests.conftest import WorkerProcess, settings_env, wait_for, wait_ready
from tests.e2e.test_pipeline import metric, new_complaint, submit
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.e2e


def readyz(w: WorkerProcess) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"{w.metrics_url}/readyz", timeout=5) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()


def rewrite(path: Path, text: str) -> None:
    # Move the mtime on explicitly: two writes within the clock's resolution look unchanged.
    before = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def stack_status(cf, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "services.commands.cli", "stack", "status", *args],
        env=settings_env(cf),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


def test_a_roster_that_fails_to_reload_is_reported_until_it_loads_again(
    cf, worker_factory, tmp_path
):
    # Given the routing worker following a roster file, and intake in front of it
    roster = tmp_path / "roster.yaml"
    good = (CONFIG_DIR / "roster.yaml").read_text(encoding="utf-8")
    roster.write_text(good, encoding="utf-8")
    routing = worker_factory("routing", cf, CF_ROUTING_ROSTER_PATH=str(roster))
    wait_ready([worker_factory("intake", cf), routing])
    assert readyz(routing) == (200, "ready\n")
    # (and `stack status` knows where it is, as it does for the workers `make run` starts)
    state = StackState(str(cf.home), cf.kafka_bootstrap_servers or "", cf.db_url())
    state.workers = [ProcessInfo("routing", routing.proc.pid, routing.metrics_url)]
    state.save()

    # When the roster is edited into YAML that does not parse
    rewrite(roster, good + "  - {id: [unclosed\n")

    # Then routing stays ready, and /readyz, the metrics and `stack status` name the problem
    def reported() -> tuple[int, str] | None:
        answer = readyz(routing)
        return answer if "roster_reload" in answer[1] else None

    status, body = wait_for(reported, timeout=120, what="the broken roster on /readyz")
    assert status == 200 and body.startswith("ready, degraded: 1 configuration problem\n")
    assert f"- roster_reload {roster}: {roster}:" in body
    text = routing.metrics()
    labels = {"worker": "routing", "kind": "roster_reload"}
    assert metric(text, "complaintflow_config_problems", **labels) == 1
    assert metric(text, "complaintflow_config_errors_total", **labels) == 1
    said = json.loads(stack_status(cf, "--json"))["workers"][0]
    assert said["ready"] is True and said["degraded"] is True
    assert [(p["kind"], p["subject"]) for p in said["problems"]] == [("roster_reload", str(roster))]
    shown = stack_status(cf)
    assert "ready, degraded: 1 configuration problem" in shown
    assert f"- roster_reload {roster}: {roster}:" in shown

    # And complaints still get an owner, from the last roster that loaded
    routed = TopicReader(cf, "complaints.routed.v1")
    submit(cf, [new_complaint("CFG-1", "cfg1", "billing", "账单多扣了200元")])
    cid = complaint_id_for("e2e-cc", "CFG-1")
    decision = wait_for(
        lambda: next(
            (d for m in routed.poll() if (d := json.loads(m.value))["complaint_id"] == cid), None
        ),
        what="the routing decision made while the roster is broken",
    )
    assert isinstance(decision, dict) and decision["owner"] is not None

    # When the file is put right
    rewrite(roster, good)

    # Then the problem is cleared everywhere, and the count of errors stays
    wait_for(lambda: readyz(routing) == (200, "ready\n"), timeout=120, what="/readyz cleared")
    text = routing.metrics()
    assert metric(text, "complaintflow_config_problems", **labels) == 0
    assert metric(text, "complaintflow_config_errors_total", **labels) == 1
    said = json.loads(stack_status(cf, "--json"))["workers"][0]
    assert said["degraded"] is False and said["problems"] == []
    assert "roster_reload" not in stack_status(cf)
    assert "is resolved" in routing.log.read_text()
