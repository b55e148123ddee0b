"""The archive's tables: every event once in the history, and how each changes a complaint's
current state (SQL per event kind)."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.notifications import NotificationOutcome, Outcome
from schemas.registered import RegisteredComplaint
from schemas.routed import RoutedComplaint
from schemas.sla import SlaEvent, SlaEventKind

OPEN = "('registered','acknowledged','assigned','in_progress','waiting_on_customer','reopened')"
Archived = RegisteredComplaint | LifecycleEvent | RoutedComplaint | SlaEvent | NotificationOutcome


def kind_of(model: Archived) -> tuple[str, datetime]:
    """A short name of what happened and when, for the timeline."""
    if isinstance(model, RegisteredComplaint):
        return "registered", model.occurred_at
    if isinstance(model, LifecycleEvent):
        detail = model.status.value if model.status else model.kind.value
        return f"{model.kind.value}:{detail}" if model.status else detail, model.occurred_at
    if isinstance(model, RoutedComplaint):
        return f"routed:v{model.version}", model.routed_at
    if isinstance(model, SlaEvent):
        return f"sla:{model.kind.value}:{model.target.value}", model.emitted_at
    return f"notification:{model.kind}:{model.outcome.value}", model.at


def record(
    conn: psycopg.Connection, ce_id: str, topic: str, model: Archived, now: datetime
) -> bool:
    """Append the event to the history (once per `ce_id`); True if it was new, and then its
    effect is folded into the complaint's current state."""
    kind, at = kind_of(model)
    fresh = conn.execute(
        "INSERT INTO analytics.events (ce_id, complaint_id, topic, kind, at, recorded_at,"
        " payload) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
        (
            ce_id,
            model.complaint_id,
            topic,
            kind,
            at,
            now,
            Jsonb(model.model_dump(mode="json", exclude_none=True)),
        ),
    ).fetchone()
    if fresh is not None:  # a replayed event (same ce_id) is applied once
        apply(conn, model, now)
    return fresh is not None


def category_counts(conn: psycopg.Connection) -> list[tuple[str, int, int, int, int]]:
    """(category, received, open, resolved, breached) over the archive."""
    return [
        (r[0], r[1], r[2], r[3], r[4])
        for r in conn.execute(
            f"SELECT coalesce(category, 'uncategorised'), count(*),"
            f" count(*) FILTER (WHERE status IN {OPEN}),"
            f" count(*) FILTER (WHERE status IN ('resolved', 'closed')),"
            f" count(*) FILTER (WHERE sla_breached) FROM analytics.complaints GROUP BY 1"
        )
    ]


def apply(conn: psycopg.Connection, model: Archived, now: datetime) -> None:
    """Fold one event into the complaint's current state (creating the row if first)."""
    cid = model.complaint_id
    if isinstance(model, RegisteredComplaint):
        conn.execute(
            "INSERT INTO analytics.complaints (complaint_id, reference, source, external_ref,"
            " category, channel, language, repeat_count, occurred_at, registered_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (complaint_id) DO UPDATE SET reference = EXCLUDED.reference,"
            " source = EXCLUDED.source, external_ref = EXCLUDED.external_ref,"
            " category = COALESCE(analytics.complaints.category, EXCLUDED.category),"
            " channel = EXCLUDED.channel, language = EXCLUDED.language,"
            " repeat_count = EXCLUDED.repeat_count, occurred_at = EXCLUDED.occurred_at,"
            " registered_at = EXCLUDED.registered_at, updated_at = EXCLUDED.updated_at",
            (
                cid,
                model.reference,
                model.source,
                model.external_ref,
                model.category,
                model.channel.value,
                model.language.value,
                model.repeat_count,
                model.occurred_at,
                model.registered_at,
                now,
            ),
        )
    elif isinstance(model, RoutedComplaint):
        conn.execute(
            "INSERT INTO analytics.complaints (complaint_id, category, department, queue, owner,"
            " priority, sensitive, route_version, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (complaint_id) DO UPDATE SET category = EXCLUDED.category,"
            " department = EXCLUDED.department, queue = EXCLUDED.queue, owner = EXCLUDED.owner,"
            " priority = EXCLUDED.priority, sensitive = EXCLUDED.sensitive,"
            " route_version = EXCLUDED.route_version, updated_at = EXCLUDED.updated_at"
            " WHERE analytics.complaints.route_version < EXCLUDED.route_version",
            (
                cid,
                model.category,
                model.department,
                model.queue,
                model.owner,
                model.priority.value,
                model.sensitive,
                model.version,
                now,
            ),
        )
    elif isinstance(model, LifecycleEvent):
        status = model.status.value if model.kind == LifecycleKind.STATUS and model.status else None
        resolved = model.occurred_at if status in ("resolved", "closed") else None
        conn.execute(
            "INSERT INTO analytics.complaints (complaint_id, status, resolved_at, csat, updated_at)"
            " VALUES (%s, COALESCE(%s, 'registered'), %s, %s, %s)"
            " ON CONFLICT (complaint_id) DO UPDATE SET"
            " status = COALESCE(%s, analytics.complaints.status),"
            " resolved_at = CASE WHEN %s = 'reopened' THEN NULL"
            "  ELSE COALESCE(analytics.complaints.resolved_at, EXCLUDED.resolved_at) END,"
            " csat = COALESCE(EXCLUDED.csat, analytics.complaints.csat),"
            " updated_at = EXCLUDED.updated_at",
            (cid, status, resolved, model.score, now, status, status),
        )
    elif isinstance(model, SlaEvent):
        breached = model.kind == SlaEventKind.BREACHED
        conn.execute(
            "INSERT INTO analytics.complaints (complaint_id, sla_deadline, sla_breached,"
            " escalation_level, updated_at) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (complaint_id) DO UPDATE SET sla_deadline = EXCLUDED.sla_deadline,"
            " sla_breached = analytics.complaints.sla_breached OR EXCLUDED.sla_breached,"
            " escalation_level = GREATEST(analytics.complaints.escalation_level,"
            "  EXCLUDED.escalation_level), updated_at = EXCLUDED.updated_at",
            (cid, model.deadline, breached, model.level or 0, now),
        )
    elif model.outcome == Outcome.SENT:  # one notice is queued, maybe retried, then sent
        conn.execute(
            "INSERT INTO analytics.complaints (complaint_id, notifications, updated_at)"
            " VALUES (%s, 1, %s) ON CONFLICT (complaint_id) DO UPDATE SET"
            " notifications = analytics.complaints.notifications + 1,"
            " updated_at = EXCLUDED.updated_at",
            (cid, now),
        )
