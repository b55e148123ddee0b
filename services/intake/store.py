"""Intake's tables: de-duplication, the PII vault, known complaints, held (early) events.

Set-based statements, one round trip per kind of work in a batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

from services.intake.pii import Vault
from services.kernel.db import JsonRows
from services.kernel.sealing import KeyRing

_KEYS = JsonRows("k", "source text, event_id text")


def first_seen(
    conn: psycopg.Connection, keys: Sequence[tuple[str, str]], now: datetime
) -> set[tuple[str, str]]:
    """Of (source, event_id) pairs, those never seen before (now recorded as seen)."""
    if not keys:
        return set()
    rows = conn.execute(
        "INSERT INTO intake.seen_events (source, event_id, seen_at)"
        f" SELECT source, event_id, %s FROM {_KEYS} ON CONFLICT DO NOTHING"
        " RETURNING source, event_id",
        (now, _KEYS.param(keys)),
    ).fetchall()
    return {(r[0], r[1]) for r in rows}


def known_complaints(conn: psycopg.Connection, ids: Iterable[str]) -> set[str]:
    wanted = list(set(ids))
    if not wanted:
        return set()
    rows = conn.execute(
        "SELECT complaint_id FROM intake.complaints WHERE complaint_id = ANY(%s)", (wanted,)
    ).fetchall()
    return {r[0] for r in rows}


@dataclass(frozen=True)
class Earlier:
    complaint_id: str
    repeat_count: int


def latest_by_customer(
    conn: psycopg.Connection, tokens: Iterable[str], since: datetime
) -> dict[tuple[str, str | None], Earlier]:
    """The latest complaint per (customer token, category) registered since `since`."""
    wanted = list(set(tokens))
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT DISTINCT ON (customer_token, category) customer_token, category, complaint_id,"
        " repeat_count FROM intake.complaints"
        " WHERE customer_token = ANY(%s) AND registered_at > %s"
        " ORDER BY customer_token, category, registered_at DESC",
        (wanted, since),
    ).fetchall()
    return {(r[0], r[1]): Earlier(r[2], r[3]) for r in rows}


def by_reference(conn: psycopg.Connection, refs: Iterable[str]) -> dict[str, Earlier]:
    """Earlier complaints by our reference or by complaint id."""
    wanted = list(set(refs))
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT reference, complaint_id, repeat_count FROM intake.complaints"
        " WHERE reference = ANY(%s) OR complaint_id = ANY(%s)",
        (wanted, wanted),
    ).fetchall()
    out: dict[str, Earlier] = {}
    for ref, cid, count in rows:
        out[ref] = out[cid] = Earlier(cid, count)
    return out


_COMPLAINTS = JsonRows(
    "c",
    "complaint_id text, customer_token text, category text, registered_at timestamptz,"
    " repeat_count int, reference text, source text, external_ref text",
)


def save_complaints(conn: psycopg.Connection, rows: list[tuple[object, ...]]) -> None:
    """(complaint_id, customer_token, category, registered_at, repeat_count, reference,
    source, external_ref) rows."""
    if rows:
        conn.execute(
            "INSERT INTO intake.complaints (complaint_id, customer_token, category,"
            " registered_at, repeat_count, reference, source, external_ref)"
            f" SELECT * FROM {_COMPLAINTS} ON CONFLICT DO NOTHING",
            (_COMPLAINTS.param(rows),),
        )


_CONTACTS = JsonRows(
    "c", "complaint_id text, customer_token text, sealed bytea, sealed_at timestamptz"
)


def save_contacts(conn: psycopg.Connection, rows: list[tuple[str, str, bytes, datetime]]) -> None:
    """(complaint_id, customer_token, sealed, sealed_at) rows of the PII vault."""
    if rows:
        conn.execute(
            "INSERT INTO intake.contacts (complaint_id, customer_token, sealed, sealed_at)"
            f" SELECT * FROM {_CONTACTS} ON CONFLICT DO NOTHING",
            (_CONTACTS.param(rows),),
        )


def contacts_of(conn: psycopg.Connection, complaint_ids: Iterable[str]) -> dict[str, bytes]:
    """The sealed contact data of each of these complaints (as given when it registered)."""
    wanted = list(set(complaint_ids))
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT complaint_id, sealed FROM intake.contacts WHERE complaint_id = ANY(%s)",
        (wanted,),
    ).fetchall()
    return {r[0]: bytes(r[1]) for r in rows}


def latest_contact(conn: psycopg.Connection, customer_token: str) -> bytes | None:
    """The sealed contact data the customer gave most recently."""
    row = conn.execute(
        "SELECT sealed FROM intake.contacts WHERE customer_token = %s"
        " ORDER BY sealed_at DESC LIMIT 1",
        (customer_token,),
    ).fetchone()
    return bytes(row[0]) if row else None


def contact_of(
    conn: psycopg.Connection, key: bytes | KeyRing, customer_token: str
) -> dict[str, str | None] | None:
    """The clear contact data a customer gave most recently, opened with the PII key.

    Notification's one read of intake (at send time only): contacts never leave the vault
    otherwise, nor travel on a topic.
    """
    sealed = latest_contact(conn, customer_token)
    return Vault(key).open(sealed) if sealed is not None else None


@dataclass(frozen=True)
class Held:
    source: str
    event_id: str
    complaint_id: str
    topic: str
    partition: int
    offset: int
    sealed: bytes
    held_at: datetime


def hold(conn: psycopg.Connection, rows: list[Held]) -> None:
    if rows:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO intake.pending (source, event_id, complaint_id, topic, partition,"
                ' "offset", sealed, held_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)'
                " ON CONFLICT DO NOTHING",
                [
                    (
                        h.source,
                        h.event_id,
                        h.complaint_id,
                        h.topic,
                        h.partition,
                        h.offset,
                        h.sealed,
                        h.held_at,
                    )
                    for h in rows
                ],
            )


def release(conn: psycopg.Connection, complaint_ids: Iterable[str]) -> list[Held]:
    """Held events of these complaints, removed from the hold, oldest first."""
    wanted = list(set(complaint_ids))
    if not wanted:
        return []
    return _take(conn, "complaint_id = ANY(%s)", (wanted,))


def expired(conn: psycopg.Connection, partitions: Iterable[int], before: datetime) -> list[Held]:
    """Held events of these partitions older than `before`, removed from the hold."""
    parts = list(partitions)
    if not parts:
        return []
    return _take(conn, "partition = ANY(%s) AND held_at < %s", (parts, before))


def _take(conn: psycopg.Connection, where: str, params: tuple[object, ...]) -> list[Held]:
    rows = conn.execute(
        "DELETE FROM intake.pending WHERE " + where + " RETURNING source, event_id,"
        ' complaint_id, topic, partition, "offset", sealed, held_at',
        params,
    ).fetchall()
    held = [Held(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6]), r[7]) for r in rows]
    return sorted(held, key=lambda h: (h.held_at, h.partition, h.offset))


def forget_seen(conn: psycopg.Connection, keys: Sequence[tuple[str, str]]) -> None:
    """Forget (source, event_id) pairs that were dead-lettered after they were first seen, so
    that the event sent again (a replay, or the call center's retry) is processed."""
    if keys:
        conn.execute(
            "DELETE FROM intake.seen_events WHERE (source, event_id) IN"
            " (SELECT * FROM unnest(%s::text[], %s::text[]))",
            ([k[0] for k in keys], [k[1] for k in keys]),
        )


def purge_seen(conn: psycopg.Connection, before: datetime) -> int:
    """Forget de-duplication keys older than the retention window."""
    return conn.execute("DELETE FROM intake.seen_events WHERE seen_at < %s", (before,)).rowcount
