"""A clock the test moves and processes that exit when the test says so, for the supervisor."""

from __future__ import annotations

import itertools
import signal
from dataclasses import dataclass

from services.devstack.stack import ProcessInfo


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeChild:
    """A process that exits when the test says so."""

    pid: int
    code: int | None = None

    def poll(self) -> int | None:
        return self.code

    def send_signal(self, sig: int) -> None:
        self.code = -sig

    def wait(self, timeout: float | None = None) -> int:
        assert self.code is not None
        return self.code

    def kill(self) -> None:
        self.code = -signal.SIGKILL


class FakeSpawner:
    def __init__(self) -> None:
        self.pids = itertools.count(100)
        self.children: dict[str, FakeChild] = {}
        self.failing = False

    def __call__(self, name: str) -> tuple[ProcessInfo, FakeChild]:
        if self.failing:
            raise OSError(24, "Too many open files")
        child = FakeChild(next(self.pids))
        self.children[name] = child
        return ProcessInfo(name, child.pid), child
