"""PostgreSQL access: a connection pool and per-worker versioned migrations."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

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


class UnstorableValue(ValueError):
    """A value JSON cannot carry to PostgreSQL unchanged (NaN, Infinity, the NUL character,
    a naive datetime, a type with no agreed form): refused rather than altered."""


class JsonRows:
    """Many rows passed as ONE JSON parameter and unpacked by `jsonb_to_recordset`, with the
    column names and SQL types given once: `FROM {rows}` in a statement reads
    `jsonb_to_recordset(%s::jsonb) AS alias(name type, ...)`, and `rows.param(...)` is the
    value of that `%s`.

    Far cheaper per row than one array parameter per column (`unnest(%s::text[], ...)`):
    psycopg escapes every element of an array in Python, while `json.dumps` and PostgreSQL's
    JSON reader are both C. Each value reaches its column through the type's own input
    function, so it arrives exactly as given: datetimes (aware only) as ISO 8601 with their
    offset, dates, `Decimal` as its digits (for numeric), enums as their values, bytes as
    bytea's hex form, None as NULL, lists for array columns, dicts and lists for jsonb.
    """

    def __init__(self, alias: str, columns: str) -> None:
        """`columns`: "name type, name type, ..." (a reserved word as a name in double
        quotes; types without commas: no numeric(p,s))."""
        parts = [c.split() for c in columns.split(",")]
        if any(len(p) < 2 or not p[0].strip('"').isidentifier() for p in parts):
            raise ValueError(f"columns must read 'name type, ...', not {columns!r}")
        self.names = tuple(p[0].strip('"') for p in parts)
        self.sql = f"jsonb_to_recordset(%s::jsonb) AS {alias}({', '.join(map(' '.join, parts))})"

    def __str__(self) -> str:
        return self.sql

    def param(self, rows: Iterable[Sequence[Any]]) -> str:
        """The JSON of these rows, each a sequence of values in the order of the columns."""
        names = self.names
        return to_json([dict(zip(names, row, strict=True)) for row in rows])


def to_json(value: Any) -> str:
    """`value` as JSON for PostgreSQL to read back exactly (see `JsonRows`); raises
    `UnstorableValue` naming where it is for what JSON or PostgreSQL text cannot hold."""
    try:
        text = json.dumps(
            value, ensure_ascii=False, allow_nan=False, default=_plain, separators=(",", ":")
        )
    except ValueError as exc:
        raise UnstorableValue(_unstorable(value) or str(exc)) from exc
    # PostgreSQL's text holds no NUL; json.dumps writes one as \u0000 (a cheap test: a
    # literal backslash before "u0000" matches too, which the walk then clears)
    if "\\u0000" in text and (where := _unstorable(value)):
        raise UnstorableValue(where)
    return text


def _plain(value: Any) -> Any:
    """What JSON holds for a value json.dumps does not know."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise UnstorableValue(f"a datetime without a time zone ({value.isoformat()})")
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise UnstorableValue(f"{value} cannot be stored as JSON")
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, UUID):
        return str(value)
    raise UnstorableValue(f"no JSON form agreed for {type(value).__name__}: {value!r}")


def _unstorable(value: Any, where: str = "the value") -> str | None:
    """Where in `value` (rows of columns, as `JsonRows` makes them) the first value PostgreSQL
    would not get back unchanged is, and what it is."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where} is {value}: JSON has no NaN or Infinity"
    if isinstance(value, Decimal) and not value.is_finite():
        return f"{where} is Decimal({str(value)!r}): JSON has no NaN or Infinity"
    if isinstance(value, str) and "\x00" in value:
        return f"{where} holds the NUL character, which PostgreSQL text cannot"
    if isinstance(value, datetime) and value.utcoffset() is None:
        return f"{where} is a datetime without a time zone ({value.isoformat()})"
    if isinstance(value, dict):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return f"a key in {where} holds the NUL character, which PostgreSQL text cannot"
        if where == "the value" and isinstance(value, list):
            step = f"row {key}"
        elif where.startswith("row ") and "," not in where:
            step = f"{where}, column {key}"
        else:
            step = f"{where}[{key!r}]"
        found = _unstorable(item, step)
        if found:
            return found
    return None
