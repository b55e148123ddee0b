"""The notification worker's SQL: what it knows of complaints, the outbox (one row per
notification key, with its delivery state) and the outcomes awaiting publication."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from schemas.common import Language, Priority
from schemas.lifecycle import LifecycleEvent
from schemas.registered import RegisteredComplaint
from schemas.routed import RoutedComplaint
from services.kernel.db import JsonRows
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


_FACT_COLUMNS = FACTS.split(", ")
_ROW = (*_FACT_COLUMNS, "ack_wait_until", "routed_version", "updated_at", "survey_closed")
"""Every column of `notification.complaints`, FACTS first."""
_NEW = {c: None for c in _ROW} | {
    "description": "",
    "historical": False,
    "sensitive": False,
    "special_periods": [],
    "category_display": {},
    "surveyed": False,
    "safety": False,
}
"""A row as the table's defaults make it."""
_TYPES = {
    "historical": "bool",
    "sensitive": "bool",
    "surveyed": "bool",
    "safety": "bool",
    "special_periods": "text[]",
    "category_display": "jsonb",
    "occurred_at": "timestamptz",
    "resolve_deadline": "timestamptz",
    "follow_up_deadline": "timestamptz",
    "ack_wait_until": "timestamptz",
    "updated_at": "timestamptz",
    "routed_version": "int",
}
_KNOWN = JsonRows("u", ", ".join(f"{c} {_TYPES.get(c, 'text')}" for c in _ROW))


class Known:
    """What notification knows of one poll's complaints: read in one statement, changed
    record by record in memory exactly as the statements of the same names would change
    the table, and written back in one (`write`).

    Rows hold what the table would give back (enum values as text, times in the session's
    time zone), so a record sees the complaint as it would have read it from the table.
    """

    def __init__(self, conn: psycopg.Connection, complaint_ids: Iterable[str]) -> None:
        self.tz = conn.info.timezone
        self.rows: dict[str, dict[str, Any]] = {}
        self.changed: set[str] = set()
        ids = list(set(complaint_ids))
        if ids:
            for r in conn.execute(
                f"SELECT {', '.join(_ROW)} FROM notification.complaints"
                " WHERE complaint_id = ANY(%s) FOR UPDATE",
                (ids,),
            ).fetchall():
                self.rows[r[0]] = dict(zip(_ROW, r, strict=True))

    def _t(self, at: datetime | None) -> datetime | None:
        return None if at is None else at.astimezone(self.tz)

    def _facts(self, row: dict[str, Any] | None) -> Facts | None:
        return None if row is None else _facts(tuple(row[c] for c in _FACT_COLUMNS))

    def _upsert(self, complaint_id: str, **values: Any) -> dict[str, Any]:
        row = self.rows.get(complaint_id)
        if row is None:
            row = self.rows[complaint_id] = {**_NEW, "complaint_id": complaint_id}
        row.update(values)
        self.changed.add(complaint_id)
        return row

    def facts(self, complaint_id: str) -> Facts | None:
        """As `facts` reads it."""
        return self._facts(self.rows.get(complaint_id))

    def first_registration(self, complaint_id: str) -> bool:
        """Whether the complaint's registration has not been seen yet."""
        row = self.rows.get(complaint_id)
        return row is None or row["reference"] is None

    def routed(self, complaint_id: str) -> bool:
        """Whether a routing decision of the complaint has been seen."""
        row = self.rows.get(complaint_id)
        return row is not None and bool(row["routed_version"])

    def remember_registered(
        self,
        m: RegisteredComplaint,
        *,
        historical: bool,
        ack_wait_until: datetime | None,
        now: datetime,
    ) -> Facts:
        """As `remember_registered` does."""
        before = self.rows.get(m.complaint_id)
        waited = before is not None and before["reference"] is not None
        row = self._upsert(
            m.complaint_id,
            reference=m.reference,
            language=m.language.value,
            time_zone=m.time_zone,
            utc_offset=m.source_utc_offset,
            customer_token=m.customer_token,
            subject=m.subject,
            description=m.description,
            category=(before or {}).get("category") or m.category,
            occurred_at=self._t(m.occurred_at),
            historical=historical,
            ack_wait_until=before["ack_wait_until"] if waited else self._t(ack_wait_until),  # type: ignore[index]
            updated_at=self._t(now),
            source=m.source,
            external_ref=m.external_ref,
            contact_kind=contact_kind(m.contact_masked),
        )
        found = self._facts(row)
        assert found is not None
        return found

    def remember_routed(self, r: RoutedComplaint, now: datetime) -> tuple[Facts | None, Facts]:
        """As `remember_routed` does."""
        row = self.rows.get(r.complaint_id)
        before = self._facts(row)
        if row is not None and (row["routed_version"] or 0) >= r.version:
            return before, before  # type: ignore[return-value]
        row = self._upsert(
            r.complaint_id,
            category=r.category,
            owner=r.owner,
            department=r.department,
            priority=r.priority.value,
            sensitive=r.sensitive,
            special_periods=list(r.special_periods),
            category_display=dict(r.category_display),
            routed_version=r.version,
            updated_at=self._t(now),
            safety="safety" in r.tags,
        )
        return before, self._facts(row)  # type: ignore[return-value]

    def remember_deadline(
        self,
        complaint_id: str,
        deadline: datetime,
        now: datetime,
        *,
        priority: Priority,
        department: str,
    ) -> Facts:
        """As `remember_deadline` does."""
        before = self.rows.get(complaint_id) or {}
        row = self._upsert(
            complaint_id,
            resolve_deadline=self._t(deadline),
            updated_at=self._t(now),
            priority=before.get("priority") or priority.value,
            department=before.get("department") or department,
        )
        found = self._facts(row)
        assert found is not None
        return found

    def stop_waiting(self, complaint_id: str) -> None:
        """As `stop_waiting` does."""
        if complaint_id in self.rows:
            self._upsert(complaint_id, ack_wait_until=None)

    def remember_follow_up(
        self, complaint_id: str, deadline: datetime, now: datetime
    ) -> Facts | None:
        """As `remember_follow_up` does."""
        if complaint_id not in self.rows:
            return None
        return self._facts(
            self._upsert(
                complaint_id,
                follow_up_deadline=self._t(deadline),
                surveyed=False,
                survey_closed=None,
                updated_at=self._t(now),
            )
        )

    def mark_surveyed(self, complaint_id: str, now: datetime) -> None:
        """As `mark_surveyed` does."""
        if complaint_id in self.rows:
            self._upsert(
                complaint_id, surveyed=True, survey_closed="answered", updated_at=self._t(now)
            )

    def write(self, conn: psycopg.Connection) -> None:
        """Every changed row, in one statement."""
        if not self.changed:
            return
        conn.execute(
            f"INSERT INTO notification.complaints ({', '.join(_ROW)}) SELECT * FROM {_KNOWN}"
            " ON CONFLICT (complaint_id) DO UPDATE SET "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in _ROW[1:]),
            (_KNOWN.param([self.rows[k][c] for c in _ROW] for k in self.changed),),
        )
        self.changed.clear()


