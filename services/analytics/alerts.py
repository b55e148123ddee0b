"""Early-warning episodes as the archive keeps them (one row per `alert_key`: its latest
revision, when it opened, its peak and when it closed), and those of a reporting period."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from schemas.alerts import Alert, AlertStatus
from services.analytics.periods import Period

FOLLOWED = (
    "kind",
    "status",
    "category",
    "slice",
    "summary",
    "since",
    "window_start",
    "window_end",
    "detected_at",
    "closed_at",
    "count",
    "baseline",
    "p_value",
    "distinct_customers",
    "top_terms",
    "score",
)
"""Columns that show the episode's highest revision seen."""
FOLLOW = ", ".join(
    f"{c} = CASE WHEN EXCLUDED.revision > a.revision THEN EXCLUDED.{c} ELSE a.{c} END"
    for c in FOLLOWED
)


def record(conn: psycopg.Connection, alerts: Sequence[Alert], now: datetime) -> None:
    """Upsert a poll's alerts: a row follows its episode's highest revision, so a replay or a
    late copy of an older revision changes nothing; the opening and the peak are kept."""
    latest: dict[str, Alert] = {}
    opened: dict[str, datetime] = {}
    peak: dict[str, int] = {}
    for a in alerts:
        held = latest.get(a.alert_key)
        if held is None or a.revision > held.revision:
            latest[a.alert_key] = a
        opened[a.alert_key] = min(a.detected_at, opened.get(a.alert_key, a.detected_at))
        peak[a.alert_key] = max(a.count, peak.get(a.alert_key, 0))
    if not latest:
        return
    rows = list(latest.values())
    conn.execute(
        "INSERT INTO analytics.alerts AS a (alert_key, kind, status, revision, category, slice,"
        " summary, since, window_start, window_end, opened_at, detected_at, closed_at, count,"
        " peak_count, baseline, p_value, distinct_customers, top_terms, score, updated_at)"
        " SELECT u.*, %s FROM unnest(%s::text[], %s::text[], %s::text[], %s::int[], %s::text[],"
        " %s::jsonb[], %s::text[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[],"
        " %s::timestamptz[], %s::timestamptz[], %s::timestamptz[], %s::int[], %s::int[],"
        " %s::float8[], %s::float8[], %s::int[], %s::jsonb[], %s::float8[]) AS u"
        " ON CONFLICT (alert_key) DO UPDATE SET"
        " opened_at = least(a.opened_at, EXCLUDED.opened_at),"
        " peak_count = greatest(a.peak_count, EXCLUDED.peak_count),"
        f" {FOLLOW},"  # noqa: S608 - column names only
        " revision = greatest(a.revision, EXCLUDED.revision),"
        " updated_at = EXCLUDED.updated_at",
        (
            now,
            [a.alert_key for a in rows],
            [a.kind.value for a in rows],
            [a.status.value for a in rows],
            [a.revision for a in rows],
            [a.category for a in rows],
            [Jsonb(a.slice) for a in rows],
            [a.summary for a in rows],
            [a.since for a in rows],
            [a.window_start for a in rows],
            [a.window_end for a in rows],
            [opened[a.alert_key] for a in rows],
            [a.detected_at for a in rows],
            [a.detected_at if a.status == AlertStatus.CLOSED else None for a in rows],
            [a.count for a in rows],
            [peak[a.alert_key] for a in rows],
            [a.baseline for a in rows],
            [a.p_value for a in rows],
            [a.distinct_customers for a in rows],
            [Jsonb(a.top_terms) for a in rows],
            [a.score for a in rows],
        ),
    )


@dataclass(frozen=True)
class Episode:
    """One early-warning episode as a period's report shows it: counts and terms, no ids."""

    kind: str
    where: dict[str, str]
    summary: str
    opened_at: datetime
    closed_at: datetime | None
    """When it closed, if it did before the period's end."""
    count: int
    peak_count: int
    baseline: float | None
    p_value: float | None
    distinct_customers: int
    top_terms: list[str]


def of_period(conn: psycopg.Connection, period: Period) -> list[Episode]:
    """The episodes open at some time in the period (event time of detection): opened before
    its end and not closed before its start; the most alarming first."""
    rows = conn.execute(
        "SELECT kind, slice, summary, opened_at,"
        " CASE WHEN closed_at < %(end)s THEN closed_at END, count, peak_count, baseline,"
        " p_value, distinct_customers, top_terms FROM analytics.alerts"
        " WHERE opened_at < %(end)s AND (closed_at IS NULL OR closed_at >= %(start)s)"
        " ORDER BY score DESC, opened_at, alert_key LIMIT 50",
        {"start": period.start, "end": period.end},
    ).fetchall()
    return [Episode(*row) for row in rows]
