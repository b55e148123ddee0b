"""End to end: last year's complaints imported today through intake, routing, the SLA timer and
analytics are figured as they happened then — SLA compliance and business time on event time,
although every SLA clock breached (historically) long before the statuses were processed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from schemas.envelope import complaint_id_for
from services.analytics import figures
from services.analytics.figures import Compliance, Durations
from services.analytics.periods import Period
from tests.conftest import wait_for, wait_ready
from tests.e2e.test_pipeline import submit

pytestmark = pytest.mark.e2e

MONDAY = datetime(2025, 3, 3, tzinfo=UTC)
"""London's calendar: Mon-Fri 09:00-17:30 (GMT in March); no bank holiday in the fortnight."""
H, D = timedelta(hours=1), timedelta(days=1)


def event(kind: str, ref: str, n: int, at: timedelta, **fields: object) -> str:
    return json.dumps(
        {"type": kind, "source": "london-cc", "event_id": f"{ref}-{n}", "complaint_ref": ref,
         "occurred_at": (MONDAY + at).isoformat(), "channel": "phone", "language": "en",
         **fields},
        ensure_ascii=False,
    )  # fmt: skip


def new(ref: str, at: timedelta) -> str:
    return event(
        "complaint.new", ref, 0, at, category="billing",
        description="I was charged twice for March on my bill",
        customer={"name": f"Customer {ref}", "email": f"{ref.lower()}@example.com"},
    )  # fmt: skip


def test_an_import_of_last_year_yields_last_years_sla_figures(cf, worker_factory):
    # Given the workers that carry a complaint from raw to archive
    workers = [worker_factory(n, cf) for n in ("intake", "routing", "sla_timer", "analytics")]
    wait_ready(workers)
    ids = {ref: complaint_id_for("london-cc", ref) for ref in ("J", "K", "L")}

    # When last year's billing complaints (standard-P3: acknowledge in 4 business hours,
    # resolve in 3 business days) are imported, their clocks started ...
    submit(cf, [new("J", 10 * H), new("K", 4 * D + 16 * H), new("L", 9 * H)])
    with psycopg.connect(cf.db_url(), autocommit=True) as conn:

        def targets(where: str) -> int:
            row = conn.execute(
                "SELECT count(*) FROM analytics.sla_targets WHERE complaint_id = ANY(%s)"
                f" AND {where}",  # noqa: S608
                (list(ids.values()),),
            ).fetchone()
            return row[0] if row else 0

        wait_for(lambda: targets("breached AND target IN ('acknowledge', 'resolve')") == 6,
                 timeout=180, what="every clock breached (historically)")  # fmt: skip
        # ... and then their agents' statuses of then: J's agent also promised a callback for
        # Mon 15:00 and called at 14:00, and waited on the customer Tue 10:00-14:00
        submit(cf, [
            event("complaint.status", "J", 1, 11.5 * H, status="acknowledged"),
            event("callback.promised", "J", 3, 11.75 * H, due_at=(MONDAY + 15 * H).isoformat()),
            event("complaint.status", "J", 4, 14 * H, status="in_progress"),
            event("complaint.status", "J", 5, D + 10 * H, status="waiting_on_customer"),
            event("complaint.status", "J", 6, D + 14 * H, status="in_progress"),
            event("complaint.status", "J", 2, 2 * D + 12 * H, status="resolved"),
            event("complaint.status", "K", 1, 7 * D + 9.5 * H, status="acknowledged"),
            event("complaint.status", "L", 1, 15 * H, status="assigned"),
        ])  # fmt: skip
        wait_for(lambda: targets("state = 'met' AND met_at IS NOT NULL") == 6, timeout=180,
                 what="the statuses met the targets")  # fmt: skip
        elapsed = dict(conn.execute(
            "SELECT target, elapsed_seconds FROM analytics.sla_targets WHERE complaint_id = %s"
            " AND state = 'met'", (ids["J"],),
        ).fetchall())  # fmt: skip
        routed = conn.execute(
            "SELECT DISTINCT priority FROM analytics.complaints WHERE complaint_id = ANY(%s)",
            (list(ids.values()),),
        ).fetchall()
        f = figures.compute(conn, Period(MONDAY, MONDAY + 14 * D), source="london-cc")

    # Then the fortnight's figures are those of then: J and K acknowledged in time (Mon 11:30
    # for a Mon 14:00 deadline; Mon 09:30 for Mon 11:30), L late (15:00 for 13:00); J
    # resolved in time (Wed 12:00 for Thu 10:00), K and L never resolved by their deadlines
    assert routed == [("P3",)]
    assert f.sla[("acknowledge", "P3")] == Compliance(met=2, breached=1, pending=0)
    assert f.sla[("resolve", "P3")] == Compliance(met=1, breached=2, pending=0)
    # J's callback met an hour early; J's customer heard news at least daily (a business day
    # each), K's and L's did not after their first update (Tue 09:30, Tue 14:30)
    assert f.sla[("callback", "P3")] == Compliance(met=1, breached=0, pending=0)
    assert f.sla[("keep_informed", "P3")] == Compliance(met=1, breached=2, pending=0)
    # And the SLA clock's own business time is that of then: J's callback 2.25 h, J's
    # resolution 19 h less the 4 h waiting on the customer
    assert elapsed["callback"] == 2.25 * 3600
    assert elapsed["resolve"] == 15 * 3600
    # And business time on London's calendar: J 1.5 h, K 2 h over the weekend, L 6 h to
    # acknowledge; J 19 h (Mon 7.5, Tue 8.5, Wed 3) to resolve
    assert f.mtta_business == Durations(3, 11400.0, 7200.0, 7200 + 0.8 * (21600 - 7200))
    assert f.mttr_business == Durations(1, 68400.0, 68400.0, 68400.0)
    assert f.mtta.count == 3 and f.mtta.median == 6 * 3600  # calendar: 1.5 h, 6 h, 65.5 h
