"""The broker and database a bench run measures against, and a fresh database and topic
prefix on them for each measurement, so that no stage sees another's data."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

from schemas.registry import RAW, REGISTERED, TOPICS
from services.devstack.local_kafka import LocalKafka
from services.devstack.local_postgres import LocalPostgres
from services.kernel.db import with_database
from services.kernel.kafka import ensure_topics
from services.kernel.settings import Settings


@contextlib.contextmanager
def bench_stack(home: Path) -> Iterator[tuple[Settings, dict[str, int]]]:
    """The broker and database KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL name, or a local pair
    started in `home` and stopped however the run ends (an interruption is told which, in a
    note); with the local pair's processes (`broker`, `database` → pid), whose CPU the
    pipeline stage measures beside the workers'."""
    bootstrap, db = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    if bootstrap and db:
        yield Settings(kafka_bootstrap_servers=bootstrap, database_url=db, home=home), {}
        return
    kafka, pg = LocalKafka(home), LocalPostgres(home)
    try:
        kafka.start()
        pg.start()
        assert kafka.proc and pg.proc
        settings = Settings(kafka_bootstrap_servers=kafka.bootstrap, database_url=pg.url, home=home)
        yield settings, {"broker": kafka.proc.pid, "database": pg.proc.pid}
    except KeyboardInterrupt as exc:
        if stopped := _stop(kafka, pg):
            exc.add_note(stopped)
        raise
    finally:
        _stop(kafka, pg)


def _stop(kafka: LocalKafka, pg: LocalPostgres) -> str:
    """Stop the broker and the database where they run; which ones were, in words."""
    running = [
        f"the {what} (pid {part.proc.pid})"
        for what, part in (("broker", kafka), ("database", pg))
        if part.proc is not None
    ]
    kafka.stop(60)
    pg.stop(60)
    return " and ".join(running)


def fresh(settings: Settings) -> Settings:
    """A new database and topic prefix on the run's broker and database, topics created."""
    tag = uuid.uuid4().hex[:8]
    with psycopg.connect(settings.db_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "bench_{tag}"')
    s = settings.model_copy(
        update={
            "topic_prefix": f"bench{tag}.",
            "database_url": with_database(settings.db_url(), f"bench_{tag}"),
            # the workers' CF_HOME (their logs in `logs/`), inside the run's folder: never the
            # developer's own `.complaintflow`
            "home": settings.home / f"bench{tag}",
        }
    )
    ensure_topics(
        s,
        [
            RAW,
            REGISTERED,
            *[t for n, t in TOPICS.items() if n != RAW.name and n != REGISTERED.name],
        ],
    )
    return s
