"""A chaos run: every worker under supervision, a fixed-size load, faults injected at seeded
random moments while it flows, then — once everything has drained — the audit."""

from __future__ import annotations

import random
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka.errors import KafkaError

from schemas.registry import RAW
from services.audit.report import as_text
from services.audit.run import Report, audit, caught_up
from services.chaos.faults import Broker, Injected, Injector, ready
from services.chaos.load import Load, build
from services.commands.workers import WORKERS
from services.devstack.local_postgres import LocalPostgres
from services.devstack.mailcatcher import MailCatcher
from services.devstack.stack import ProcessInfo, StackState, start_worker
from services.devstack.supervise import Backoff, Supervisor
from services.kernel.kafka import producer
from services.kernel.settings import Settings

Say = Callable[[str], None]


@dataclass
class Plan:
    complaints: int = 200
    seed: int = 1
    faults: int = 8
    sla_scale: float = 8 / (72 * 3600)
    """A P3 complaint has 8 s to be resolved: the second wave comes after breaches."""
    spread: float = 20.0
    """Seconds over which the first wave is sent and the faults are injected."""
    second_wave_after: float = 12.0
    """Seconds after the first wave that the held-back resolutions are sent."""
    drain_timeout: float = 300.0
    stalled_after: float = 5.0
    """The workers' readiness window (`CF_STALLED_AFTER_SECONDS`) in the run."""
    outage: float = 12.0
    """Seconds the database stays stopped (longer than the readiness window), a lost broker
    down, and the mail provider slow or refusing."""


