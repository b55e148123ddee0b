"""`complaintflow chaos` on brokers and a database of its own (in a temporary folder), so that
it may restart and lose a broker and leaves nothing behind but its summary."""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from pydantic import SecretStr

from services.chaos.faults import Broker
from services.chaos.run import Plan, chaos
from services.devstack.local_postgres import LocalPostgres
from services.kernel.kafka import ensure_topics
from services.kernel.settings import Settings


def run_on_own_stack(
    *,
    complaints: int,
    seed: int | None,
    faults: int,
    spread: float,
    drain_timeout: float,
    fuzz: int = 0,
    brokers: int = 3,
) -> int:
    """Start `brokers` Kafka nodes (a three-node cluster, or one broker) and a database, run
    the chaos plan, print its summary, then fuzz every way in with `fuzz` generated inputs; 0
    when the books balance, every fault held and the fuzz found nothing. The folder is
    removed after such a run and kept (and named) otherwise."""
    seed = seed if seed is not None else secrets.randbelow(1_000_000)
    plan = Plan(
        complaints=complaints, seed=seed, faults=faults, spread=spread, drain_timeout=drain_timeout
    )
    home = Path(tempfile.mkdtemp(prefix="complaintflow-chaos-"))
    print(f"Chaos run, seed {seed} (again: complaintflow chaos --seed {seed}); in {home}")
    kafka = "a broker" if brokers == 1 else f"{brokers} brokers"
    print(f"Starting {kafka} and a database of its own ...", flush=True)
    broker = Broker(home, nodes=brokers)
    pg = LocalPostgres(home)
    balanced = False
    try:
        pg.start()  # (inside: Ctrl-C while the database starts still stops the brokers)
        settings = Settings(
            kafka_bootstrap_servers=broker.bootstrap,
            database_url=pg.url,
            home=home,
            pii_key=SecretStr(secrets.token_hex(32)),
            topic_replication=broker.replication,
        )
        ensure_topics(settings)
        result = chaos(settings, plan, home=home, broker=broker, database=pg, say=_say)
        print(result.summary())
        balanced = result.passed
    finally:
        broker.stop()
        pg.stop(60)
        if balanced:
            shutil.rmtree(home, ignore_errors=True)
        else:
            print(f"Logs kept in {home / 'logs'}", file=sys.stderr)
    if fuzz:
        try:
            from services.chaos import fuzz as fuzzing
        except ImportError as exc:  # hypothesis comes with the development extras
            print(f"Cannot fuzz: {exc} (install with: pip install -e '.[dev]')", file=sys.stderr)
            return 1
        print(f"Fuzzing every way in with {fuzz:,} generated inputs (hypothesis) ...", flush=True)
        fuzzed = fuzzing.run(fuzz, seed=seed, say=_say)
        print(fuzzed.summary())
        balanced = balanced and not fuzzed.findings
    return 0 if balanced else 1


def _say(line: str) -> None:
    print(line, flush=True)
