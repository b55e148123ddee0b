"""The figures analytics publishes as it goes: per dimension and event-time window to
`complaints.stats.v1` (only the windows whose complaints changed since the last time), and the
live backlog and SLA compliance for the Prometheus gauges."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg

from schemas.stats import StatsRecord
from services.analytics import figures
from services.analytics.archive import OPEN
from services.analytics.figures import Figures
from services.analytics.periods import Period

MARGIN = timedelta(minutes=1)
"""How far before the last publication changes are looked for again: another instance's
transaction under way then commits rows stamped a little earlier."""
GAUGE_WINDOW = timedelta(days=7)
HOURS_KEPT = timedelta(hours=48)
"""Hour windows are published for the hours of event time that began this long before now at
most: a day or week window covers any time, an hour key per value for all history would not."""

MEASURES = (
    "count(*),"
    f" count(*) FILTER (WHERE c.status IN {OPEN}),"
    " count(*) FILTER (WHERE c.status IN ('resolved', 'closed')),"
    " count(*) FILTER (WHERE c.sla_breached),"
    " count(*) FILTER (WHERE c.reopen_count > 0),"
    " count(*) FILTER (WHERE c.repeat_count > 0),"
    " count(*) FILTER (WHERE c.escalation_level > 0),"
    " count(c.csat), avg(c.csat)::float8,"
    " percentile_cont(0.5) WITHIN GROUP (ORDER BY {took}),"
    " percentile_cont(0.9) WITHIN GROUP (ORDER BY {took})"
).format(took="extract(epoch FROM c.resolved_at - least(c.occurred_at, c.resolved_at))::float8")
WINDOWS = (
    "(SELECT * FROM (VALUES ('hour', date_trunc('hour', c.occurred_at, 'UTC')),"
    " ('day', date_trunc('day', c.occurred_at, 'UTC')),"
    " ('week', date_trunc('week', c.occurred_at, 'UTC'))) AS v(name, start)"
    " WHERE v.name <> 'hour' OR v.start >= %(recent)s) AS w(name, start)"
)
FORMATS = {"hour": "hour:%Y-%m-%dT%H", "day": "day:%Y-%m-%d", "week": "week:%G-W%V"}


def key(record: StatsRecord) -> str:
    """`dimension=value`, and `@hour:YYYY-MM-DDTHH`, `@day:YYYY-MM-DD` or `@week:YYYY-Www`
    for a window (UTC)."""
    base = f"{record.dimension}={record.value}"
    start = record.window_start
    if start is None:
        return base
    return f"{base}@{start.strftime(FORMATS[record.window])}"


def last_published(conn: psycopg.Connection) -> datetime | None:
    row = conn.execute("SELECT upto FROM analytics.stats_published WHERE name = 'stats'").fetchone()
    return row[0] if row else None


def mark_published(conn: psycopg.Connection, upto: datetime) -> None:
    conn.execute(
        "INSERT INTO analytics.stats_published AS p (name, upto) VALUES ('stats', %s)"
        " ON CONFLICT (name) DO UPDATE SET upto = greatest(p.upto, EXCLUDED.upto)",
        (upto,),
    )


def changed(
    conn: psycopg.Connection,
    since: datetime | None,
    now: datetime,
    *,
    schema: str = "analytics",
) -> Iterator[StatsRecord]:
    """Every dimension's figures over the whole archive and over each week, day and recent hour
    (`HOURS_KEPT`) whose complaints changed since `since` (all of them when None): one
    statement each. The complaints that changed are those of the events recorded since (the
    complaints' rows have no index on their change stamp: see migration 8)."""
    after = since - MARGIN if since is not None else None
    dims = figures.DIMENSIONS
    p: dict[str, Any] = {"after": after, "recent": now - HOURS_KEPT}
    touched = conn.execute(
        f"SELECT 1 FROM {schema}.events WHERE %(after)s::timestamptz IS NULL"  # noqa: S608
        " OR recorded_at > %(after)s LIMIT 1",
        p,
    ).fetchone()
    if touched is None:
        return
    which, sets = figures.by_dimension(dims)
    for row in conn.execute(
        f"SELECT {which}, {MEASURES} FROM {schema}.complaints c"  # noqa: S608
        f" WHERE c.reference IS NOT NULL GROUP BY {sets}",
        p,
    ):
        yield _record("all", None, row, now)
    which, sets = figures.by_dimension(dims, "w.name", "w.start")
    for window, start, *measured in conn.execute(
        windowed(which, sets, since=after is not None, schema=schema), p
    ):
        yield _record(window, start, tuple(measured), now)


def windowed(which: str, sets: str, *, since: bool, schema: str = "analytics") -> str:
    """The statement of the windows' figures: the windows (name, start) of the complaints
    with events recorded after `%(after)s` (`since`; else of every complaint), then every
    complaint of those windows grouped by `sets`. The changed complaints are read from the
    recent events and joined to their rows by key: never each complaint tested against the
    list of changed ones (a list larger than `work_mem` is not hashed: each of N complaints
    then compares itself with M events, a plan that ran for minutes during a flood)."""
    changed = (
        f"(SELECT DISTINCT complaint_id FROM {schema}.events"  # noqa: S608
        " WHERE recorded_at > %(after)s) AS e"
        f" JOIN {schema}.complaints c USING (complaint_id)"
        if since
        else f"{schema}.complaints c"
    )
    return (
        f"WITH touched AS (SELECT DISTINCT w.name, w.start FROM {changed},"  # noqa: S608
        f"  LATERAL {WINDOWS} WHERE c.occurred_at IS NOT NULL)"
        f" SELECT w.name, w.start, {which}, {MEASURES} FROM {schema}.complaints c,"
        f" LATERAL {WINDOWS}"
        " WHERE c.reference IS NOT NULL"
        "  AND c.occurred_at >= (SELECT min(start) FROM touched)"
        "  AND (w.name, w.start) IN (SELECT name, start FROM touched)"
        f" GROUP BY {sets}"
    )


def _record(
    window: str, start: datetime | None, row: tuple[Any, ...], now: datetime
) -> StatsRecord:
    dimension, value, received, opened, resolved, breached, *rest = row
    reopened, repeats, escalated, responses, csat, median, p90 = rest
    return StatsRecord(
        dimension=dimension,
        value=value,
        window=window,
        window_start=start,
        received=received,
        open=opened,
        resolved=resolved,
        breached=breached,
        reopened=reopened,
        repeats=repeats,
        escalated=escalated,
        csat_responses=responses,
        csat_mean=csat,
        resolve_median_seconds=median,
        resolve_p90_seconds=p90,
        updated_at=now,
    )


def live(conn: psycopg.Connection, now: datetime) -> Figures:
    """What the gauges show: the backlog open now, and SLA compliance of the targets due in
    the seven days of event time before now."""
    return figures.compute(conn, Period(now - GAUGE_WINDOW, now), parts=("backlog", "sla"))
