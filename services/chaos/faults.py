"""The faults a chaos run injects: a worker killed (-9) or stopped (SIGTERM) mid-work, every
database connection of the workers cut, the database stopped for longer than the workers'
readiness window, a broker stopped and started again, a broker of the three lost (-9) for a
while under load, a second and third instance of a worker joining and leaving, and a mail
provider that is slow or refuses mail for a while."""

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

from services.devstack.local_kafka import LocalKafka
from services.devstack.local_kafka_cluster import LocalKafkaCluster
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
    "broker lost",
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
    held: bool = True
    """False when the fault showed what must not happen (the pipeline stood still while a
    broker was lost, the cluster never came back in sync)."""


BUSY_TOPIC = "complaints.raw.v1"
"""The topic whose partition 0 leader is the broker a run loses: every event passes there."""
FLOW_TIMEOUT = 120.0
"""Seconds a lost broker stays down beyond the outage, at most, for the pipeline to be seen
flowing without it (the cluster notices a dead broker after its session timeout, 9 s, and
then elects new leaders)."""


class Broker:
    """The Kafka a chaos run owns, which it may stop and start again on the same ports: three
    KRaft nodes (`nodes=3`: topics replicated 3 times, 2 in-sync replicas required, so one
    node may be lost), or a single broker (`nodes=1`)."""

    def __init__(self, home: Path, *, nodes: int = 3) -> None:
        if nodes not in (1, 3):
            raise ValueError(f"a chaos run takes 1 or 3 brokers, not {nodes}")
        self.home = home
        self.cluster: LocalKafkaCluster | None = None
        self.single: LocalKafka | None = None
        if nodes == 3:  # three JVMs on a small machine: a small heap each
            self.cluster = LocalKafkaCluster(home / "brokers", heap="320m")
        else:
            self.single = LocalKafka(home, heap="512m")
        try:  # (an interrupted start stops what it had started)
            if self.cluster is not None:
                self.cluster.start()
            else:
                self._single().start()
        except BaseException:
            self.stop()
            raise

    @property
    def bootstrap(self) -> str:
        return self.cluster.bootstrap if self.cluster else self._single().bootstrap

    @property
    def replication(self) -> int:
        """The replication factor the product's topics are made with (`CF_TOPIC_REPLICATION`)."""
        return 3 if self.cluster else 1

    def _single(self) -> LocalKafka:
        assert self.single is not None
        return self.single

    def restart(self, rng: random.Random) -> str:
        """One broker (a node picked by `rng` on the cluster) stopped with SIGTERM — a clean
        shutdown, leadership handed over — and started again on the same ports and log
        directory; on the cluster, back once every partition is in sync again."""
        began = time.monotonic()
        if self.cluster is None:
            single = self._single()
            assert single.proc is not None
            stop_process(single.proc.pid, signal.SIGTERM, 60)
            single.proc.wait()
            single.start()
            return f"down and back in {time.monotonic() - began:.1f} s"
        node = rng.choice(sorted(self.cluster.nodes))
        self.cluster.stop(node)
        self.cluster.restart(node)
        back = time.monotonic() - began
        synced = self.cluster.wait_in_sync()
        return f"node {node} down and back in {back:.1f} s, in sync again {synced:.1f} s later"

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
        single = self.single
        if single is not None and single.proc is not None and single.proc.poll() is None:
            stop_process(single.proc.pid, signal.SIGTERM, 60)


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
        topic_prefix: str = "",
        idle: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rng = random.Random(seed)
        self.supervisor, self.database_url, self.broker = supervisor, database_url, broker
        self.database, self.mail, self.outage = database, mail, outage
        """`outage`: how long the database is stopped, a broker lost and the mail provider in
        trouble."""
        self.busy_topic = topic_prefix + BUSY_TOPIC
        self.idle = idle
        """Whether the load is all sent and every worker has caught up (nothing can flow)."""
        self.started = clock()
        self.clock = clock
        self.injected: list[Injected] = []
        absent = {
            "broker restarted": broker is None,
            "broker lost": broker is None or broker.cluster is None,
            "database stopped": database is None,
            "mail provider slow": mail is None,
            "mail provider refusing": mail is None,
        }
        self.kinds = [k for k in KINDS if not absent.get(k)]

    def kinds_left(self, plan: int) -> list[str]:
        """The next `plan` kinds: each kind in turn (every kind is tried), in a seeded order;
        an instance joins before one leaves, and the run opens with a broker lost (when it
        has three), while its load is being sent."""
        out: list[str] = []
        while len(out) < plan:
            batch = list(self.kinds)
            self.rng.shuffle(batch)
            joins, leaves = batch.index("instance joined"), batch.index("instance left")
            if leaves < joins:
                batch[joins], batch[leaves] = batch[leaves], batch[joins]
            if not out and "broker lost" in batch:
                batch.remove("broker lost")
                batch.insert(0, "broker lost")
            out += batch
        return out[:plan]

    def inject(self, kind: str) -> Injected:
        held = True
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
        elif kind == "broker lost":
            detail, held = self._lose_broker()
        else:
            assert self.broker is not None
            detail = self.broker.restart(self.rng)
        done = Injected(round(self.clock() - self.started, 1), kind, detail, held)
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

    def _lose_broker(self) -> tuple[str, bool]:
        """The node leading partition 0 of the raw topic killed with SIGKILL (no clean
        shutdown, no leadership handed over) and kept down at least `outage` seconds, and
        until the workers have processed events without it (or have nothing left to process;
        at most `FLOW_TIMEOUT` more seconds), then started again and waited for until every
        partition is in sync. It held when the pipeline flowed while the node was down and the
        cluster came back in sync."""
        assert self.broker is not None and self.broker.cluster is not None
        cluster = self.broker.cluster
        victim = cluster.leader(self.busy_topic, 0)
        before = processed_each(self.supervisor.workers)
        began = self.clock()
        cluster.kill(victim)
        flowed, idle = 0, False
        while self.clock() - began < self.outage + FLOW_TIMEOUT:
            time.sleep(1)  # sampling the workers' counts while the node is down
            flowed = gained(before, processed_each(self.supervisor.workers))
            if self.clock() - began >= self.outage:
                idle = flowed == 0 and self.idle()
                if flowed or idle:
                    break
        cluster.restart(victim)
        down = self.clock() - began
        detail = (
            f"node {victim} (leader of {BUSY_TOPIC} partition 0) killed -9, down {down:.0f} s;"
            f" the workers processed {flowed:,} events meanwhile"
            + (" (nothing was left to process)" if idle else "")
        )
        try:
            synced = cluster.wait_in_sync()
        except RuntimeError as exc:
            return f"{detail}; back, but {exc}", False
        return f"{detail}; back, every partition in sync {synced:.1f} s later", flowed > 0 or idle

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
    return sum(processed_each(workers).values())


def processed_each(workers: list[ProcessInfo]) -> dict[str, int]:
    """Events each of the `workers` has processed since it started, by name (those that
    answer their `/metrics`)."""
    out: dict[str, int] = {}
    for w in workers:
        try:
            with urllib.request.urlopen(f"{w.metrics_url}/metrics", timeout=2) as resp:
                text = resp.read().decode()
        except OSError:
            continue
        out[w.name] = int(sum(float(v) for v in _PROCESSED.findall(text)))
    return out


def gained(before: dict[str, int], after: dict[str, int]) -> int:
    """Events processed between two `processed_each` readings: a worker started again in
    between (its count lower) is counted from its new start."""
    total = 0
    for name, n in after.items():
        was = before.get(name, 0)
        total += n - was if n >= was else n
    return total
