"""Routing's trained classifiers and what they learn from, in PostgreSQL: every version of the
model and which one is in use (the latest trained, unless another was activated or rolled back
to since), the rows of the last labelled file and agents' corrections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from services.routing.model import TextModel

FILE = "file"
CORRECTION = "correction"


@dataclass(frozen=True)
class Example:
    """A text and the category it belongs to; corrections can count more than file rows."""

    text: str
    category: str
    origin: str = FILE
    id: int = 0
    """Its place in the order examples were recorded (0: not stored)."""


@dataclass(frozen=True)
class ModelInfo:
    version: int
    created_at: datetime
    origin: str
    examples: int
    corrections: int
    categories: list[str]
    evaluation: dict[str, Any] | None


def latest_version(conn: psycopg.Connection) -> int | None:
    """The latest version trained, or None before any was."""
    row = conn.execute("SELECT max(version) FROM routing.models").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def in_use(conn: psycopg.Connection) -> int | None:
    """The version routing workers use: the one last trained, activated or rolled back to
    (None before any was trained)."""
    row = conn.execute(
        "SELECT coalesce((SELECT version FROM routing.model_in_use),"
        " (SELECT max(version) FROM routing.models))"
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def activate(conn: psycopg.Connection, version: int, why: str) -> None:
    """Make a stored version the one in use (ValueError if there is no such version)."""
    found = conn.execute("SELECT 1 FROM routing.models WHERE version = %s", (version,)).fetchone()
    if found is None:
        raise _missing(conn, version)
    conn.execute(
        "INSERT INTO routing.model_in_use (version, since, why) VALUES (%s, now(), %s)"
        " ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version, since = EXCLUDED.since,"
        " why = EXCLUDED.why",
        (version, why),
    )


def previous(conn: psycopg.Connection) -> int:
    """The newest stored version older than the one in use: where a rollback goes."""
    current = in_use(conn)
    if current is None:
        raise ValueError("no model has been trained yet: nothing to roll back")
    row = conn.execute(
        "SELECT max(version) FROM routing.models WHERE version < %s", (current,)
    ).fetchone()
    if row is None or row[0] is None:
        raise ValueError(f"v{current} is the oldest stored model: nothing to roll back to")
    return int(row[0])


def load(conn: psycopg.Connection, version: int) -> TextModel:
    """A stored model (ValueError if its data is not a model)."""
    row = conn.execute("SELECT model FROM routing.models WHERE version = %s", (version,)).fetchone()
    if row is None:
        raise _missing(conn, version)
    return TextModel.from_bytes(bytes(row[0]))


def _missing(conn: psycopg.Connection, version: int) -> ValueError:
    stored = ", ".join(f"v{m.version}" for m in models(conn)) or "none"
    return ValueError(f"no model version {version} (stored: {stored})")


def save(
    conn: psycopg.Connection,
    model: TextModel,
    *,
    origin: str,
    examples: int,
    corrections: Sequence[Example],
    evaluation: dict[str, Any] | None = None,
) -> int:
    """Store a new version (the next number), make it the one in use and return it; workers
    pick it up once committed.
    `corrections` are those it learnt from: corrections recorded later are news for the next."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('routing.models'))")
    version = (latest_version(conn) or 0) + 1
    conn.execute(
        "INSERT INTO routing.models (version, created_at, origin, examples, corrections,"
        " learnt_up_to, categories, evaluation, model)"
        " VALUES (%s, now(), %s, %s, %s, %s, %s, %s, %s)",
        (
            version,
            origin,
            examples,
            len(corrections),
            max((e.id for e in corrections), default=0),
            Jsonb(list(model.classes)),
            Jsonb(evaluation) if evaluation is not None else None,
            model.to_bytes(),
        ),
    )
    activate(conn, version, f"trained ({origin})")
    return version


def models(conn: psycopg.Connection) -> list[ModelInfo]:
    """Every stored version, newest first (without the model data)."""
    rows = conn.execute(
        "SELECT version, created_at, origin, examples, corrections, categories, evaluation"
        " FROM routing.models ORDER BY version DESC"
    ).fetchall()
    return [ModelInfo(*row) for row in rows]


def replace_file_examples(conn: psycopg.Connection, examples: Sequence[Example]) -> None:
    """The rows of a newly trained file replace those of the last one; corrections stay."""
    conn.execute("DELETE FROM routing.examples WHERE origin = %s", (FILE,))
    with conn.cursor().copy(
        "COPY routing.examples (origin, text, category, added_at) FROM STDIN"
    ) as copy:
        for e in examples:
            copy.write_row((FILE, e.text, e.category, "now"))


def record_correction(
    conn: psycopg.Connection, complaint_id: str, text: str, category: str, now: datetime
) -> None:
    """An agent's correction of a complaint's category: a label for the next training (the
    latest correction of a complaint wins, and counts as news again)."""
    conn.execute(
        "INSERT INTO routing.examples (origin, complaint_id, text, category, added_at)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (complaint_id) DO UPDATE"
        " SET text = EXCLUDED.text, category = EXCLUDED.category, added_at = EXCLUDED.added_at,"
        " id = nextval(pg_get_serial_sequence('routing.examples', 'id'))",
        (CORRECTION, complaint_id, text, category, now),
    )


def examples(conn: psycopg.Connection) -> list[Example]:
    """Everything stored to learn from: file rows first, then corrections."""
    rows = conn.execute(
        "SELECT text, category, origin, id FROM routing.examples ORDER BY origin = %s DESC, id",
        (FILE,),
    ).fetchall()
    return [Example(*row) for row in rows]


def corrections_since(conn: psycopg.Connection, version: int | None) -> int:
    """Corrections recorded since model `version` was trained (all of them without one)."""
    row = conn.execute(
        "SELECT count(*) FROM routing.examples WHERE origin = %s AND id >"
        " coalesce((SELECT learnt_up_to FROM routing.models WHERE version = %s), 0)",
        (CORRECTION, version),
    ).fetchone()
    return int(row[0]) if row else 0


def older_than(conn: psycopg.Connection, hours: float) -> bool:
    """Whether the latest model was trained at least `hours` ago (by the database's clock,
    the same for every instance), or none was."""
    row = conn.execute(
        "SELECT coalesce(now() - max(created_at) >= make_interval(secs => %s), true)"
        " FROM routing.models",
        (hours * 3600,),
    ).fetchone()
    return bool(row and row[0])
