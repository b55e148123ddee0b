"""The archive's per-poll statements find a poll's complaints by key, and its figures the
complaints that changed by key, whatever the planner believes of tables whose statistics
lag behind them (as during a flood)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import psycopg
import pytest

from schemas.common import Status
from schemas.sla import SlaEventKind, SlaTarget
from services.analytics import figures, stats
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


def test_the_figures_find_the_windows_that_changed_by_key_and_publish_only_those(cf):
    schema = f"plans_{uuid.uuid4().hex[:12]}"
    since = T0 + timedelta(days=14)
    with psycopg.connect(cf.db_url()) as conn:
        migrate(conn, schema, MIGRATIONS)
        for table in ("complaints", "events"):
            conn.execute(f"ALTER TABLE {schema}.{table} SET (autovacuum_enabled = false)")
        # Given 100,000 complaints of a week of March, an event each, unchanged since, and
        # 200 of a day three weeks later with 100,000 events recorded after `since` (a flood's
        # worth), none of which the planner has statistics of
        add = (
            f"INSERT INTO {schema}.complaints (complaint_id, reference, category, occurred_at,"
            " updated_at) SELECT %s || i, 'CF-' || i, 'billing', %s, %s"
            " FROM generate_series(1, %s) AS i"
        )
        later = T0 + timedelta(days=21)
        conn.execute(add, ("old-", T0, T0, 100_000))
        conn.execute(add, ("new-", later, since + timedelta(minutes=5), 200))
        conn.execute(
            f"INSERT INTO {schema}.events (ce_id, complaint_id, topic, kind, at, recorded_at,"
            " payload) SELECT %s || i, %s || (i %% %s + 1), 't', 'k', %s, %s, '{}'"
            " FROM generate_series(1, %s) AS i",
            ("o", "old-", 100_000, T0, T0, 100_000),
        )
        conn.execute(
            f"INSERT INTO {schema}.events (ce_id, complaint_id, topic, kind, at, recorded_at,"
            " payload) SELECT %s || i, %s || (i %% %s + 1), 't', 'k', %s, %s, '{}'"
            " FROM generate_series(1, %s) AS i",
            ("n", "new-", 200, later, since + timedelta(minutes=5), 100_000),
        )
        conn.commit()
        # When the figures that changed since `since` are computed
        got = list(stats.changed(conn, since, since + timedelta(hours=1), schema=schema))
        which, sets = figures.by_dimension(figures.DIMENSIONS, "w.name", "w.start")
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN " + stats.windowed(which, sets, since=True, schema=schema),
                {"after": since, "recent": since - stats.HOURS_KEPT},
            )
        )
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.commit()
    # Then only the later hour, day and week were published again, with its 200 complaints
    windows = {(r.window, r.window_start) for r in got if r.window != "all"}
    day = later.replace(hour=0)
    assert windows == {("hour", later), ("day", day), ("week", day)}  # (T0 is a Monday)
    billing = [r for r in got if r.dimension == "category" and r.value == "billing"]
    assert sorted((r.window, r.received) for r in billing) == [
        ("all", 100_200), ("day", 200), ("hour", 200), ("week", 200)
    ]  # fmt: skip
    # And the changed complaints were joined to the recent events by key, never each compared
    # with a list of them (that plan, estimated at 263 million, took minutes during a flood
    # and held the archive back meanwhile)
    assert "SubPlan" not in plan, plan
    cost = float(re.search(r"cost=[\d.]+\.\.([\d.]+)", plan).group(1))  # type: ignore[union-attr]
    assert cost < 1_000_000, plan
