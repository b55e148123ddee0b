"""The figures on the real database, from a week archived through the archive's own writing
path, against expectations computed by hand (see tests/figures_story.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest

from services.analytics import alerts, figures
from services.analytics.alerts import Episode
from services.analytics.figures import Compliance, Durations, Performance
from services.analytics.periods import Period
from tests.figures_story import BASE, LAST_YEAR, archived, warnings

pytestmark = pytest.mark.integration
WEEK = timedelta(days=7)


def test_every_figure_of_the_week_matches_the_hand_computed_one(cf):
    with psycopg.connect(cf.db_url()) as conn:
        archived(conn, BASE)
        f = figures.compute(conn, Period(BASE, BASE + WEEK, "week"))

    # Received: A, B, C, D, E (London) and H (Taipei); F, G before the week, I after it
    assert f.received == 6
    assert f.volume["category"] == [("billing", 4), ("delivery", 2)]
    assert f.volume["channel"] == [("phone", 3), ("chat", 1), ("email", 1), ("web", 1)]
    assert f.volume["department"] == [("finance", 4), ("logistics", 2)]
    assert f.volume["region"] == [("north", 3), ("south", 2), ("(none)", 1)]
    assert f.volume["place"] == [("(none)", 3), ("Oxford St store", 2), ("51.5,-0.12", 1)]
    assert f.volume["product"] == [("broadband", 3), ("(none)", 2), ("router", 1)]
    assert f.volume["source"] == [("london-cc", 5), ("taipei-cc", 1)]
    assert f.volume["priority"] == [("P3", 3), ("P2", 2), ("P4", 1)]
    # Trend per day (a week is bucketed by day): Mon A, Tue B, Wed C H, Thu D, Sun E
    days = {at.date().isoformat(): n for at, n in f.trend["channel"]["phone"].items()}
    assert days == {"2026-03-02": 1, "2026-03-04": 1, "2026-03-08": 1}
    assert sum(sum(v.values()) for v in f.trend["category"].values()) == 6
    days = {at.date().isoformat(): n for at, n in f.trend["place"]["Oxford St store"].items()}
    assert days == {"2026-03-02": 1, "2026-03-04": 1}
    # Open at the week's end: C, D (logistics, 5 d and 4 d), E (1 h), H (5 d), F (17 d)
    assert f.backlog == {
        "finance": {"<1d": 1, "1-3d": 0, "3-7d": 1, "7-30d": 1, ">30d": 0},
        "logistics": {"<1d": 0, "1-3d": 0, "3-7d": 2, "7-30d": 0, ">30d": 0},
    }
    assert f.open_total == 5
    # SLA targets due in the week: A ack+resolve met, B ack met + resolve breached, C ack
    # breached (met late) + resolve pending, D ack breached, F resolve breached
    assert f.sla[("acknowledge", "P3")] == Compliance(met=2, breached=0, pending=0)
    assert f.sla[("acknowledge", "P2")] == Compliance(met=0, breached=2, pending=0)
    assert f.sla[("acknowledge", "*")].rate == 0.5
    assert f.sla[("resolve", "P3")] == Compliance(met=1, breached=2, pending=0)
    assert f.sla[("resolve", "P2")] == Compliance(met=0, breached=0, pending=1)
    assert f.sla_total == Compliance(met=3, breached=4, pending=1)
    assert f.sla_by_department == {
        "finance": Compliance(met=3, breached=2, pending=0),
        "logistics": Compliance(met=0, breached=2, pending=1),
    }
    # Escalations: B to 2, C and D to 1, F to 3
    assert f.escalations == {1: 4, 2: 2, 3: 1}
    # Time to acknowledge (received in the week): A 30 min, B 2 h, C 10 min
    assert f.mtta == Durations(3, 3200.0, 1800.0, 1800 + 0.8 * 5400)
    assert f.mtta_business == Durations(3, 2000.0, 1800.0, 1800 + 0.8 * 1800)
    # Time to resolve (resolved in the week): A 1 d, B 3 d (after its reopening), G 7 d
    assert f.mttr == Durations(3, 316800.0, 259200.0, 259200 + 0.8 * 345600)
    assert f.mttr_business == Durations(1, 20000.0, 20000.0, 20000.0)
    # Of the week's complaints A and B were resolved, B reopened; B and D are repeats
    assert (f.resolved, f.reopened, f.reopen_rate) == (2, 1, 0.5)
    assert (f.repeats, f.repeat_rate) == (2, 2 / 6)
    assert f.csat == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    assert (f.csat_mean, f.csat_response_rate) == (3.5, 1.0)
    assert f.compensation == [("GBP", Decimal("10.00"), 1)]
    # One cause (two spellings): first acted on at A's resolution, B came after it
    [cause] = f.root_causes
    assert (cause.cause, cause.complaints, cause.recurred) == ("Double charge", 2, 1)
    assert (cause.corrective_action, cause.preventive_action) == ("refund", "dedupe")
    assert f.repeat_issues == [("billing", 1), ("delivery", 1)]
    # Resolved in the week: A, B (agent-1), G (agent-3), all in the finance queue
    assert f.teams == [Performance("finance-q", 3, 1, 1, 3.5)]
    assert f.owners == [
        Performance("agent-1", 2, 1, 1, 3.5),
        Performance("agent-3", 1, 0, 0, None),
    ]
    # Early warnings open in the week: the north billing spike (opened 1 d, peaked at 5,
    # closed 2 d) and the collective complaint at Oxford St (6 d, still open); not the spike
    # closed before the week nor the theme after it
    assert f.alerts == [
        Episode(
            "spike", {"category": "billing", "region": "north"}, "spike at 2 days, 0:00:00",
            BASE + timedelta(days=1), BASE + timedelta(days=2), 1, 5, 0.8, 0.004, 3,
            ["charged", "twice"],
        ),
        Episode(
            "collective", {"place": "Oxford St store"}, "collective at 6 days, 0:00:00",
            BASE + timedelta(days=6), None, 3, 3, None, None, 3, ["router", "断网"],
        ),
    ]  # fmt: skip


def test_alert_replays_and_late_revisions_change_no_episode(cf):
    with psycopg.connect(cf.db_url()) as conn:
        archived(conn, BASE)
        week = Period(BASE, BASE + WEEK)
        before = alerts.of_period(conn, week)
        # When every alert is consumed again, and the opening revision once more on its own
        alerts.record(conn, warnings(BASE), BASE)
        alerts.record(conn, warnings(BASE)[:1], BASE)
        # Then each episode is as it was
        assert alerts.of_period(conn, week) == before
        # And a period that ends before the spike closed shows it still open
        early = alerts.of_period(conn, Period(BASE, BASE + timedelta(days=1, hours=12)))
        assert early == [replace(before[0], closed_at=None)]


def test_one_call_center_counts_only_its_own(cf):
    with psycopg.connect(cf.db_url()) as conn:
        archived(conn, BASE)
        f = figures.compute(conn, Period(BASE, BASE + WEEK), source="taipei-cc")
    assert f.received == 1 and f.volume["channel"] == [("chat", 1)]
    assert f.backlog == {"finance": {"<1d": 0, "1-3d": 0, "3-7d": 1, "7-30d": 0, ">30d": 0}}
    assert f.sla_total == Compliance() and f.mttr == Durations(0)


def test_an_import_of_last_year_yields_last_years_figures(cf):
    # Given this year's week and the same week of last year, both archived today
    with psycopg.connect(cf.db_url()) as conn:
        archived(conn, BASE, LAST_YEAR)
        this_year = figures.compute(conn, Period(BASE, BASE + WEEK))
        last_year = figures.compute(conn, Period(LAST_YEAR, LAST_YEAR + WEEK))
        between = figures.compute(conn, Period(LAST_YEAR + 2 * WEEK, BASE - 2 * WEEK))
    # Then each week's figures are its own, on event time
    for f in (this_year, last_year):
        assert f.received == 6
        assert f.escalations == {1: 4, 2: 2, 3: 1}
        assert f.mttr.median == 259200.0 and f.csat_mean == 3.5
    assert last_year.open_total == 5
    # (still open a year on: last year's C, D, E, F, H and I, the one after its week)
    assert this_year.open_total == 5 + 6 and this_year.backlog["finance"][">30d"] == 4
    days = sorted(at.date().isoformat() for at in last_year.trend["channel"]["phone"])
    assert days == ["2025-03-03", "2025-03-05", "2025-03-09"]
    # And the months between received nothing; open then: last year's C, D, E, F, H and I
    assert between.received == 0 and between.mttr.count == 0
    assert between.open_total == 6
    assert between.backlog["finance"] == {"<1d": 0, "1-3d": 0, "3-7d": 0, "7-30d": 0, ">30d": 4}
