"""The notification worker's table: the outbox, one row per notification key."""

from __future__ import annotations

from datetime import datetime

import psycopg

from services.notification.compose import Notice


def record_once(
    conn: psycopg.Connection, notice: Notice, complaint_id: str, channel: str, now: datetime
) -> bool:
    """Record the notice in the outbox; False if its key was recorded before (a replay)."""
    inserted = conn.execute(
        "INSERT INTO notification.outbox (notification_key, complaint_id, kind, audience,"
        " recipient, channel, language, body, created_at) VALUES"
        " (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
        (
            notice.key,
            complaint_id,
            notice.kind,
            notice.audience.value,
            notice.recipient,
            channel,
            notice.language.value,
            notice.body,
            now,
        ),
    ).fetchone()
    return inserted is not None
