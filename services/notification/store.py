"""The notification worker's SQL: what it knows of complaints, the outbox (one row per
notification key, with its delivery state) and the outcomes awaiting publication."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from schemas.common import Language, Priority
from schemas.registered import RegisteredComplaint
from schemas.routed import RoutedComplaint
from services.notification.compose import Facts, Notice

FACTS = (
    "complaint_id, reference, language, time_zone, utc_offset, customer_token, subject,"
    " description, category, occurred_at, historical, owner, department, priority, sensitive,"
    " special_periods, resolve_deadline, source, external_ref, contact_kind, follow_up_deadline,"
    " surveyed, safety, category_display"
)
DUE = ("queued", "retrying", "deferred")


def _facts(row: tuple[Any, ...] | None) -> Facts | None:
    if row is None:
        return None
    (
        cid,
        ref,
        lang,
        tz,
        off,
        token,
        subj,
        desc,
        cat,
        occ,
        hist,
        owner,
        dept,
        prio,
        sens,
        periods,
        deadline,
        source,
        external_ref,
        contact_kind,
        follow_up_deadline,
        surveyed,
        safety,
        category_display,
    ) = row
    return Facts(
        complaint_id=cid,
        reference=ref,
        language=Language(lang) if lang else None,
        time_zone=tz,
        utc_offset=off,
        customer_token=token,
        subject=subj,
        description=desc,
        category=cat,
        category_display=dict(category_display or {}),
        occurred_at=occ,
        historical=hist,
        owner=owner,
        department=dept,
        priority=Priority(prio) if prio else None,
        sensitive=sens,
        special_periods=list(periods or []),
        resolve_deadline=deadline,
        source=source,
        external_ref=external_ref,
        contact_kind=contact_kind,
        follow_up_deadline=follow_up_deadline,
        surveyed=surveyed,
        safety=safety,
    )


def contact_kind(masked: str | None) -> str | None:
    """'email' or 'phone', from the masked contact (`j***@example.com`, `138****5678`)."""
    if not masked:
        return None
    return "email" if "@" in masked else "phone"


def facts(conn: psycopg.Connection, complaint_id: str) -> Facts | None:
    row = conn.execute(
        f"SELECT {FACTS} FROM notification.complaints WHERE complaint_id = %s", (complaint_id,)
    ).fetchone()
    return _facts(row)


def remember_registered(
    conn: psycopg.Connection,
    m: RegisteredComplaint,
    *,
    historical: bool,
    ack_wait_until: datetime | None,
    now: datetime,
) -> Facts:
    row = conn.execute(
        "INSERT INTO notification.complaints (complaint_id, reference, language, time_zone,"
        " utc_offset, customer_token, subject, description, category, occurred_at, historical,"
        " ack_wait_until, updated_at, source, external_ref, contact_kind)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (complaint_id) DO UPDATE SET reference = EXCLUDED.reference,"
        " language = EXCLUDED.language, time_zone = EXCLUDED.time_zone,"
        " utc_offset = EXCLUDED.utc_offset, customer_token = EXCLUDED.customer_token,"
        " subject = EXCLUDED.subject, description = EXCLUDED.description,"
        " category = COALESCE(notification.complaints.category, EXCLUDED.category),"
        " occurred_at = EXCLUDED.occurred_at, historical = EXCLUDED.historical,"
        " ack_wait_until = CASE WHEN notification.complaints.reference IS NULL"
        "   THEN EXCLUDED.ack_wait_until ELSE notification.complaints.ack_wait_until END,"
        " updated_at = EXCLUDED.updated_at, source = EXCLUDED.source,"
        " external_ref = EXCLUDED.external_ref, contact_kind = EXCLUDED.contact_kind"
        f" RETURNING {FACTS}",
        (
            m.complaint_id,
            m.reference,
            m.language.value,
            m.time_zone,
            m.source_utc_offset,
            m.customer_token,
            m.subject,
            m.description,
            m.category,
            m.occurred_at,
            historical,
            ack_wait_until,
            now,
            m.source,
            m.external_ref,
            contact_kind(m.contact_masked),
        ),
    ).fetchone()
    found = _facts(row)
    assert found is not None
    return found


def remember_routed(
    conn: psycopg.Connection, r: RoutedComplaint, now: datetime
) -> tuple[Facts | None, Facts]:
    """The facts before and after this routing decision (an older version changes nothing)."""
    before = _facts(
        conn.execute(
            f"SELECT {FACTS} FROM notification.complaints WHERE complaint_id = %s FOR UPDATE",
            (r.complaint_id,),
        ).fetchone()
    )
    row = conn.execute(
        "INSERT INTO notification.complaints (complaint_id, category, owner, department, priority,"
        " sensitive, special_periods, routed_version, updated_at, safety, category_display)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (complaint_id) DO UPDATE SET category = EXCLUDED.category,"
        " category_display = EXCLUDED.category_display,"
        " owner = EXCLUDED.owner, department = EXCLUDED.department,"
        " priority = EXCLUDED.priority, sensitive = EXCLUDED.sensitive,"
        " special_periods = EXCLUDED.special_periods, routed_version = EXCLUDED.routed_version,"
        " safety = EXCLUDED.safety,"
        " updated_at = EXCLUDED.updated_at"
        " WHERE COALESCE(notification.complaints.routed_version, 0) < EXCLUDED.routed_version"
        f" RETURNING {FACTS}",
        (
            r.complaint_id,
            r.category,
            r.owner,
            r.department,
            r.priority.value,
            r.sensitive,
            list(r.special_periods),
            r.version,
            now,
            "safety" in r.tags,
            Jsonb(r.category_display),
        ),
    ).fetchone()
    after = _facts(row)
    return before, after if after is not None else before  # type: ignore[return-value]


def remember_deadline(
    conn: psycopg.Connection,
    complaint_id: str,
    deadline: datetime,
    now: datetime,
    *,
    priority: Priority,
    department: str,
) -> Facts:
    """The resolve deadline, and the SLA's priority and department until routing's own
    decision is seen (topics arrive in any order; routing's decision wins)."""
    row = conn.execute(
        "INSERT INTO notification.complaints (complaint_id, resolve_deadline, updated_at,"
        " priority, department) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (complaint_id) DO UPDATE"
        " SET resolve_deadline = EXCLUDED.resolve_deadline, updated_at = EXCLUDED.updated_at,"
        " priority = COALESCE(notification.complaints.priority, EXCLUDED.priority),"
        " department = COALESCE(notification.complaints.department, EXCLUDED.department)"
        f" RETURNING {FACTS}",
        (complaint_id, deadline, now, priority.value, department),
    ).fetchone()
    found = _facts(row)
    assert found is not None
    return found


def stop_waiting(conn: psycopg.Connection, complaint_id: str) -> None:
    conn.execute(
        "UPDATE notification.complaints SET ack_wait_until = NULL WHERE complaint_id = %s",
        (complaint_id,),
    )


def waited_long_enough(conn: psycopg.Connection, now: datetime, limit: int = 200) -> list[Facts]:
    """Complaints whose acknowledgement has waited its time for a deadline: it goes without."""
    rows = conn.execute(
        "UPDATE notification.complaints SET ack_wait_until = NULL WHERE complaint_id IN"
        " (SELECT complaint_id FROM notification.complaints WHERE ack_wait_until <= %s"
        "  ORDER BY ack_wait_until LIMIT %s FOR UPDATE SKIP LOCKED)"
        f" RETURNING {FACTS}",
        (now, limit),
    ).fetchall()
    return [f for f in map(_facts, rows) if f is not None]


def record_many(
    conn: psycopg.Connection, rows: list[tuple[Notice, str, str, str | None]], now: datetime
) -> set[str]:
    """Record (notice, complaint id, state, detail) rows in one statement; the keys that are
    new (a key recorded before is a replay and keeps its first row)."""
    if not rows:
        return set()
    cols: list[list[Any]] = [[] for _ in range(13)]
    for notice, complaint_id, state, detail in rows:
        values = (
            notice.key,
            complaint_id,
            notice.kind,
            notice.audience.value,
            notice.recipient,
            notice.channel,
            notice.language.value,
            notice.subject,
            notice.text,
            notice.html,
            notice.urgent,
            state,
            ((notice.not_before or now) if state in DUE else None, detail),
        )
        for col, value in zip(cols, values, strict=True):
            col.append(value)
    due, details = zip(*cols[12], strict=True)
    found = conn.execute(
        "INSERT INTO notification.outbox (notification_key, complaint_id, kind, audience,"
        " recipient, channel, language, subject, body, html, urgent, state, attempts,"
        " next_attempt_at, detail, created_at, updated_at)"
        " SELECT k, c, kd, a, r, ch, l, s, b, h, u, st, 0, n, d, %s, %s FROM unnest("
        " %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
        " %s::text[], %s::text[], %s::text[], %s::bool[], %s::text[], %s::timestamptz[],"
        " %s::text[]) AS u(k, c, kd, a, r, ch, l, s, b, h, u, st, n, d)"
        " ON CONFLICT DO NOTHING RETURNING notification_key",
        (now, now, *cols[:12], list(due), list(details)),
    ).fetchall()
    return {row[0] for row in found}


def fold_progress(
    conn: psycopg.Connection, notice: Notice, complaint_id: str, now: datetime
) -> bool:
    """Fold a progress step into the complaint's progress message that has not gone out yet
    (its text becomes the latest step; its time stays); False if none is waiting."""
    row = conn.execute(
        "UPDATE notification.outbox SET subject = %s, body = %s, html = %s, updated_at = %s"
        " WHERE complaint_id = %s AND kind = 'progress' AND state IN ('queued', 'deferred')"
        " RETURNING 1",
        (notice.subject, notice.text, notice.html, now, complaint_id),
    ).fetchone()
    return row is not None


def last_progress(conn: psycopg.Connection, complaint_id: str) -> datetime | None:
    """When the complaint's latest progress message went out (or was due to)."""
    row = conn.execute(
        "SELECT max(COALESCE(next_attempt_at, updated_at, created_at)) FROM notification.outbox"
        " WHERE complaint_id = %s AND kind = 'progress'",
        (complaint_id,),
    ).fetchone()
    return row[0] if row else None


def supersede(
    conn: psycopg.Connection, complaint_id: str, kinds: list[str], now: datetime, detail: str
) -> int:
    """Notices of `kinds` not yet sent become `skipped` (e.g. progress once the resolution is
    told); their outcomes are published by the loop."""
    rows = conn.execute(
        "UPDATE notification.outbox SET state = 'skipped', detail = %s, next_attempt_at = NULL,"
        " updated_at = %s WHERE complaint_id = %s AND kind = ANY(%s)"
        " AND state IN ('queued', 'deferred', 'retrying') RETURNING notification_key, attempts",
        (detail, now, complaint_id, kinds),
    ).fetchall()
    if rows:
        conn.cursor().executemany(
            "INSERT INTO notification.outcomes (notification_key, outcome, attempts, detail, at)"
            " VALUES (%s, 'skipped', %s, %s, %s)",
            [(key, attempts, detail, now) for key, attempts in rows],
        )
    return len(rows)


def remember_follow_up(
    conn: psycopg.Connection, complaint_id: str, deadline: datetime, now: datetime
) -> Facts | None:
    row = conn.execute(
        "UPDATE notification.complaints SET follow_up_deadline = %s, surveyed = false,"
        f" updated_at = %s WHERE complaint_id = %s RETURNING {FACTS}",
        (deadline, now, complaint_id),
    ).fetchone()
    return _facts(row)


def mark_surveyed(conn: psycopg.Connection, complaint_id: str, now: datetime) -> None:
    conn.execute(
        "UPDATE notification.complaints SET surveyed = true, updated_at = %s"
        " WHERE complaint_id = %s",
        (now, complaint_id),
    )


@dataclass(frozen=True)
class Episode:
    revision: int
    announced_count: int
    announced_revision: int


def alert_episode(
    conn: psycopg.Connection, alert_key: str, revision: int, status: str, now: datetime
) -> tuple[Episode | None, bool]:
    """What management was told of the episode before, and whether this revision is new
    (an older or repeated revision changes nothing)."""
    before = conn.execute(
        "SELECT revision, announced_count, announced_revision FROM notification.alerts"
        " WHERE alert_key = %s FOR UPDATE",
        (alert_key,),
    ).fetchone()
    known = Episode(*before) if before else None
    if known is not None and known.revision >= revision:
        return known, False
    conn.execute(
        "INSERT INTO notification.alerts (alert_key, revision, status, announced_count,"
        " announced_revision, updated_at) VALUES (%s, %s, %s, 0, 0, %s)"
        " ON CONFLICT (alert_key) DO UPDATE SET revision = EXCLUDED.revision,"
        " status = EXCLUDED.status, updated_at = EXCLUDED.updated_at",
        (alert_key, revision, status, now),
    )
    return known, True


def alert_announced(conn: psycopg.Connection, alert_key: str, revision: int, count: int) -> None:
    conn.execute(
        "UPDATE notification.alerts SET announced_count = %s, announced_revision = %s"
        " WHERE alert_key = %s",
        (count, revision, alert_key),
    )


@dataclass(frozen=True)
class Claimed:
    key: str
    audience: str
    recipient: str
    channel: str
    subject: str
    text: str
    html: str | None
    attempts: int
    """Including this one."""
    kind: str = ""
    complaint_id: str = ""
    urgent: bool = False


def claim(
    conn: psycopg.Connection, channel: str, now: datetime, lease: timedelta
) -> Claimed | None:
    """Take the most overdue due notice of `channel` for one send, under a lease."""
    row = conn.execute(
        "UPDATE notification.outbox SET state = 'sending', lease_until = %s,"
        " attempts = attempts + 1, updated_at = %s WHERE notification_key = ("
        " SELECT notification_key FROM notification.outbox WHERE channel = %s"
        " AND state IN ('queued', 'retrying', 'deferred') AND next_attempt_at <= %s"
        " ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " RETURNING notification_key, audience, recipient, channel, subject, body, html, attempts,"
        " kind, complaint_id, urgent",
        (now + lease, now, channel, now),
    ).fetchone()
    return Claimed(*row) if row else None


def sent_recently(
    conn: psycopg.Connection, recipient: str, channel: str, since: datetime
) -> tuple[int, datetime | None]:
    """How many notices went to `recipient` on `channel` since then, and the earliest."""
    row = conn.execute(
        "SELECT count(*), min(updated_at) FROM notification.outbox WHERE state = 'sent'"
        " AND recipient = %s AND channel = %s AND updated_at >= %s",
        (recipient, channel, since),
    ).fetchone()
    return (int(row[0]), row[1]) if row else (0, None)


def hold_back(
    conn: psycopg.Connection,
    key: str,
    *,
    until: datetime,
    attempts: int,
    now: datetime,
    detail: str,
) -> None:
    """A claimed notice waits (a rate limit): `deferred`, the claim not counted as an attempt."""
    conn.execute(
        "UPDATE notification.outbox SET state = 'deferred', attempts = %s, next_attempt_at = %s,"
        " lease_until = NULL, detail = %s, updated_at = %s WHERE notification_key = %s",
        (attempts - 1, until, detail, now, key),
    )
    conn.execute(
        "INSERT INTO notification.outcomes (notification_key, outcome, attempts, detail,"
        " next_attempt_at, at) VALUES (%s, 'deferred', %s, %s, %s, %s)",
        (key, attempts - 1, detail, until, now),
    )


def next_due(conn: psycopg.Connection, channel: str) -> datetime | None:
    row = conn.execute(
        "SELECT min(next_attempt_at) FROM notification.outbox WHERE channel = %s"
        " AND state IN ('queued', 'retrying', 'deferred')",
        (channel,),
    ).fetchone()
    return row[0] if row else None


def settle(
    conn: psycopg.Connection,
    key: str,
    *,
    state: str,
    attempts: int,
    now: datetime,
    detail: str | None = None,
    next_attempt_at: datetime | None = None,
    outcome: str | None = None,
) -> None:
    """Record what became of a send (and the outcome to publish)."""
    conn.execute(
        "UPDATE notification.outbox SET state = %s, detail = %s, next_attempt_at = %s,"
        " lease_until = NULL, updated_at = %s WHERE notification_key = %s",
        (state, detail, next_attempt_at, now, key),
    )
    conn.execute(
        "INSERT INTO notification.outcomes (notification_key, outcome, attempts, detail,"
        " next_attempt_at, at) VALUES (%s, %s, %s, %s, %s, %s)",
        (key, outcome or state, attempts, detail, next_attempt_at, now),
    )


def expire_leases(conn: psycopg.Connection, now: datetime) -> int:
    """Sends whose worker stopped before recording them: `unknown`, never sent again."""
    rows = conn.execute(
        "UPDATE notification.outbox SET state = 'unknown', lease_until = NULL, updated_at = %s,"
        " detail = 'the worker stopped between sending and recording; not sent again'"
        " WHERE notification_key IN (SELECT notification_key FROM notification.outbox"
        " WHERE state = 'sending' AND lease_until < %s FOR UPDATE SKIP LOCKED)"
        " RETURNING notification_key, attempts, detail",
        (now, now),
    ).fetchall()
    for key, attempts, detail in rows:
        conn.execute(
            "INSERT INTO notification.outcomes (notification_key, outcome, attempts, detail, at)"
            " VALUES (%s, 'unknown', %s, %s, %s)",
            (key, attempts, detail, now),
        )
    return len(rows)


@dataclass(frozen=True)
class Outcome:
    id: int
    key: str
    complaint_id: str
    kind: str
    audience: str
    recipient: str
    channel: str
    language: str
    outcome: str
    attempts: int
    detail: str | None
    next_attempt_at: datetime | None
    at: datetime


def unpublished(conn: psycopg.Connection, limit: int = 500) -> list[Outcome]:
    rows = conn.execute(
        "SELECT o.id, o.notification_key, b.complaint_id, b.kind, b.audience, b.recipient,"
        " b.channel, b.language, o.outcome, o.attempts, o.detail, o.next_attempt_at, o.at"
        " FROM notification.outcomes o JOIN notification.outbox b USING (notification_key)"
        " WHERE o.published_at IS NULL ORDER BY o.id LIMIT %s FOR UPDATE OF o SKIP LOCKED",
        (limit,),
    ).fetchall()
    return [Outcome(*row) for row in rows]


def published(conn: psycopg.Connection, ids: list[int], now: datetime) -> None:
    conn.execute(
        "UPDATE notification.outcomes SET published_at = %s WHERE id = ANY(%s)", (now, ids)
    )
