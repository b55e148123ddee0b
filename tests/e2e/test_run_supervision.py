"""`complaintflow run` keeps its workers running: one killed -9 is restarted and counted."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from services.commands.workers import WORKERS
from services.devstack.ports import alive
from services.kernel.sealing import fingerprint
from tests.conftest import settings_env, wait_for

pytestmark = pytest.mark.e2e


def _workers(home: Path) -> dict[str, dict[str, Any]]:
    """The workers recorded in `stack.json`, by name (empty until `run` has started them)."""
    try:
        state = json.loads((home / "stack.json").read_text())
    except (OSError, ValueError):
        return {}
    return {w["name"]: w for w in state.get("workers", [])}


def _ready(worker: dict[str, Any]) -> bool:
    try:
        with urllib.request.urlopen(f"{worker['metrics_url']}/readyz", timeout=2) as resp:
            return int(resp.status) == 200
    except OSError:
        return False


def test_run_restarts_a_worker_killed_9_and_stops_everything_on_ctrl_c(cf, tmp_path):
    # Given `complaintflow run` on the suite's broker and database, a fresh home, no CF_PII_KEY
    home = tmp_path / "home"
    env = settings_env(cf.model_copy(update={"home": home, "pii_key": None}))
    out = tmp_path / "run.out"
    with out.open("wb") as fh:
        run = subprocess.Popen(
            [sys.executable, "-m", "services.commands.cli", "run", "--no-simulate"],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    seen: set[int] = set()
    try:
        wait_for(
            lambda: (
                len(_workers(home)) == len(WORKERS)
                and all(_ready(w) for w in _workers(home).values())
            ),
            timeout=90,
            what="all workers of `run` ready",
        )
        first = _workers(home)
        seen |= {w["pid"] for w in first.values()}
        assert all(w["restarts"] == 0 for w in first.values())

        # When one worker is killed -9
        os.kill(first["analytics"]["pid"], signal.SIGKILL)

        # Then `run` starts it again, records the restart and how the last one ended
        wait_for(
            lambda: _workers(home)["analytics"]["restarts"] == 1,
            timeout=120,
            what="analytics restarted",
        )
        again = _workers(home)
        seen |= {w["pid"] for w in again.values()}
        assert again["analytics"]["pid"] != first["analytics"]["pid"]
        assert again["analytics"]["last_exit"] == -signal.SIGKILL
        wait_for(lambda: _ready(again["analytics"]), timeout=120, what="restarted analytics ready")
        assert {n: w["pid"] for n, w in again.items() if n != "analytics"} == {
            n: w["pid"] for n, w in first.items() if n != "analytics"
        }
        status = subprocess.run(
            [sys.executable, "-m", "services.commands.cli", "stack", "status"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        assert "restarts 1 (last: killed by SIGKILL)" in status
        run_log = (home / "logs" / "run.log").read_text()
        assert f"worker analytics (pid {first['analytics']['pid']}) is down: killed by SIGKILL" in (
            run_log
        )
        assert f"worker analytics restarted as pid {again['analytics']['pid']}" in run_log

        # And the key `run` made before starting them is the one every worker read
        key = (home / "pii.key").read_bytes()
        logs = home / "logs"
        for name in WORKERS:
            assert f"(fingerprint {fingerprint(key)})" in (logs / f"{name}.log").read_text()

        # When Ctrl-C reaches `run`
        run.send_signal(signal.SIGINT)

        # Then it stops every worker, old and new, and exits cleanly
        assert run.wait(timeout=90) == 0
        assert [pid for pid in seen if alive(pid)] == []
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            try:
                run.wait(timeout=60)
            except subprocess.TimeoutExpired:
                run.kill()
                run.wait()
        for w in _workers(home).values():  # whatever is still recorded
            seen.add(w["pid"])
        for pid in seen:
            with contextlib.suppress(ProcessLookupError):
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
