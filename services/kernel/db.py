"""PostgreSQL access: a connection pool and per-worker versioned migrations."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

Migration = tuple[int, str]
"""(version, SQL). Versions increase; applied ones are never edited, only followed."""


def with_database(url: str, name: str) -> str:
    """`url` naming database `name` instead, its other parts (a `passfile`...) kept."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def open_pool(url: str, *, name: str, max_size: int = 4) -> ConnectionPool:
    """A pool of connections to `url`, opened and checked before it is returned."""
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        name=name,
        open=False,
        kwargs={
            "application_name": f"complaintflow-{name}",
            # Plan every statement with its parameters. A cached generic plan made while a
            # table was small (a sequential scan for `= ANY(%s)`) is otherwise kept as the
            # table grows: intake's repeat lookup went from 1 ms to 86 ms per batch that way.
            "options": "-c plan_cache_mode=force_custom_plan",
        },
    )
    try:
        pool.open(wait=True, timeout=30)
    except BaseException:
        pool.close()  # or it keeps connecting in the background
        raise
    return pool


def migrate(conn: psycopg.Connection, schema: str, migrations: Sequence[Migration]) -> int:
    """Apply the migrations of one worker's schema not applied yet; returns how many ran.

    An advisory lock keeps several instances of a worker from migrating at once.
    """
    applied_now = 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"migrate:{schema}",))
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations '
            "(version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute(f'SELECT version FROM "{schema}".schema_migrations')}
        for version, sql in sorted(migrations):
            if version in done:
                continue
            conn.execute(sql.replace("{schema}", f'"{schema}"'))  # type: ignore[arg-type]
            conn.execute(
                f'INSERT INTO "{schema}".schema_migrations (version) VALUES (%s)', (version,)
            )
            applied_now += 1
            log.info("applied migration %s.%d", schema, version)
    return applied_now
