"""The live view of `make run` shows a supervised worker that is down, and its restarts."""

from __future__ import annotations

import os
import signal

from rich.console import Console

from services.devstack.dashboard import Dashboard
from services.devstack.ports import free_port
from services.devstack.stack import StackState
from services.devstack.supervise import Supervisor
from tests.unit.devstack.fakes import Clock, FakeSpawner


def _text(board: Dashboard) -> str:
    console = Console(record=True, width=200)
    console.print(board.render())
    return console.export_text()


def test_a_down_worker_shows_how_it_ended_and_a_restarted_one_its_count():
    # Given two supervised workers, alive, whose metrics nobody answers yet (a closed port)
    url = f"http://127.0.0.1:{free_port()}"

    def spawn(name: str):
        info, child = fake(name)
        info.pid, info.metrics_url = os.getpid(), url
        return info, child

    clock, fake = Clock(), FakeSpawner()
    sup = Supervisor(spawn, clock=clock)
    state = StackState("/tmp/unused", "127.0.0.1:9", "postgresql://unused")
    state.workers = sup.start(["intake", "analytics"])
    board = Dashboard(state, sup)

    # When analytics is killed
    fake.children["analytics"].code = -signal.SIGKILL
    sup.check()
    state.workers = sup.workers

    # Then the view says it is down, how it ended and when it comes back
    rows = {line.split()[1]: line for line in _text(board).splitlines() if "│ " in line}
    assert "down (killed by SIGKILL), restart in 1 s" in rows["analytics"]
    assert "starting" in rows["intake"] and "down" not in rows["intake"]

    # And once restarted, it counts one restart
    clock.now += 1
    sup.check()
    state.workers = sup.workers
    rows = {line.split()[1]: line for line in _text(board).splitlines() if "│ " in line}
    assert rows["analytics"].split("│")[3].strip() == "1"
    assert rows["intake"].split("│")[3].strip() == "0"
