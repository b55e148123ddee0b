"""The archive's per-poll statements find a poll's complaints by key, whatever the planner
believes of tables whose statistics lag behind them (as during a flood)."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from schemas.common import Status
from schemas.sla import SlaEventKind, SlaTarget
from services.analytics.archive import apply
from services.analytics.fold import fold
from services.analytics.migrations import MIGRATIONS
from services.kernel.db import migrate
from tests.analytics_story import T0, registered, routed, sla, status

pytestmark = pytest.mark.integration

TABLES = ("complaints", "sla_targets")


def _seq_scans(conn: psycopg.Connection, schema: str) -> dict[str, int]:
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.commit()
    rows = conn.execute(
        "SELECT relname, seq_scan FROM pg_stat_user_tables WHERE schemaname = %s", (schema,)
    ).fetchall()
    conn.commit()
    return {name: scans for name, scans in rows if name in TABLES}


def _poll(ids: list[str]) -> list:
    events: list = []
    for cid in ids:
        events += [
            registered(cid),
            routed(cid, 1, "finance", "agent-1"),
            sla(cid, SlaEventKind.STARTED, target=SlaTarget.ACKNOWLEDGE, deadline=30),
            sla(cid, SlaEventKind.STARTED, target=SlaTarget.RESOLVE, deadline=600),
            status(cid, Status.ACKNOWLEDGED, 45),
        ]
    return events


def test_a_poll_never_scans_the_whole_archive_when_statistics_lag(cf):
    schema = f"plans_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cf.db_url()) as conn:
        migrate(conn, schema, MIGRATIONS)
        # Given an archive of 100,000 complaints the planner has never been told about:
        # no statistics, and no autovacuum to gather them behind the test's back
        for table in TABLES:
            conn.execute(f"ALTER TABLE {schema}.{table} SET (autovacuum_enabled = false)")
        conn.execute(
            f"INSERT INTO {schema}.complaints (complaint_id, updated_at)"
            " SELECT 'old-' || i, %s FROM generate_series(1, 100000) AS i",
            (T0,),
        )
        conn.execute(
            f"INSERT INTO {schema}.sla_targets (complaint_id, target, policy, state, deadline,"
            " updated_at) SELECT 'old-' || i, target, 'standard-P3', 'running', %s, %s"
            " FROM generate_series(1, 100000) AS i,"
            " unnest(ARRAY['acknowledge', 'resolve']) AS target",
            (T0, T0),
        )
        conn.commit()
        before = _seq_scans(conn, schema)
        # When a poll of 500 new complaints is folded in, each acknowledged late
        ids = [f"new-{i:04}" for i in range(500)]
        apply(conn, fold(_poll(ids)), T0, schema=schema)
        conn.commit()
        after = _seq_scans(conn, schema)
        late = conn.execute(
            f"SELECT count(*) FROM {schema}.complaints WHERE sla_breached"
        ).fetchone()
        met = conn.execute(
            f"SELECT count(*) FROM {schema}.sla_targets WHERE met_at IS NOT NULL"
        ).fetchone()
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.commit()
    # Then the poll was judged (the acknowledgement came after its deadline)
    assert late == (500,)
    assert met == (500,)
    # And no statement read either table from end to end to find them
    assert after == before, f"sequential scans during one poll: {before} -> {after}"
