"""The faults a chaos run injects: a worker killed (-9) or stopped (SIGTERM) mid-work, every
database connection of the workers cut, the database stopped for longer than the workers'
readiness window, the broker stopped and started again, a second and third instance of a
worker joining and leaving, and a mail provider that is slow or refuses mail for a while."""

from __future__ import annotations

import os
import random
import re
import signal
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from services.devstack.local_postgres import LocalPostgres
from services.devstack.mailcatcher import Catcher
from services.devstack.ports import stop_process
from services.devstack.stack import ProcessInfo
from services.devstack.supervise import Supervisor

KINDS = (
    "kill -9",
    "SIGTERM",
    "database connections cut",
    "database stopped",
    "broker restarted",
    "instance joined",
    "instance left",
    "mail provider slow",
    "mail provider refusing",
)
SCALABLE = ("intake", "routing", "sla_timer", "notification", "analytics")
"""The workers a run scales out and in (to three instances each)."""
MAX_INSTANCES = 3
_PROCESSED = re.compile(r"^complaintflow_events_processed_total\{[^}]*\} ([0-9.e+]+)$", re.M)


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
        database: LocalPostgres | None = None,
        mail: Catcher | None = None,
        outage: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rng = random.Random(seed)
        self.supervisor, self.database_url, self.broker = supervisor, database_url, broker
        self.database, self.mail, self.outage = database, mail, outage
        """`outage`: how long the database is stopped and the mail provider in trouble."""
        self.started = clock()
        self.clock = clock
        self.injected: list[Injected] = []
        absent = {
            "broker restarted": broker is None,
            "database stopped": database is None,
            "mail provider slow": mail is None,
            "mail provider refusing": mail is None,
        }
        self.kinds = [k for k in KINDS if not absent.get(k)]

    def kinds_left(self, plan: int) -> list[str]:
        """The next `plan` kinds: each kind in turn (every kind is tried), in a seeded order;
        an instance joins before one leaves."""
        out: list[str] = []
        while len(out) < plan:
            batch = list(self.kinds)
            self.rng.shuffle(batch)
            joins, leaves = batch.index("instance joined"), batch.index("instance left")
            if leaves < joins:
                batch[joins], batch[leaves] = batch[leaves], batch[joins]
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
        elif kind == "database stopped":
            detail = self._stop_database()
        elif kind == "instance joined":
            detail = self._join()
        elif kind == "instance left":
            detail = self._leave()
        elif kind.startswith("mail provider"):
            detail = self._mail_trouble(slow=kind.endswith("slow"))
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

    def _stop_database(self) -> str:
        """The database stopped for `outage` seconds (longer than the readiness window), the
        workers' `/readyz` watched meanwhile, then started again."""
        assert self.database is not None and self.database.proc is not None
        began = self.clock()
        LocalPostgres.stop_pid(self.database.proc.pid)
        unready: set[str] = set()
        while self.clock() - began < self.outage:
            unready |= {w.name for w in self.supervisor.workers if not ready(w.metrics_url)}
            time.sleep(1)  # sampling the workers' answers while the outage lasts
        self.database.start()
        said = ", ".join(sorted(unready)) or "none"
        return f"down {self.clock() - began:.0f} s; not ready meanwhile: {said}"

    def _join(self) -> str:
        running = {w.name for w in self.supervisor.workers}
        room = [
            (name, n)
            for name in SCALABLE
            for n in range(2, MAX_INSTANCES + 1)
            if f"{name}#{n}" not in running and (n == 2 or f"{name}#{n - 1}" in running)
        ]
        if not room:
            return "none (every worker runs three instances)"
        name, n = self.rng.choice(room)
        self.supervisor.start([f"{name}#{n}"])
        return f"{name}#{n} started beside the others"

    def _leave(self) -> str:
        extra = sorted(w.name for w in self.supervisor.workers if "#" in w.name)
        if not extra:
            return "none (no second instance)"
        name = self.rng.choice(extra)
        self.supervisor.retire(name)
        return f"{name} stopped (SIGTERM) and gone"

    def _mail_trouble(self, *, slow: bool) -> str:
        """The mail provider slow (3 s a mail) or refusing (451) for `outage` seconds; what
        the other workers processed meanwhile is told."""
        assert self.mail is not None
        others = [w for w in self.supervisor.workers if not w.name.startswith("notification")]
        before = processed(others)
        if slow:
            self.mail.delay = 3.0
        else:
            self.mail.refusing = True
        time.sleep(self.outage)  # the trouble lasts this long
        self.mail.delay, self.mail.refusing = 0.0, False
        what = "3 s a mail" if slow else "451 to every mail"
        return (
            f"{what} for {self.outage:.0f} s; the other workers processed"
            f" {processed(others) - before:,} events meanwhile"
        )


def ready(url: str | None) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as resp:
            return int(resp.status) == 200
    except OSError:
        return False


def processed(workers: list[ProcessInfo]) -> int:
    """Events the `workers` have processed, from their `/metrics` (0 for one not answering)."""
    total = 0.0
    for w in workers:
        try:
            with urllib.request.urlopen(f"{w.metrics_url}/metrics", timeout=2) as resp:
                text = resp.read().decode()
        except OSError:
            continue
        total += sum(float(v) for v in _PROCESSED.findall(text))
    return int(total)
