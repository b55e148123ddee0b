"""The faults a chaos run injects: a worker killed (-9) or stopped (SIGTERM) mid-work, every
database connection of the workers cut, the broker stopped and started again."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from services.devstack.ports import stop_process
from services.devstack.supervise import Supervisor

KINDS = ("kill -9", "SIGTERM", "database connections cut", "broker restarted")


@dataclass(frozen=True)
class Injected:
    at: float
    """Seconds since the run began."""
    kind: str
    detail: str


class Broker:
    """The broker a chaos run owns: it may stop it and start it again on the same port."""

    def __init__(self, home: Path) -> None:
        from services.devstack.local_kafka import LocalKafka

        self.home = home
        self.kafka = LocalKafka(home, heap="512m").start()

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap

    def restart(self) -> None:
        """Stopped (SIGTERM) and started again on the same ports and log directory."""
        assert self.kafka.proc is not None
        stop_process(self.kafka.proc.pid, signal.SIGTERM, 60)
        self.kafka.proc.wait()
        self.kafka.start()

    def stop(self) -> None:
        if self.kafka.proc is not None and self.kafka.proc.poll() is None:
            stop_process(self.kafka.proc.pid, signal.SIGTERM, 60)


class Injector:
    """Picks and injects faults with its own seeded random source."""

    def __init__(
        self,
        *,
        seed: int,
        supervisor: Supervisor,
        database_url: str,
        broker: Broker | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rng = random.Random(seed)
        self.supervisor, self.database_url, self.broker = supervisor, database_url, broker
        self.started = clock()
        self.clock = clock
        self.injected: list[Injected] = []
        self.kinds = [k for k in KINDS if broker is not None or k != "broker restarted"]

    def kinds_left(self, plan: int) -> list[str]:
        """The next `plan` kinds: each kind in turn (every kind is tried), in a seeded order."""
        out: list[str] = []
        while len(out) < plan:
            batch = list(self.kinds)
            self.rng.shuffle(batch)
            out += batch
        return out[:plan]

    def inject(self, kind: str) -> Injected:
        if kind in ("kill -9", "SIGTERM"):
            sig = signal.SIGKILL if kind == "kill -9" else signal.SIGTERM
            running = [w for w in self.supervisor.workers if w.alive()]
            victim = self.rng.choice(running or self.supervisor.workers)
            try:
                os.kill(victim.pid, sig)
                detail = f"{victim.name} (pid {victim.pid})"
            except ProcessLookupError:
                detail = f"{victim.name} (already gone)"
        elif kind == "database connections cut":
            detail = f"{self._cut_connections()} connection(s)"
        else:
            assert self.broker is not None
            began = self.clock()
            self.broker.restart()
            detail = f"down and back in {self.clock() - began:.1f} s"
        done = Injected(round(self.clock() - self.started, 1), kind, detail)
        self.injected.append(done)
        return done

    def _cut_connections(self) -> int:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND application_name LIKE 'complaintflow-%'"
            ).fetchall()
        return len(rows)