@dataclass
class Result:
    plan: Plan
    events: int
    seconds: float
    injected: list[Injected]
    report: Report | None
    drained: bool
    restarts: dict[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.drained and self.report is not None and self.report.balanced

    @property
    def passed(self) -> bool:
        """The books balance and every fault held (see `Injected.held`)."""
        return self.balanced and all(f.held for f in self.injected)

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for f in self.injected:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        checked = sum(self.report.read.values()) if self.report else 0
        lines = [
            f"Chaos run, seed {self.plan.seed}: {self.plan.complaints:,} complaints,"
            f" {self.events:,} raw events, {self.seconds:.0f} s",
            f"Faults injected: {len(self.injected)} ("
            + ", ".join(f"{k}: {n}" for k, n in kinds.items())
            + ")",
            *(
                f"  +{f.at:6.1f}s  {f.kind}: {f.detail}" + ("" if f.held else "  [DID NOT HOLD]")
                for f in self.injected
            ),
            "Worker restarts: " + ", ".join(f"{name} {n}" for name, n in self.restarts.items()),
            f"Events checked: {checked:,}",
        ]
        failed = [f.kind for f in self.injected if not f.held]
        if failed:
            lines.append("Faults that did not hold: " + ", ".join(failed))
        if not self.drained:
            lines.append(
                f"Not drained within {self.plan.drain_timeout:.0f} s: the last audit follows."
            )
        if self.report is not None:
            lines += ["", as_text(self.report)]
        return "\n".join(lines)


def chaos(
    settings: Settings,
    plan: Plan,
    *,
    home: Path,
    broker: Broker | None,
    database: LocalPostgres | None = None,
    say: Say = print,
) -> Result:
    """Run `plan` against the broker and database of `settings` (topics made); `broker` and
    `database`, when the run owns them, are restarted, lost and stopped among the faults."""
    began = time.monotonic()
    load = build(plan.complaints, seed=plan.seed)
    catcher = MailCatcher(home / "mail").start()
    state = StackState(str(home), settings.kafka_bootstrap_servers or "", settings.db_url())
    env = {
        "CF_TOPIC_PREFIX": settings.topic_prefix,
        "CF_SLA_SCALE": repr(plan.sla_scale),
        "CF_POLL_TIMEOUT_MS": "100",
        # a notice whose sender was killed mid-send turns `unknown` within the run
        "CF_NOTIFY_LEASE_SECONDS": "10",
        "CF_STALLED_AFTER_SECONDS": repr(plan.stalled_after),
        "CF_TOPIC_REPLICATION": str(settings.topic_replication),
        **catcher.env,
    }
    if settings.pii_key is not None:
        env["CF_PII_KEY"] = settings.pii_key.get_secret_value()

    def spawn(label: str) -> tuple[ProcessInfo, subprocess.Popen[bytes]]:
        name, _, n = label.partition("#")  # `routing#2`: a second instance of routing
        return start_worker(name, state, env=env, log_dir=home / "logs", instance=int(n or 1))

    supervisor = Supervisor(
        spawn,
        backoff=Backoff(initial=0.5, cap=2.0, stable_after=5.0),
    )
    stop = threading.Event()
    watching = threading.Thread(target=_watch, args=(supervisor, stop), daemon=True)
    report: Report | None = None
    drained = False
    injector: Injector | None = None
    try:
        supervisor.start(WORKERS)
        watching.start()
        _wait_ready(supervisor, timeout=180)
        say(f"+{time.monotonic() - began:.0f}s workers ready; sending {load.events:,} events")
        sending = threading.Thread(target=_send, args=(settings, load, plan), daemon=True)
        injector = Injector(
            seed=plan.seed,
            supervisor=supervisor,
            database_url=settings.db_url(),
            broker=broker,
            database=database,
            mail=catcher.handler,
            outage=plan.outage,
            topic_prefix=settings.topic_prefix,
            idle=lambda: not sending.is_alive() and _caught_up(settings),
        )
        sending.start()
        rng = random.Random(plan.seed)
        for kind in injector.kinds_left(plan.faults):
            time.sleep(rng.uniform(0.2, 2.0) * plan.spread / max(plan.faults, 1))
            done = injector.inject(kind)
            say(f"  +{done.at:6.1f}s  {done.kind}: {done.detail}")
        sending.join()
        say(f"+{time.monotonic() - began:.0f}s load sent; waiting until the books can be read")
        report, drained = _drain(settings, home / "mail", plan.drain_timeout)
    finally:
        stop.set()
        if watching.is_alive():
            watching.join(5)
        restarts = {w.name: w.restarts for w in supervisor.workers}
        supervisor.stop()
        catcher.stop()
    return Result(
        plan=plan,
        events=load.events,
        seconds=time.monotonic() - began,
        injected=injector.injected if injector else [],
        report=report,
        drained=drained,
        restarts=restarts,
    )


def _watch(supervisor: Supervisor, stop: threading.Event) -> None:
    while not stop.wait(0.2):
        supervisor.check()


def _wait_ready(supervisor: Supervisor, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for w in supervisor.workers:
        while not ready(w.metrics_url):
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {w.name} not ready after {timeout:.0f}s")
            time.sleep(0.3)


def _send(settings: Settings, load: Load, plan: Plan) -> None:
    """The first wave spread over `plan.spread` seconds, the second after its pause."""
    sender = producer(settings, client_id="complaintflow-chaos")
    topic = settings.topic(RAW.name)
    try:
        slices = 20
        step = max(1, len(load.first) // slices)
        for i in range(0, len(load.first), step):
            for key, line in load.first[i : i + step]:
                sender.send(topic, key=key.encode(), value=line.encode())
            time.sleep(plan.spread / slices)  # pacing the load, not waiting on anything
        sender.flush()
        time.sleep(plan.second_wave_after)
        for key, line in load.later:
            sender.send(topic, key=key.encode(), value=line.encode())
        sender.flush()
    finally:
        sender.close()


def _caught_up(settings: Settings) -> bool:
    """Whether every worker has committed all of its inputs; False when the brokers cannot
    tell now (a node down, leaders moving)."""
    try:
        return caught_up(settings)
    except (KafkaError, OSError):
        return False


def _drain(settings: Settings, mail_dir: Path, timeout: float) -> tuple[Report, bool]:
    """Audit until the books balance or `timeout` passes; the last audit and whether it
    balanced."""
    deadline = time.monotonic() + timeout
    while True:
        while not caught_up(settings) and time.monotonic() < deadline:
            time.sleep(1)
        report = audit(
            settings, as_of=datetime.now(UTC), grace=timedelta(seconds=10), mail_dir=mail_dir
        )
        if report.balanced or time.monotonic() > deadline:
            return report, report.balanced
        time.sleep(2)
