"""Routing's tables: the latest decision per complaint, which is also the owners' open load."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from services.routing.decision import Decision


def decision_of(conn: psycopg.Connection, complaint_id: str) -> tuple[Any, bool, str | None] | None:
    """(the decision as stored, open, source) of a complaint, if it has a row."""
    row = conn.execute(
        "SELECT decision, open, source FROM routing.decisions WHERE complaint_id = %s",
        (complaint_id,),
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def open_load(conn: psycopg.Connection) -> Counter[str]:
    """Open complaints per owner, as every routing instance sees them (the decisions table is
    the only record of it: no counter in memory to drift on a retried batch).

    Agents own at most their capacity, so this counts a few hundred rows of a partial index.
    """
    return Counter(
        dict(
            conn.execute(
                "SELECT owner, count(*) FROM routing.decisions WHERE open AND owner IS NOT NULL"
                " GROUP BY owner"
            ).fetchall()
        )
    )


def close(conn: psycopg.Connection, complaint_id: str, now: datetime) -> None:
    """The complaint is resolved or closed: its owner's load goes down."""
    row = conn.execute(
        "UPDATE routing.decisions SET open = false, updated_at = %s"
        " WHERE complaint_id = %s AND open RETURNING owner",
        (now, complaint_id),
    ).fetchone()
    if row is None:
        # Closed before its decision arrived: remember, so it is never counted as open.
        conn.execute(
            "INSERT INTO routing.decisions (complaint_id, version, open, updated_at)"
            " VALUES (%s, 0, false, %s) ON CONFLICT DO NOTHING",
            (complaint_id, now),
        )


def save(
    conn: psycopg.Connection,
    complaint_id: str,
    d: Decision,
    *,
    is_open: bool,
    occurred_at: datetime,
    now: datetime,
    source: str | None,
) -> None:
    """The complaint's latest decision."""
    conn.execute(
        "INSERT INTO routing.decisions (complaint_id, version, owner, department, priority,"
        " open, decision, occurred_at, updated_at, source)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (complaint_id) DO UPDATE SET version = EXCLUDED.version,"
        " owner = EXCLUDED.owner, department = EXCLUDED.department,"
        " priority = EXCLUDED.priority, open = EXCLUDED.open, decision = EXCLUDED.decision,"
        " updated_at = EXCLUDED.updated_at, source = EXCLUDED.source",
        (
            complaint_id,
            d.version,
            d.owner,
            d.department,
            d.priority.value,
            is_open,
            Jsonb(d.model_dump(mode="json")),
            occurred_at,
            now,
            source,
        ),
    )


def first_application(
    conn: psycopg.Connection, cause: str, complaint_id: str, now: datetime
) -> bool:
    """Record that the change `cause` is being applied; False if it already was (a replay)."""
    row = conn.execute(
        "INSERT INTO routing.applied_changes (cause, complaint_id, applied_at)"
        " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING cause",
        (cause, complaint_id, now),
    ).fetchone()
    return row is not None


def open_counts(conn: psycopg.Connection) -> list[tuple[str, str, int]]:
    """(department, priority, open complaints) for the open-complaints gauge."""
    return [
        (r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT department, priority, count(*) FROM routing.decisions"
            " WHERE open AND decision IS NOT NULL GROUP BY 1, 2"
        ).fetchall()
    ]


@dataclass(frozen=True)
class HeldChange:
    """A transfer, correction or reopen that came before the complaint's first decision."""

    cause: str
    complaint_id: str
    topic: str
    partition: int
    offset: int
    value: bytes
    headers: list[tuple[str, bytes]]
    held_at: datetime


def hold_change(conn: psycopg.Connection, h: HeldChange) -> None:
    """Keep a change until the first decision (a replayed one is kept once)."""
    conn.execute(
        'INSERT INTO routing.pending_changes (cause, complaint_id, topic, partition, "offset",'
        " value, headers, held_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (cause) DO NOTHING",
        (
            h.cause,
            h.complaint_id,
            h.topic,
            h.partition,
            h.offset,
            h.value,
            Jsonb([[k, v.decode("utf-8", "replace")] for k, v in h.headers]),
            h.held_at,
        ),
    )


def release_changes(conn: psycopg.Connection, complaint_id: str) -> list[HeldChange]:
    """The held changes of a complaint, removed from the hold, in the order they happened."""
    rows = conn.execute(
        "DELETE FROM routing.pending_changes WHERE complaint_id = %s RETURNING cause,"
        ' complaint_id, topic, partition, "offset", value, headers, held_at',
        (complaint_id,),
    ).fetchall()
    held = [
        HeldChange(
            r[0], r[1], r[2], r[3], r[4], bytes(r[5]), [(k, v.encode()) for k, v in r[6]], r[7]
        )
        for r in rows
    ]
    return sorted(held, key=lambda h: (h.partition, h.offset))
