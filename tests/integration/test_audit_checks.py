"""The audit's routing and SLA checks on the real database: each imbalance they exist for is
named, and what the workers legitimately do is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from services.audit import checks, facts
from services.kernel.db import migrate
from services.sla_timer.migrations import MIGRATIONS as SLA_MIGRATIONS

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LIFE, ROUTED, REG, SLA = (
    "complaints.lifecycle.v1",
    "complaints.routed.v1",
    "complaints.registered.v1",
    "complaints.sla.v1",
)


def out(
    topic: str, offset: int, ce_id: str, cid: str, kind: str, **more: object
) -> tuple[object, ...]:
    row = dict.fromkeys(c.strip(' "') for c in facts.OUT_COLUMNS.split(","))
    row.update(
        topic=topic, partition=0, offset=offset, ce_id=ce_id, complaint_id=cid, kind=kind, **more
    )
    return tuple(row.values())


@pytest.fixture
def conn(cf):
    with psycopg.connect(cf.db_url()) as c:
        facts.create(c)
        yield c
        c.rollback()


def load(conn, rows) -> None:
    facts.copy(conn, "a_out", facts.OUT_COLUMNS, rows)
    facts.index(conn)


def test_routing_names_a_lost_re_route_a_double_decision_and_an_unrouted_complaint(conn):
    # Given A transferred once and re-routed (balanced), B transferred and never re-routed,
    # C's first version decided twice, D never routed, E's transfer refused by routing
    rows = [out(REG, i, f"reg-{c}", c, "registered") for i, c in enumerate("ABCDE")]
    rows += [
        out(LIFE, 1, "tA", "A", "transfer"),
        out(LIFE, 2, "tB", "B", "transfer"),
        out(LIFE, 3, "tE", "E", "transfer"),
        out(ROUTED, 1, "rA1", "A", "routed", version=1),
        out(ROUTED, 2, "rA2", "A", "routed", version=2),
        out(ROUTED, 3, "rB1", "B", "routed", version=1),
        out(ROUTED, 4, "rC1", "C", "routed", version=1),
        out(ROUTED, 5, "rC1-again", "C", "routed", version=1),
        out(ROUTED, 6, "rE1", "E", "routed", version=1),
    ]
    load(conn, rows)
    facts.copy(
        conn,
        "a_dead",
        'partition, "offset", ce_id, worker, reason, errors, source_topic, source_partition,'
        " source_offset, source_event_id",
        [(0, 0, "dE", "routing", "reroute_refused", 1, LIFE, 0, 3, None)],
    )

    # When the routing check runs
    found = {(f.complaint_id, f.problem) for f in checks.routing(conn).findings}

    # Then B, C and D are named, and A and E are not
    assert found == {
        ("B", "1 change(s) never re-routed (1 of 2)"),
        ("C", "2 routing decisions for 1 versions: one decided twice"),
        ("D", "registered but never routed"),
    }


def test_sla_names_a_step_never_fired_a_lost_breach_and_a_breach_fired_twice(conn):
    # Given the timers of three complaints and what the SLA topic says of them
    migrate(conn, "sla_timer", SLA_MIGRATIONS)
    deadline = NOW - timedelta(hours=1)
    for cid, state, next_due in (
        ("A", "breached", None),  # breached, and on the topic: balanced
        ("B", "active", NOW - timedelta(minutes=30)),  # due half an hour ago, never fired
        ("C", "breached", None),  # breached in the table, not on the topic
    ):
        conn.execute(
            "INSERT INTO sla_timer.timers (complaint_id, target, partition, state, priority,"
            " department, policy, started_at, deadline, next_due, updated_at)"
            " VALUES (%s, 'resolve', 0, %s, 'P3', 'finance', 'standard-P3', %s, %s, %s, %s)",
            (cid, state, NOW - timedelta(days=1), deadline, next_due, NOW),
        )
    sla = dict(target="resolve", deadline=deadline)
    load(
        conn,
        [
            out(ROUTED, 1, "rA", "A", "routed", version=1),
            out(SLA, 1, "sA", "A", "started", **sla),
            out(SLA, 2, "bA", "A", "breached", **sla),
            out(SLA, 3, "sB", "B", "started", **sla),
            out(SLA, 4, "sC", "C", "started", **sla),
            # D: breached twice in one run of its clock, then a new run breaches once more
            out(SLA, 5, "sD", "D", "started", **sla),
            out(SLA, 6, "bD1", "D", "breached", **sla),
            out(SLA, 7, "bD2", "D", "breached", **sla),
            out(SLA, 8, "sD2", "D", "started", **sla),
            out(SLA, 9, "bD3", "D", "breached", **sla),
        ],
    )

    # When the SLA check runs as of now
    outcome = checks.sla(conn, cutoff=NOW)
    found = {(f.complaint_id, f.problem) for f in outcome.findings}

    # Then each imbalance is named once, and A's balanced breach is not
    assert found == {
        (
            "B",
            f"resolve: a step due at {NOW - timedelta(minutes=30):%Y-%m-%d %H:%M:%S}Z never fired",
        ),
        ("C", "resolve: breached in the timers, no breach on the topic"),
        ("D", "resolve: breached 2 times in one run of its clock"),
    }
