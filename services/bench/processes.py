"""The processes a bench stage starts, stopped however the stage ends, and Ctrl-C or SIGTERM
turned into that orderly end: a run interrupted mid-stage leaves no worker behind."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from services.devstack.ports import stop_children

GRACE_S = 30.0
"""Seconds a process has after SIGTERM (a worker commits its poll in flight) before SIGKILL."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM reached the run: it stops what it started and exits 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM raise `Interrupted` in the main thread, the first of them only: one
    that comes while the stopping runs is ignored, so the stopping (bounded by its grace
    periods) is not cut short. The handlers found are put back on leaving."""
    seen: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        if not seen:
            seen.append(signum)
            raise Interrupted(signum)

    before = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


class Processes:
    """Owns the processes one stage starts. On leaving — the stage done, failed or
    interrupted — every one still running gets SIGTERM, then SIGKILL after `grace` seconds,
    and is reaped. An interruption leaving it is told what was stopped (an exception note)."""

    def __init__(self, *, grace: float = GRACE_S) -> None:
        self.grace = grace
        self.started: dict[subprocess.Popen[bytes], str] = {}
        """Each process started, with its name."""

    def start(self, name: str, args: list[str], **popen: Any) -> subprocess.Popen[bytes]:
        """Start `args` (keywords as `subprocess.Popen`'s), owned from here on."""
        proc: subprocess.Popen[bytes] = subprocess.Popen(args, **popen)
        self.started[proc] = name
        return proc

    def stop(self, *procs: subprocess.Popen[bytes]) -> list[str]:
        """Stop the processes given (all when none is) that still run; their names."""
        stopped = stop_children(list(procs or self.started), self.grace)
        return [self.started[p] for p in stopped]

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stopped = self.stop()
        if isinstance(exc, KeyboardInterrupt) and stopped:
            many = "es" if len(stopped) > 1 else ""
            exc.add_note(f"{len(stopped)} process{many} ({', '.join(stopped)})")
