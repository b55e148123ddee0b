"""Supervision of the workers `complaintflow run` starts: one that exits is started again.

`Backoff` and `Watch` decide when, from times they are given and no clock of their own;
`Supervisor` applies those decisions to real processes, once per turn of the live view.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from services.devstack.ports import Child, describe_exit, stop_children
from services.devstack.stack import ProcessInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """How long to wait before a restart: `initial`, doubled per quick exit, up to `cap`."""

    initial: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    stable_after: float = 60.0
    """A worker that ran this long before it exited is started again after `initial`."""

    def delay(self, failures: int) -> float:
        """The wait after the `failures`-th quick exit in a row (1, 2, 3 …)."""
        return min(self.cap, self.initial * self.factor ** max(0, failures - 1))


@dataclass
class Watch:
    """What the supervisor knows of one worker. Every method is told the time."""

    name: str
    started_at: float
    restarts: int = 0
    failures: int = 0
    """Exits in a row, each before the worker had run `stable_after` seconds."""
    exit_code: int | None = None
    """Status of the last exit (None: the last start failed)."""
    down_since: float | None = None
    restart_at: float | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def exited(self, code: int | None, now: float, backoff: Backoff) -> float:
        """Note an exit (or a failed start) at `now`; the wait before the restart."""
        if now - self.started_at >= backoff.stable_after:
            self.failures = 0
        self.failures += 1
        delay = backoff.delay(self.failures)
        self.exit_code, self.down_since, self.restart_at = code, now, now + delay
        return delay

    def due(self, now: float) -> bool:
        """True once a down worker's wait is over."""
        return self.restart_at is not None and now >= self.restart_at

    def restarted(self, now: float) -> None:
        self.restarts += 1
        self.started_at, self.down_since, self.restart_at = now, None, None

    def describe(self, now: float) -> str:
        """`down (killed by SIGKILL), restart in 4 s`, for the live view."""
        wait = max(0.0, (self.restart_at or now) - now)
        return f"down ({describe_exit(self.exit_code)}), restart in {wait:.0f} s"


Spawn = Callable[[str], tuple[ProcessInfo, Child]]


class Supervisor:
    """Starts workers, notices the ones that exit, and starts them again after a backoff."""

    def __init__(
        self,
        spawn: Spawn,
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
    ) -> None:
        self._spawn = spawn
        self._clock = clock
        self.backoff = backoff or Backoff()
        self.watches: dict[str, Watch] = {}
        self._infos: dict[str, ProcessInfo] = {}
        self._children: dict[str, Child] = {}
        self._lock = threading.RLock()
        """Workers may be started and retired while another thread checks them."""

    @property
    def workers(self) -> list[ProcessInfo]:
        """The current process of each worker (the last one, while it is down)."""
        with self._lock:
            return list(self._infos.values())

    def start(self, names: Iterable[str]) -> list[ProcessInfo]:
        """Start each worker once."""
        now = self._clock()
        with self._lock:
            for name in names:
                self.watches[name] = Watch(name, started_at=now)
                self._infos[name], self._children[name] = self._spawn(name)
        return self.workers

    def retire(self, name: str, timeout: float = 30) -> None:
        """Stop one worker for good (SIGTERM: it leaves its group as in a scale-in) and stop
        watching it."""
        with self._lock:
            child = self._children.pop(name)
            self.watches.pop(name, None)
            self._infos.pop(name, None)
        stop_children([child], timeout)

    def check(self) -> bool:
        """One turn: note workers that exited, restart those whose wait is over.

        True when anything changed (the caller records the new processes).
        """
        with self._lock:
            return self._check()

    def _check(self) -> bool:
        now = self._clock()
        changed = False
        for name, watch in self.watches.items():
            if not watch.down:
                code = self._children[name].poll()
                if code is None:
                    continue
                info = self._infos[name]
                info.last_exit = code
                delay = watch.exited(code, now, self.backoff)
                log.warning(
                    "worker %s (pid %d) is down: %s after %.0f s; restart #%d in %.0f s",
                    name,
                    info.pid,
                    describe_exit(code),
                    now - watch.started_at,
                    watch.restarts + 1,
                    delay,
                )
                changed = True
            if watch.due(now):
                self._restart(watch, now)
                changed = True
        return changed

    def _restart(self, watch: Watch, now: float) -> None:
        try:
            info, child = self._spawn(watch.name)
        except OSError as exc:
            watch.started_at = now
            delay = watch.exited(None, now, self.backoff)
            log.error(
                "worker %s could not be started (%s); next try in %.0f s", watch.name, exc, delay
            )
            return
        watch.restarted(now)
        info.restarts, info.last_exit = watch.restarts, watch.exit_code
        self._infos[watch.name], self._children[watch.name] = info, child
        log.warning(
            "worker %s restarted as pid %d (restart #%d)", watch.name, info.pid, watch.restarts
        )

    def describe(self, name: str) -> str | None:
        """Why a worker is down and when it comes back, or None while it runs."""
        watch = self.watches.get(name)
        return watch.describe(self._clock()) if watch is not None and watch.down else None

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to every running worker, SIGKILL to those still running after `timeout`."""
        stop_children(list(self._children.values()), timeout)
        self.watches.clear()
