"""The local stack: broker, database and worker processes, and the state file that finds them.

`complaintflow stack status --json` reads `HOME/stack.json` and asks each running worker for
its own account (`/statusz`: ready, configuration problems); every process recorded there is
started in its own session so one Ctrl-C is handled in order (workers, then broker and
database) by whoever started them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from services.devstack.ports import alive, free_port, stop_process
from services.kernel.problems import times
from services.kernel.settings import Settings

S = TypeVar("S", bound=Settings)
OPS_PATHS = ("metrics", "healthz", "readyz", "statusz")
"""What every worker serves on its ops port."""


@dataclass
class ProcessInfo:
    name: str
    pid: int
    metrics_url: str | None = None
    http_url: str | None = None
    """Intake's HTTP API, when it serves one."""
    restarts: int = 0
    """How often `complaintflow run` has started this worker again after it exited."""
    last_exit: int | None = None
    """Exit status of its last exit (negative: killed by that signal)."""

    def alive(self) -> bool:
        return alive(self.pid)


@dataclass
class StackState:
    home: str
    bootstrap_servers: str
    database_url: str
    broker: ProcessInfo | None = None
    database: ProcessInfo | None = None
    workers: list[ProcessInfo] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)

    @staticmethod
    def path(home: Path) -> Path:
        return home / "stack.json"

    @classmethod
    def load(cls, home: Path) -> StackState | None:
        path = cls.path(home)
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        for key in ("broker", "database"):
            if data.get(key):
                data[key] = ProcessInfo(**data[key])
        data["workers"] = [ProcessInfo(**w) for w in data.get("workers", [])]
        return cls(**data)

    def save(self) -> None:
        home = Path(self.home)
        home.mkdir(parents=True, exist_ok=True)
        tmp = self.path(home).with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(self.path(home))

    def alive(self) -> bool:
        """True when the broker and database this state describes are running (or external)."""
        return all(p.alive() for p in (self.broker, self.database) if p is not None)

    def status(
        self, *, probe: Callable[[str], dict[str, Any] | None] | None = None
    ) -> dict[str, Any]:
        """What `stack status --json` shows; with `probe` (e.g. `worker_status`) each live
        worker's own account too: `ready`, `degraded` and its configuration `problems` (all
        None when it does not answer)."""

        def proc(p: ProcessInfo | None) -> dict[str, Any] | None:
            return None if p is None else {**asdict(p), "alive": p.alive()}

        def worker(p: ProcessInfo) -> dict[str, Any]:
            out = proc(p)
            assert out is not None
            # Full URLs, ready to paste into a browser or a Prometheus target list.
            out["endpoints"] = (
                {path: f"{p.metrics_url}/{path}" for path in OPS_PATHS} if p.metrics_url else None
            )
            if probe is not None:
                said = probe(p.metrics_url) if out["alive"] and p.metrics_url else None
                for key in ("ready", "degraded", "problems"):
                    out[key] = said.get(key) if said else None
            return out

        return {
            "home": self.home,
            "bootstrap_servers": self.bootstrap_servers,
            "database_url": self.database_url,
            "broker": proc(self.broker),
            "database": proc(self.database),
            "workers": [worker(w) for w in self.workers],
            "running": self.alive(),
        }


