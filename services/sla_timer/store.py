"""The `sla_timer.timers` table: one row per (complaint, target), the durable clock state."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import psycopg

from schemas.common import Priority
from services.kernel.db import JsonRows
from services.sla_timer.state import LIVE, TargetState

_TIMERS = JsonRows(
    "t",
    "complaint_id text, target text, partition int, state text, priority text,"
    " department text, category text, policy text, sensitive bool, tightened bool,"
    " source text, route_version int, started_at timestamptz, used_seconds float8,"
    " due_at timestamptz, deadline timestamptz, warned_pct int, escalation_level int,"
    " next_due timestamptz",
)
COLUMNS = ", ".join(_TIMERS.names)


def _row(r: tuple[Any, ...]) -> TargetState:
    return TargetState(
        complaint_id=r[0],
        target=r[1],
        partition=r[2],
        state=r[3],
        priority=Priority(r[4]),
        department=r[5],
        category=r[6],
        policy=r[7],
        sensitive=r[8],
        tightened=r[9],
        source=r[10],
        route_version=r[11],
        started_at=r[12],
        used=timedelta(seconds=r[13]),
        due_at=r[14],
        deadline=r[15],
        warned_pct=r[16],
        escalation_level=r[17],
        next_due=r[18],
    )


def of_complaints(
    conn: psycopg.Connection, complaint_ids: Iterable[str]
) -> dict[str, dict[str, TargetState]]:
    """Every timer of these complaints, by complaint and target (one statement)."""
    wanted = list(complaint_ids)
    if not wanted:
        return {}
    out: dict[str, dict[str, TargetState]] = {}
    for r in conn.execute(
        f"SELECT {COLUMNS} FROM sla_timer.timers WHERE complaint_id = ANY(%s)", (wanted,)
    ).fetchall():
        out.setdefault(r[0], {})[r[1]] = _row(r)
    return out


def by_keys(
    conn: psycopg.Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], TargetState]:
    wanted = list(keys)
    if not wanted:
        return {}
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM sla_timer.timers WHERE (complaint_id, target) IN"
        " (SELECT * FROM unnest(%s::text[], %s::text[]))",
        ([k[0] for k in wanted], [k[1] for k in wanted]),
    ).fetchall()
    return {(r[0], r[1]): _row(r) for r in rows}


def due_entries(
    conn: psycopg.Connection, partitions: Iterable[int]
) -> list[tuple[float, str, str, int]]:
    """(next_due, complaint, target, partition) of every pending step in these partitions."""
    rows = conn.execute(
        "SELECT extract(epoch FROM next_due)::float8, complaint_id, target, partition"
        " FROM sla_timer.timers WHERE partition = ANY(%s) AND next_due IS NOT NULL",
        (list(partitions),),
    ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def active_counts(conn: psycopg.Connection, partitions: Iterable[int]) -> dict[str, int]:
    rows = conn.execute(
        "SELECT target, count(*) FROM sla_timer.timers WHERE partition = ANY(%s)"
        " AND state = ANY(%s) GROUP BY target",
        (list(partitions), list(LIVE)),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


_UPSERT = (
    f"INSERT INTO sla_timer.timers ({COLUMNS}, updated_at) SELECT *, %s FROM {_TIMERS}"
    " ON CONFLICT (complaint_id, target) DO UPDATE SET partition = EXCLUDED.partition,"
    " state = EXCLUDED.state, priority = EXCLUDED.priority,"
    " department = EXCLUDED.department, category = EXCLUDED.category,"
    " policy = EXCLUDED.policy, sensitive = EXCLUDED.sensitive,"
    " tightened = EXCLUDED.tightened, source = EXCLUDED.source,"
    " route_version = EXCLUDED.route_version, started_at = EXCLUDED.started_at,"
    " used_seconds = EXCLUDED.used_seconds, due_at = EXCLUDED.due_at,"
    " deadline = EXCLUDED.deadline, warned_pct = EXCLUDED.warned_pct,"
    " escalation_level = EXCLUDED.escalation_level, next_due = EXCLUDED.next_due,"
    " updated_at = EXCLUDED.updated_at"
)


def save(conn: psycopg.Connection, states: list[TargetState], now: datetime) -> None:
    """Write these timers in one statement; of two states of one timer the later wins."""
    latest = {st.key: st for st in states}
    if not latest:
        return
    conn.execute(
        _UPSERT,
        (
            now,
            _TIMERS.param(
                (
                    st.complaint_id,
                    st.target,
                    st.partition,
                    st.state,
                    st.priority.value,
                    st.department,
                    st.category,
                    st.policy,
                    st.sensitive,
                    st.tightened,
                    st.source,
                    st.route_version,
                    st.started_at,
                    st.used.total_seconds(),
                    st.due_at,
                    st.deadline,
                    st.warned_pct,
                    st.escalation_level,
                    st.next_due,
                )
                for st in latest.values()
            ),
        ),
    )
