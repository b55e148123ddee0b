"""Statements are planned with their parameters, so plans follow the tables as they grow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake import store
from services.intake.migrations import MIGRATIONS
from services.kernel.db import migrate, open_pool

pytestmark = pytest.mark.integration


def _scans(conn) -> tuple[int, int]:
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.commit()
    row = conn.execute(
        "SELECT seq_scan, idx_scan FROM pg_stat_user_tables"
        " WHERE schemaname = 'intake' AND relname = 'complaints'"
    ).fetchone()
    conn.commit()
    return row[0], row[1] or 0


def test_statements_are_planned_with_their_parameters_as_tables_grow(cf):
    now = datetime.now(UTC)
    since = now - timedelta(days=30)
    pool = open_pool(cf.db_url(), name="plans")
    try:
        with pool.connection() as conn:
            migrate(conn, "intake", MIGRATIONS)
            conn.commit()
            # The table grows while the lookup runs, as under intake: the statement is
            # prepared after a few executions, when the table is still small.
            for batch in range(30):
                store.latest_by_customer(conn, [f"cus_{i}" for i in range(0, 5000, 25)], since)
                conn.execute(
                    "INSERT INTO intake.complaints (complaint_id, customer_token, category,"
                    " registered_at, repeat_count, reference, source, external_ref)"
                    " SELECT 'c' || i, 'cus_' || (i %% 5000), 'billing', %s, 0, 'CF-' || i, 's',"
                    " 'r' || i FROM generate_series(%s::int, %s::int) AS i",
                    (now, batch * 2000, batch * 2000 + 1999),
                )
                conn.commit()
            seq_before, idx_before = _scans(conn)
            found = store.latest_by_customer(conn, ["cus_7", "cus_8", "cus_nobody"], since)
            conn.commit()
            seq_after, idx_after = _scans(conn)
            generic = conn.execute(
                "SELECT statement, generic_plans FROM pg_prepared_statements"
                " WHERE generic_plans > 0"
            ).fetchall()
    finally:
        pool.close()
    # A generic plan is made once, for whatever size the table had then, and kept.
    assert generic == []
    assert set(found) == {("cus_7", "billing"), ("cus_8", "billing")}
    assert seq_after == seq_before, "the repeat lookup scanned the whole complaints table"
    assert idx_after > idx_before