def contact_kind(masked: str | None) -> str | None:
    """'email' or 'phone', from the masked contact (`j***@example.com`, `138****5678`)."""
    if not masked:
        return None
    return "email" if "@" in masked else "phone"


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


_OUTBOX = JsonRows(
    "u",
    "notification_key text, complaint_id text, kind text, audience text, recipient text,"
    " channel text, language text, subject text, body text, html text, urgent bool,"
    " state text, next_attempt_at timestamptz, detail text",
)


def record_many(
    conn: psycopg.Connection, rows: list[tuple[Notice, str, str, str | None]], now: datetime
) -> set[str]:
    """Record (notice, complaint id, state, detail) rows in one statement; the keys that are
    new (a key recorded before is a replay and keeps its first row)."""
    if not rows:
        return set()
    found = conn.execute(
        "INSERT INTO notification.outbox (notification_key, complaint_id, kind, audience,"
        " recipient, channel, language, subject, body, html, urgent, state, attempts,"
        " next_attempt_at, detail, created_at, updated_at)"
        " SELECT notification_key, complaint_id, kind, audience, recipient, channel, language,"
        " subject, body, html, urgent, state, 0, next_attempt_at, detail, %s, %s"
        f" FROM {_OUTBOX} ON CONFLICT DO NOTHING RETURNING notification_key",
        (
            now,
            now,
            _OUTBOX.param(
                (
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
                    (notice.not_before or now) if state in DUE else None,
                    detail,
                )
                for notice, complaint_id, state, detail in rows
            ),
        ),
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


def hold(conn: psycopg.Connection, events: list[LifecycleEvent], now: datetime) -> None:
    """Keep lifecycle events of complaints not seen registered yet (a replay keeps one)."""
    if not events:
        return
    conn.cursor().executemany(
        "INSERT INTO notification.held_lifecycle"
        " (complaint_id, source, source_event_id, payload, held_at)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        [
            (e.complaint_id, e.source, e.source_event_id, Jsonb(e.model_dump(mode="json")), now)
            for e in events
        ],
    )


def release_held(conn: psycopg.Connection, complaint_ids: list[str]) -> list[LifecycleEvent]:
    """The held lifecycle events of these (now registered) complaints, taken out of the table,
    in the order they happened."""
    if not complaint_ids:
        return []
    rows = conn.execute(
        "DELETE FROM notification.held_lifecycle WHERE complaint_id = ANY(%s) RETURNING payload",
        (complaint_ids,),
    ).fetchall()
    return sorted((LifecycleEvent.model_validate(p) for (p,) in rows), key=lambda e: e.occurred_at)


def forget_held(conn: psycopg.Connection, before: datetime) -> int:
    """Held events whose complaint never came (older than the topics keep): dropped; how many."""
    return conn.execute(
        "DELETE FROM notification.held_lifecycle WHERE held_at < %s", (before,)
    ).rowcount


def close_unanswered(
    conn: psycopg.Connection, expired_before: datetime, now: datetime, limit: int = 500
) -> int:
    """Surveys whose follow-up deadline is before `expired_before` (their link no longer
    works) and that nobody answered: closed as `no_answer`; how many."""
    return conn.execute(
        "UPDATE notification.complaints SET survey_closed = 'no_answer', updated_at = %s"
        " WHERE complaint_id IN (SELECT complaint_id FROM notification.complaints"
        "  WHERE follow_up_deadline < %s AND survey_closed IS NULL AND NOT surveyed"
        "  ORDER BY follow_up_deadline LIMIT %s FOR UPDATE SKIP LOCKED)",
        (now, expired_before, limit),
    ).rowcount


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
