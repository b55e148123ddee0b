"""`complaintflow run`: the whole product on this machine, live in the terminal."""

from __future__ import annotations

import re
import secrets
import signal
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from services.runtime.config import Settings
from services.runtime.dashboard import Dashboard
from services.runtime.kafka import ensure_topics
from services.runtime.keyfile import KeyFile
from services.runtime.local_postgres import LocalPostgres
from services.runtime.ports import free_port, stop_process
from services.runtime.stack import WORKERS, StackState, stack_up, start_worker
from services.runtime.supervise import Supervisor


def intake_api_key_file(home: Path) -> KeyFile:
    """The key `make run` gives intake's HTTP API, made once per data directory."""
    return KeyFile(
        home / "intake-api.key",
        make=lambda: secrets.token_urlsafe(24),
        pattern=re.compile(r"[A-Za-z0-9_-]{16,}"),
        expected="one key of at least 16 letters, digits, '-' or '_'",
        remedy=(
            "Delete it to have a new one made (and give call centers the new key), "
            "or set CF_INTAKE_API_KEYS."
        ),
    )


def _intake_api(settings: Settings) -> dict[str, Any]:
    """Intake's HTTP API for the local stack: a free port, and a key made once per home."""
    port = settings.intake_http_port or free_port()
    if settings.intake_api_keys is not None:
        keys = settings.intake_api_keys.get_secret_value()
    else:
        keys = f"*={intake_api_key_file(settings.home).read()}"
    return {
        "env": {"CF_INTAKE_HTTP_PORT": str(port), "CF_INTAKE_API_KEYS": keys},
        "http_url": f"http://127.0.0.1:{port}/v1/events",
    }


def run(settings: Settings, *, simulate: bool, rate: float, seed: int) -> int:
    console = Console()
    home = settings.home.resolve()
    settings = settings.model_copy(update={"home": home})
    # Keys first, once, before any worker looks for them; a bad one stops here.
    settings.pii_secret()
    intake_api = _intake_api(settings)
    before = StackState.load(home)
    owned = not (before is not None and before.alive() and before.broker and before.database)
    state = stack_up(
        home, bootstrap=settings.kafka_bootstrap_servers, database_url=settings.database_url
    )
    stop = threading.Event()
    feeder: threading.Thread | None = None
    supervisor = Supervisor(
        lambda name: start_worker(name, state, **(intake_api if name == "intake" else {}))
    )

    def on_signal(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        live_settings = settings.model_copy(
            update={
                "kafka_bootstrap_servers": state.bootstrap_servers,
                "database_url": state.database_url,
            }
        )
        created = ensure_topics(live_settings)
        console.print(
            f"Topics ready ({len(created)} created). Starting workers: {', '.join(WORKERS)}"
        )
        state.workers = supervisor.start(WORKERS)
        state.save()
        if simulate:
            from services.simulator.feed import run_feed

            feeder = threading.Thread(
                target=run_feed,
                daemon=True,
                name="simulator",
                kwargs={
                    "settings": live_settings,
                    "rate": rate,
                    "duration": 10**9,
                    "seed": seed,
                    "progress": False,
                    "stop": stop.is_set,
                    "run": format(int(time.time()) % 36**5, "x"),
                },
            )
            feeder.start()
        board = Dashboard(state, supervisor)
        with Live(board.render(), console=console, refresh_per_second=2) as live:
            while not stop.wait(1.0):
                if supervisor.check():
                    state.workers = supervisor.workers
                    state.save()
                live.update(board.render())
    finally:
        stop.set()
        console.print("Stopping workers ...")
        if feeder is not None:
            feeder.join(timeout=15)
        supervisor.stop(timeout=30)
        state.workers = []
        if owned:
            console.print("Stopping Kafka and PostgreSQL ...")
            if state.broker:
                stop_process(state.broker.pid, signal.SIGTERM, 60)
            if state.database:
                LocalPostgres.stop_pid(state.database.pid)
            StackState.path(home).unlink(missing_ok=True)
        else:
            state.save()
        console.print(f"Stopped. Data kept in {home} (run again to continue).")
        time.sleep(0)
    return 0
