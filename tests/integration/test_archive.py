"""The archive on the real database: a poll applied at once equals its events one by one, and
replaying any of it changes nothing."""

from __future__ import annotations

import psycopg
import pytest

from services.analytics import archive
from services.analytics.migrations import MIGRATIONS
from services.kernel.db import migrate
from tests.analytics_story import T0, story

pytestmark = pytest.mark.integration


def snapshot(conn: psycopg.Connection) -> tuple[list, int]:
    rows = conn.execute("SELECT * FROM analytics.complaints ORDER BY complaint_id").fetchall()
    events = conn.execute("SELECT count(*) FROM analytics.events").fetchone()
    assert events is not None
    return rows, events[0]


def test_a_batch_at_once_equals_its_events_one_by_one_and_replays_change_nothing(cf):
    events = [(f"ce-{i}", "topic", model) for i, model in enumerate(story())]
    with psycopg.connect(cf.db_url()) as conn:
        migrate(conn, "analytics", MIGRATIONS)
        # Given the story applied one event at a time
        for event in events:
            archive.record(conn, [event], T0)
        one_by_one = snapshot(conn)
        conn.execute("TRUNCATE analytics.complaints, analytics.events")
        # When the same story is applied as one poll
        assert archive.record(conn, events, T0) == len(events)
        at_once = snapshot(conn)
        # Then the archive is the same
        assert at_once == one_by_one
        assert one_by_one[1] == len(events)
        # And replaying all of it, or any part, twice in one poll, changes nothing
        assert archive.record(conn, events + events[:5], T0) == 0
        assert snapshot(conn) == at_once
        row = conn.execute(
            "SELECT status, route_version, department, csat, notifications, sla_breached,"
            " escalation_level FROM analytics.complaints WHERE complaint_id = 'c-aaaa'"
        ).fetchone()
        assert row == ("closed", 2, "refunds", 4, 2, False, 0)
