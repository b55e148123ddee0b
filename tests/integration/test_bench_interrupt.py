"""`make bench` interrupted mid-stage: Ctrl-C stops the stage's workers and the broker and
database the run started for itself, says so, and the run exits 130."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from services.bench.measure import descendants
from services.commands.workers import WORKERS
from tests.conftest import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _process(pid: int) -> tuple[int, str] | None:
    """(start time in clock ticks since boot, command line) of a live process; None when it
    is gone or a zombie. The start time tells it from a later process given the same pid."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None
    return None if fields[0] == "Z" else (int(fields[19]), cmdline)


def _still_there(pid: int, start: int) -> bool:
    """Whether the process that started at `start` under this pid still runs."""
    now = _process(pid)
    return now is not None and now[0] == start


def _tree(pid: int) -> dict[int, tuple[int, str]]:
    """Every live process under `pid`, as `_process` sees it."""
    found = {p: _process(p) for p in descendants(pid)}
    return {p: seen for p, seen in found.items() if seen is not None}


def _workers(tree: dict[int, tuple[int, str]]) -> set[str]:
    """The names of the worker processes in `tree`."""
    marker = "services.commands.cli worker "
    return {cmd.split(marker, 1)[1] for _, cmd in tree.values() if marker in cmd}


def test_ctrl_c_mid_stage_stops_its_workers_the_broker_and_the_database(tmp_path):
    # Given a bench run of the pipeline stage on a broker and database of its own (not the
    # suite's: those it must stop)
    env = {
        k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")
    }
    out = tmp_path / "bench.out"
    with out.open("wb") as fh:
        bench = subprocess.Popen(
            [sys.executable, "-m", "services.bench", "--only", "pipeline"]
            + ["--pipeline-complaints", "100", "--out", str(tmp_path / "results")],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    seen: dict[int, tuple[int, str]] = {}
    try:
        # When Ctrl-C reaches it once the stage has started every worker
        def started() -> bool:
            now = _tree(bench.pid)
            seen.update(now)
            if bench.poll() is not None:
                pytest.fail(f"the bench exited with {bench.returncode}: {out.read_text()}")
            return _workers(now) == set(WORKERS)

        wait_for(started, timeout=180, what=lambda: f"the stage's workers:\n{out.read_text()}")
        seen.update(_tree(bench.pid))
        commands = [cmd for _, cmd in seen.values()]
        assert any("kafka.Kafka" in cmd for cmd in commands), commands
        assert any("postgres" in cmd for cmd in commands), commands
        bench.send_signal(signal.SIGINT)

        # Then it exits 130, saying what it stopped, and nothing it started is left
        assert bench.wait(timeout=120) == 130, out.read_text()
        said = out.read_text()
        stopped = f"stopped {len(WORKERS)} processes ("
        assert f"Interrupted by SIGINT at stage 1/1 (pipeline): {stopped}" in said
        assert "; the broker (pid " in said and ") and the database (pid " in said
        left = [cmd for pid, (start, cmd) in seen.items() if _still_there(pid, start)]
        assert left == []
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        for pid, (start, _) in seen.items():  # whatever a failed run left behind
            if _still_there(pid, start):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
