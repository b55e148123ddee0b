"""Shared fixtures: one real Kafka broker and one real PostgreSQL per test session.

Both are started by the suite itself (the same launchers `make run` uses) unless
KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL point at running ones. Each test gets its own
topic prefix, consumer groups and database, so tests never see each other's data.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr

from services.devstack.mailcatcher import MailCatcher
from services.devstack.ports import free_port, stop_process
from services.kernel.clock import Clock
from services.kernel.db import with_database
from services.kernel.handler import Handler
from services.kernel.kafka import ensure_topics
from services.kernel.loop import WorkerRunner
from services.kernel.settings import Settings
from services.sla_timer.settings import SlaSettings


@dataclass(frozen=True)
class Stack:
    bootstrap: str
    admin_db_url: str

    def db_url(self, name: str) -> str:
        return with_database(self.admin_db_url, name)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The session's real broker and database."""
    bootstrap, db_url = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    if bootstrap and db_url:
        yield Stack(bootstrap, db_url)
        return
    from services.devstack.local_kafka import LocalKafka
    from services.devstack.local_postgres import LocalPostgres

    home = Path("/tmp") / f"cf-test-{uuid.uuid4().hex[:8]}"
    home.mkdir()
    kafka = LocalKafka(home, heap="512m").start()
    pg = LocalPostgres(home).start()
    try:
        yield Stack(kafka.bootstrap, pg.url)
    finally:
        assert kafka.proc is not None and pg.proc is not None
        stop_process(kafka.proc.pid, signal.SIGTERM, 60)
        LocalPostgres.stop_pid(pg.proc.pid)
        subprocess.run(["rm", "-rf", str(home)], check=False)


@pytest.fixture
def cf(stack: Stack) -> Iterator[Settings]:
    """Settings of one test: its own topic prefix (topics created) and its own database."""
    tag = uuid.uuid4().hex[:10]
    db = f"cf_{tag}"
    with psycopg.connect(stack.admin_db_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    settings = Settings(
        kafka_bootstrap_servers=stack.bootstrap,
        database_url=stack.db_url(db),
        topic_prefix=f"t{tag}.",
        home=Path("/tmp") / f"cf-home-{tag}",
        poll_timeout_ms=100,
        pii_key=SecretStr(f"test-pii-key-{tag}"),
    )
    ensure_topics(settings)
    yield settings
    with psycopg.connect(stack.admin_db_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    shutil.rmtree(settings.home, ignore_errors=True)  # its keys (link.key, pii.key) too


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that gives a child process these settings.

    Settings without a `pii_key` give no CF_PII_KEY: the child uses (or makes) `HOME/pii.key`.
    """
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "DATABASE_URL": settings.database_url or "",
        "CF_TOPIC_PREFIX": settings.topic_prefix,
        "CF_HOME": str(settings.home),
        "CF_POLL_TIMEOUT_MS": str(settings.poll_timeout_ms),
    }
    if settings.pii_key is not None:
        env["CF_PII_KEY"] = settings.pii_key.get_secret_value()
    else:
        env.pop("CF_PII_KEY", None)
    if isinstance(settings, SlaSettings):
        env["CF_SLA_SCALE"] = str(settings.sla_scale)
    env.update(extra)
    return env


@dataclass
class WorkerProcess:
    name: str
    proc: subprocess.Popen[bytes]
    metrics_url: str
    log: Path

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.metrics_url}/metrics", timeout=5) as resp:
            return resp.read().decode()

    def status(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"{self.metrics_url}{path}", timeout=5) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)


@pytest.fixture
def worker_factory(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Starts real worker processes (`complaintflow worker NAME`); stops them after the test."""
    started: list[WorkerProcess] = []

    def start(name: str, settings: Settings, **env: str) -> WorkerProcess:
        port = free_port()
        log = tmp_path / f"{name}-{len(started)}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.commands.cli", "worker", name],
            env=settings_env(settings, CF_METRICS_PORT=str(port), **env),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        worker = WorkerProcess(name, proc, f"http://127.0.0.1:{port}", log)
        started.append(worker)
        return worker

    yield start
    for w in started:
        if w.proc.poll() is None:
            w.proc.send_signal(signal.SIGTERM)
    for w in started:
        try:
            w.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            w.proc.kill()


@pytest.fixture
def mail_catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    """A real local SMTP server keeping what it receives in `tmp_path/mail`."""
    catcher = MailCatcher(tmp_path / "mail").start()
    yield catcher
    catcher.stop()


@pytest.fixture
def runner_factory() -> Iterator[Callable[..., WorkerRunner]]:
    """Runs workers inside the test process, where a test can give them a clock or reach
    their consumer; stops them after the test."""
    started: list[tuple[WorkerRunner, threading.Thread]] = []

    def start(
        handler: type[Handler], settings: Settings, *, clock: Clock | None = None
    ) -> WorkerRunner:
        settings = settings.model_copy(update={"metrics_port": free_port()})
        runner = WorkerRunner(handler, settings, clock=clock)
        thread = threading.Thread(target=runner.run, name=runner.name, daemon=True)
        thread.start()
        started.append((runner, thread))
        return runner

    yield start
    for runner, _ in started:
        runner.stop()
    for runner, thread in started:
        thread.join(30)
        assert not thread.is_alive(), f"{runner.name} did not stop"


def wait_for(
    check: Callable[[], object],
    *,
    timeout: float = 60,
    what: str | Callable[[], str] = "condition",
) -> object:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`
    (`what` may be a function, to say what was last seen)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {said}")
        time.sleep(0.2)


def wait_ready(workers: Iterable[WorkerProcess], timeout: float = 60) -> None:
    """Wait until every worker answers /readyz with 200 (partitions assigned)."""
    for w in workers:
        wait_for(lambda w=w: _ready(w), timeout=timeout, what=f"{w.name} ready")


def _ready(w: WorkerProcess) -> bool:
    if w.proc.poll() is not None:
        pytest.fail(f"{w.name} exited with {w.proc.returncode}: {w.log.read_text()[-2000:]}")
    try:
        return w.status("/readyz") == 200
    except OSError:
        return False