def worker_status(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """A worker's `/statusz` (healthy, ready, degraded, configuration problems), or None when
    it does not answer."""
    try:
        with urllib.request.urlopen(f"{url}/statusz", timeout=timeout) as resp:
            data = json.loads(resp.read().decode())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def describe_worker(w: dict[str, Any]) -> list[str]:
    """The lines of `stack status` under a worker's own: nothing when it is ready and has no
    configuration problem, else its readiness and each problem."""
    if w.get("ready") is None:
        return ["    (no answer on /statusz)"] if w.get("alive") and w.get("metrics_url") else []
    problems = w.get("problems") or []
    head = "ready" if w["ready"] else "not ready"
    if not problems:
        return [] if w["ready"] else [f"    {head}"]
    n = len(problems)
    lines = [f"    {head}, degraded: {n} configuration problem{'s' if n > 1 else ''}"]
    for p in problems:
        about = f" {p['subject']}" if p.get("subject") else ""
        text = f"- {p['kind']}{about}: {p['message']} (since {p['since']}, {times(p['count'])})"
        lines.extend("    " + line for line in text.replace("\n", "\n    ").splitlines())
    return lines


def stack_up(
    home: Path, *, bootstrap: str | None = None, database_url: str | None = None, log: bool = True
) -> StackState:
    """Start (or reuse) the broker and database; external ones are used as they are."""
    from services.devstack.local_kafka import LocalKafka
    from services.devstack.local_postgres import LocalPostgres

    home = home.resolve()
    existing = StackState.load(home)
    if existing is not None and existing.alive() and existing.broker and existing.database:
        if log:
            print(
                f"Stack already running: Kafka {existing.bootstrap_servers}, "
                f"PostgreSQL {existing.database_url}",
                flush=True,
            )
        return existing
    broker = database = None
    if bootstrap is None:
        if log:
            print("Starting Apache Kafka (KRaft, single node) ...", flush=True)
        kafka = LocalKafka(home).start()
        assert kafka.proc is not None
        bootstrap, broker = kafka.bootstrap, ProcessInfo("kafka", kafka.proc.pid)
    if database_url is None:
        if log:
            print("Starting PostgreSQL ...", flush=True)
        pg = LocalPostgres(home).start()
        assert pg.proc is not None
        database_url, database = pg.url, ProcessInfo("postgres", pg.proc.pid)
    state = StackState(str(home), bootstrap, database_url, broker, database)
    state.save()
    if log:
        print(f"Kafka {bootstrap}  PostgreSQL {database_url}", flush=True)
    return state


def stack_down(home: Path) -> bool:
    """Stop every process recorded in the state file; True if there was anything to stop."""
    from services.devstack.local_postgres import LocalPostgres

    state = StackState.load(home.resolve())
    if state is None:
        return False
    for worker in state.workers:
        stop_process(worker.pid, signal.SIGTERM, 30)
    if state.broker:
        stop_process(state.broker.pid, signal.SIGTERM, 60)
    if state.database:
        LocalPostgres.stop_pid(state.database.pid)
    state.workers, state.broker, state.database = [], None, None
    StackState.path(home.resolve()).unlink(missing_ok=True)
    return True


def start_worker(
    name: str,
    state: StackState,
    *,
    env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    http_url: str | None = None,
    instance: int = 1,
) -> tuple[ProcessInfo, subprocess.Popen[bytes]]:
    """Start one worker process against the stack; its ops endpoints get a free port. A
    second or third `instance` of a worker is named `routing#2` (its log too)."""
    port = free_port()
    child_env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": state.bootstrap_servers,
        "DATABASE_URL": state.database_url,
        "CF_HOME": state.home,
        "CF_METRICS_PORT": str(port),
        **(env or {}),
    }
    log_dir = log_dir or Path(state.home) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    label = name if instance == 1 else f"{name}#{instance}"
    with open(log_dir / f"{label}.log", "ab") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.commands.cli", "worker", name],
            env=child_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return ProcessInfo(label, proc.pid, f"http://127.0.0.1:{port}", http_url), proc


def stack_settings(cls: type[S]) -> S:
    """Settings from the environment, with the broker and database of a running local stack
    where the environment names none."""
    s = cls()
    state = StackState.load(s.home)
    if state is not None and state.alive():
        updates: dict[str, Any] = {}
        if not s.kafka_bootstrap_servers:
            updates["kafka_bootstrap_servers"] = state.bootstrap_servers
        if not s.database_url:
            updates["database_url"] = state.database_url
        if updates:
            s = s.model_copy(update=updates)
    return s
