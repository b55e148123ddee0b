"""`complaintflow run`: the whole product on this machine, live in the terminal."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.live import Live

from services.devstack.dashboard import Dashboard
from services.devstack.local_postgres import LocalPostgres
from services.devstack.ports import stop_process
from services.devstack.stack import StackState, stack_up, start_worker, worker_status
from services.devstack.supervise import Supervisor
from services.kernel.kafka import ensure_topics
from services.kernel.settings import Settings

READY_TIMEOUT = 60.0
"""Seconds the simulated feed waits for every worker to be ready before it starts anyway."""


def _wait_until_ready(state: StackState, stop: threading.Event, *, timeout: float) -> None:
    """Return once every worker says it is ready (its `/statusz`), on `stop`, or after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        said = [
            worker_status(w.metrics_url, timeout=1.0) if w.metrics_url else None
            for w in state.workers
        ]
        if said and all(s is not None and s.get("ready") for s in said):
            return
        stop.wait(0.5)


def run(
    settings: Settings,
    *,
    workers: Sequence[str],
    worker_env: Mapping[str, dict[str, Any]],
    simulate: bool,
    rate: float,
    seed: int,
    sla_scale: float = 1.0,
) -> int:
    """The stack, `workers` (each started with its `worker_env` entry) under supervision, a
    simulated feed when asked (its agents on the workers' `sla_scale`), and the live view
    until Ctrl-C."""
    console = Console()
    home = settings.home.resolve()
    settings = settings.model_copy(update={"home": home})
    # Keys first, once, before any worker looks for them; a bad one stops here.
    settings.pii_secret()
    before = StackState.load(home)
    owned = not (before is not None and before.alive() and before.broker and before.database)
    state = stack_up(
        home, bootstrap=settings.kafka_bootstrap_servers, database_url=settings.database_url
    )
    stop = threading.Event()
    feeder: threading.Thread | None = None
    supervisor = Supervisor(lambda name: start_worker(name, state, **worker_env.get(name, {})))

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
            f"Topics ready ({len(created)} created). Starting workers: {', '.join(workers)}"
        )
        state.workers = supervisor.start(workers)
        state.save()
        if simulate:
            from services.simulator.feed import run_feed

            def feed(**kwargs: Any) -> None:
                # Complaints sent before the workers have joined would wait out their
                # (demo-short) SLA targets in the topic and breach on arrival.
                _wait_until_ready(state, stop, timeout=READY_TIMEOUT)
                run_feed(**kwargs)

            feeder = threading.Thread(
                target=feed,
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
                    "scale": sla_scale,
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
