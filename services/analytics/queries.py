"""Read-only views of the complaint archive for the `show` and `list` commands."""

from __future__ import annotations

import json

import psycopg

COLUMNS = (
    "complaint_id",
    "reference",
    "source",
    "external_ref",
    "category",
    "channel",
    "language",
    "status",
    "department",
    "queue",
    "priority",
    "sensitive",
    "repeat_count",
    "occurred_at",
    "registered_at",
    "resolved_at",
    "sla_deadline",
    "sla_breached",
    "escalation_level",
    "notifications",
    "csat",
)


def _find(conn: psycopg.Connection, key: str) -> dict[str, object] | None:
    row = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM analytics.complaints"
        " WHERE complaint_id = %s OR reference = %s LIMIT 1",
        (key, key.upper()),
    ).fetchone()
    return dict(zip(COLUMNS, row, strict=True)) if row else None


def timeline(conn: psycopg.Connection, complaint_id: str) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT at, topic, kind, payload FROM analytics.events WHERE complaint_id = %s"
        " ORDER BY at, recorded_at",
        (complaint_id,),
    ).fetchall()


def show(url: str, key: str) -> str:
    """The complaint's current state and its full timeline, as text."""
    with psycopg.connect(url) as conn:
        found = _find(conn, key)
        if found is None:
            return f"No complaint with id or reference {key!r} in the archive."
        lines = [f"Complaint {found['reference']}  ({found['complaint_id']})"]
        for col in COLUMNS[2:]:
            if found[col] is not None:
                lines.append(f"  {col:<16} {found[col]}")
        lines.append("Timeline:")
        for at, _topic, kind, payload in timeline(conn, str(found["complaint_id"])):
            detail = _detail(kind, payload)  # type: ignore[arg-type]
            lines.append(f"  {at:%Y-%m-%d %H:%M:%S}Z  {kind:<34} {detail}")
        return "\n".join(lines)


def _detail(kind: str, payload: dict[str, object]) -> str:
    keys = (
        "department",
        "priority",
        "status",
        "note",
        "threshold_pct",
        "late_by_seconds",
        "level",
        "escalated_to",
        "outcome",
        "recipient",
        "score",
        "amount",
        "currency",
    )
    parts = [f"{k}={payload[k]}" for k in keys if payload.get(k) is not None]
    if kind.startswith("routed") and payload.get("reasons"):
        parts.append("reasons=" + json.dumps(payload["reasons"], ensure_ascii=False))
    return " ".join(parts)


def list_complaints(url: str, *, status: str | None = None, limit: int = 20) -> str:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT reference, status, category, department, priority, sla_breached,"
            " registered_at FROM analytics.complaints"
            " WHERE (%s::text IS NULL OR status = %s) AND reference IS NOT NULL"
            " ORDER BY registered_at DESC NULLS LAST LIMIT %s",
            (status, status, limit),
        ).fetchall()
    header = f"{'reference':<14} {'status':<20} {'category':<18} {'department':<17} pri breached"
    body = [
        f"{r[0]:<14} {r[1]:<20} {(r[2] or '-'):<18} {(r[3] or '-'):<17} {(r[4] or '-'):<3} "
        f"{'yes' if r[5] else 'no'}"
        for r in rows
    ]
    return "\n".join([header, *body]) if body else "No complaints in the archive yet."
