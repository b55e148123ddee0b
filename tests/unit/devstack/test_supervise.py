"""The supervisor of `complaintflow run`: a worker that exits is shown down and restarted with
backoff, on a clock the test moves (and once with a real process killed -9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from services.devstack.ports import alive
from services.devstack.stack import ProcessInfo, StackState
from services.devstack.supervise import Backoff, Supervisor, Watch
from tests.conftest import wait_for
from tests.unit.devstack.fakes import Clock, FakeSpawner


def test_backoff_doubles_from_one_second_up_to_a_minute():
    assert [Backoff().delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_quick_exits_in_a_row_double_the_wait_and_a_long_run_resets_it():
    backoff = Backoff(stable_after=60)
    watch = Watch("routing", started_at=0)
    # Given a worker that dies soon after each start
    waits = []
    now = 0.0
    for _ in range(4):
        now += 5
        waits.append(watch.exited(1, now, backoff))
        assert not watch.due(now + waits[-1] - 0.01) and watch.due(now + waits[-1])
        now += waits[-1]
        watch.restarted(now)
    assert waits == [1, 2, 4, 8] and watch.restarts == 4
    # When it then runs for longer than `stable_after` before it exits
    now += 61
    # Then the next wait is the first one again
    assert watch.exited(-9, now, backoff) == 1


def test_an_exited_worker_is_shown_down_then_restarted_after_its_wait_and_counted():
    clock, spawn = Clock(), FakeSpawner()
    sup = Supervisor(spawn, clock=clock)
    first = {w.name: w.pid for w in sup.start(["intake", "analytics"])}
    assert sup.check() is False

    # When analytics is killed
    spawn.children["analytics"].code = -signal.SIGKILL
    clock.now += 0.5

    # Then it is down, with how it ended, and not yet restarted
    assert sup.check() is True
    assert sup.describe("analytics") == "down (killed by SIGKILL), restart in 1 s"
    assert sup.describe("intake") is None
    clock.now += 0.9
    assert sup.check() is False

    # And once its wait is over it is started again, the restart recorded on its process
    clock.now += 0.1
    assert sup.check() is True
    assert sup.describe("analytics") is None
    analytics = {w.name: w for w in sup.workers}["analytics"]
    assert analytics.pid != first["analytics"]
    assert (analytics.restarts, analytics.last_exit) == (1, -signal.SIGKILL)
    assert {w.name: w.pid for w in sup.workers}["intake"] == first["intake"]


def test_a_worker_that_keeps_failing_waits_longer_each_time_up_to_the_cap():
    clock, spawn = Clock(), FakeSpawner()
    sup = Supervisor(spawn, clock=clock, backoff=Backoff(initial=1, cap=8))
    sup.start(["analytics"])
    waits = []
    for _ in range(6):
        spawn.children["analytics"].code = 2  # e.g. its configuration is wrong
        sup.check()
        waits.append(sup.watches["analytics"].restart_at - clock.now)
        clock.now = sup.watches["analytics"].restart_at
        sup.check()
    assert waits == [1, 2, 4, 8, 8, 8]
    assert sup.workers[0].restarts == 6


def test_a_start_that_fails_is_tried_again_later():
    clock, spawn = Clock(), FakeSpawner()
    sup = Supervisor(spawn, clock=clock)
    sup.start(["routing"])
    spawn.children["routing"].code = 1
    sup.check()
    spawn.failing = True
    clock.now += 1
    sup.check()
    assert sup.describe("routing") == "down (did not start), restart in 2 s"
    spawn.failing = False
    clock.now += 2
    sup.check()
    assert sup.describe("routing") is None and sup.workers[0].restarts == 1


def test_stop_ends_every_running_worker_and_no_restart_follows():
    clock, spawn = Clock(), FakeSpawner()
    sup = Supervisor(spawn, clock=clock)
    sup.start(["intake", "routing"])
    sup.stop(timeout=1)
    assert all(c.code == -signal.SIGTERM for c in spawn.children.values())
    clock.now += 100
    assert sup.check() is False


def test_an_instance_joins_and_a_retired_one_leaves_for_good():
    clock, spawn = Clock(), FakeSpawner()
    sup = Supervisor(spawn, clock=clock)
    sup.start(["routing"])
    # A second instance joins while the first runs, then leaves (SIGTERM)
    sup.start(["routing#2"])
    assert [w.name for w in sup.workers] == ["routing", "routing#2"]
    sup.retire("routing#2")
    assert spawn.children["routing#2"].code == -signal.SIGTERM
    # It is not restarted: the supervisor no longer watches it
    clock.now += 100
    assert sup.check() is False
    assert [w.name for w in sup.workers] == ["routing"]


def test_restarts_are_kept_in_the_state_file_and_older_files_still_read(tmp_path):
    # Given a state with a restarted worker, saved and read back
    state = StackState(str(tmp_path), "b", "d")
    state.workers = [ProcessInfo("analytics", 7, restarts=3, last_exit=-signal.SIGKILL)]
    state.save()
    loaded = StackState.load(tmp_path)
    assert loaded is not None and loaded.workers == state.workers
    assert loaded.status()["workers"][0]["restarts"] == 3  # what `stack status --json` shows

    # And a file written before restarts were recorded still reads, with none
    old = {"home": str(tmp_path), "bootstrap_servers": "b", "database_url": "d"}
    old["workers"] = [{"name": "intake", "pid": 1, "metrics_url": None}]
    (tmp_path / "stack.json").write_text(json.dumps(old))
    loaded = StackState.load(tmp_path)
    assert loaded is not None and loaded.workers == [ProcessInfo("intake", 1)]


def _sleeper(name: str) -> tuple[ProcessInfo, subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import signal; signal.pause()"], start_new_session=True
    )
    return ProcessInfo(name, proc.pid), proc


@pytest.mark.timeout(60)
def test_a_real_worker_process_killed_9_is_restarted():
    # Given a supervised real process
    sup = Supervisor(_sleeper, backoff=Backoff(initial=0.2))
    try:
        (first,) = sup.start(["sleeper"])
        assert alive(first.pid)

        # When it is killed -9
        os.kill(first.pid, signal.SIGKILL)

        # Then the supervisor notices and starts a new process, counting the restart
        def restarted() -> bool:
            sup.check()
            return sup.workers[0].restarts == 1

        wait_for(restarted, timeout=20, what="restart of the killed process")
        again = sup.workers[0]
        assert again.pid != first.pid and alive(again.pid)
        assert again.last_exit == -signal.SIGKILL
    finally:
        sup.stop(timeout=10)
    assert not alive(again.pid)
