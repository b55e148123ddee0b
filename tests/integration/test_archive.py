"""The archive on the real database: a poll applied at once equals its events one by one, and
replaying any of it changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb

from schemas.routed import RoutedComplaint
from services.analytics import archive, queries
from services.analytics.migrations import MIGRATIONS
from services.analytics.queries import Filters
from services.kernel.db import migrate
from tests.analytics_story import T0, registered, routed, story
from tests.conftest import settings_env

pytestmark = pytest.mark.integration


def snapshot(conn: psycopg.Connection) -> tuple[list, list, int]:
    rows = conn.execute("SELECT * FROM analytics.complaints ORDER BY complaint_id").fetchall()
    targets = conn.execute(
        "SELECT * FROM analytics.sla_targets ORDER BY complaint_id, target"
    ).fetchall()
    events = conn.execute("SELECT count(*) FROM analytics.events").fetchone()
    assert events is not None
    return rows, targets, events[0]


def test_a_batch_at_once_equals_its_events_one_by_one_and_replays_change_nothing(cf):
    events = [(f"ce-{i}", "topic", model) for i, model in enumerate(story())]
    with psycopg.connect(cf.db_url()) as conn:
        migrate(conn, "analytics", MIGRATIONS)
        # Given the story applied one event at a time
        for event in events:
            archive.record(conn, [event], T0)
        one_by_one = snapshot(conn)
        conn.execute("TRUNCATE analytics.complaints, analytics.events, analytics.sla_targets")
        # When the same story is applied as one poll
        assert archive.record(conn, events, T0) == len(events)
        at_once = snapshot(conn)
        # Then the archive is the same
        assert at_once == one_by_one
        assert one_by_one[2] == len(events)
        # And replaying all of it, or any part, twice in one poll, changes nothing
        assert archive.record(conn, events + events[:5], T0) == 0
        assert snapshot(conn) == at_once
        row = conn.execute(
            "SELECT status, route_version, department, csat, notifications, sla_breached,"
            " escalation_level, reopen_count, root_cause, preventive_action,"
            " compensation_amount::text, compensation_currency, csat_comment, customer_token"
            " FROM analytics.complaints WHERE complaint_id = 'c-aaaa'"
        ).fetchone()
        assert row == (
            "closed", 2, "refunds", 4, 2, False, 0, 1, "billing run charged twice",
            "de-duplicate billing runs", "15.50", "GBP", "quick once someone listened", "cus_1",
        )  # fmt: skip
        targets = conn.execute(
            "SELECT complaint_id, target, state, breached, escalation_level, elapsed_seconds"
            " FROM analytics.sla_targets ORDER BY 1, 2"
        ).fetchall()
        assert targets == [
            ("c-aaaa", "acknowledge", "met", False, 0, 120.0),
            ("c-aaaa", "resolve", "met", False, 0, None),
            ("c-bbbb", "resolve", "breached", True, 3, None),
        ]


def test_list_filters_select_exactly_the_matching_complaints(cf):
    events = [(f"ce-{i}", "topic", model) for i, model in enumerate(story())]
    with psycopg.connect(cf.db_url()) as conn:
        migrate(conn, "analytics", MIGRATIONS)
        archive.record(conn, events, T0)
        conn.commit()

        def refs(**filters: object) -> list[str]:
            return sorted(str(r["complaint_id"]) for r in queries.find(conn, Filters(**filters)))

        assert refs() == ["c-aaaa", "c-bbbb"]
        assert refs(breached=True) == ["c-bbbb"] and refs(breached=False) == ["c-aaaa"]
        assert refs(status="closed", department="refunds") == ["c-aaaa"]
        assert refs(department="finance", priority="P3") == ["c-bbbb"]
        assert refs(category="billing", channel="phone") == ["c-bbbb"]  # a was recategorised
        assert refs(customer_token="cus_1", repeat=False) == ["c-aaaa", "c-bbbb"]
        assert refs(since=T0 + timedelta(minutes=1)) == [] and refs(until=T0) == []
        assert refs(place="Store bbbb, High St") == ["c-bbbb"] and refs(place="High St") == []
        assert refs(sensitive=True) == [] and refs(limit=1) != refs()
    lines = queries.list_complaints(cf.db_url(), Filters(breached=True), fmt="json").splitlines()
    assert [json.loads(line)["complaint_id"] for line in lines] == ["c-bbbb"]


def test_the_commands_list_by_place_and_show_it(cf):
    # Given the story archived (each complaint at its own place)
    events = [(f"ce-{i}", "topic", model) for i, model in enumerate(story())]
    with psycopg.connect(cf.db_url()) as conn:
        migrate(conn, "analytics", MIGRATIONS)
        archive.record(conn, events, T0)
        conn.commit()

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "services.commands.cli", *args],
            capture_output=True, text=True, env=settings_env(cf), timeout=60, check=True,
        )  # fmt: skip
        return done.stdout

    # When the operator lists one place's complaints, and shows one of them
    listed = cli("list", "--place", "Store bbbb, High St", "--format", "json").splitlines()
    shown = cli("show", "c-aaaa")
    # Then only that place's complaint is listed, with its place
    assert [json.loads(line)["complaint_id"] for line in listed] == ["c-bbbb"]
    assert json.loads(listed[0])["place"] == "Store bbbb, High St"
    # And `show` names the complaint's place, and when its targets were met in event time
    assert "place            Store aaaa, High St" in shown
    assert "acknowledged_at  2026-03-02 09:02:00+00:00" in shown
    assert "acknowledge    met        due 2026-03-02 09:10Z, met 2026-03-02 09:02Z" in shown
    # ... and the business time each took (London's calendar opens at 09:00): resolved at 09:50
    assert (
        "resolve        met        due 2026-03-02 10:00Z, met 2026-03-02 09:50Z, took 0.8" in shown
    )


def test_list_names_categories_as_the_latest_decision_that_gave_names_says(cf):
    # Given complaints of one category whose routing decisions gave its display names: the
    # latest first, then an older one archived late (a backlog); and one category without
    old = {"zh-Hans": "费用", "zh-Hant": "費用", "en": "Fees"}
    latest = {"zh-Hans": "费用问题", "en": "Charges and fees"}

    def decision(cid: str, category: str, shown: dict[str, str], minutes: int) -> RoutedComplaint:
        return routed(cid, 1, "finance", None).model_copy(
            update={"category": category, "category_display": shown,
                    "routed_at": T0 + timedelta(minutes=minutes)}
        )  # fmt: skip

    batches = [
        [registered("c-lab1"), decision("c-lab1", "charges-lab", latest, 30)],
        [registered("c-lab2"), decision("c-lab2", "charges-lab", old, 10)],
        [registered("c-lab3"), decision("c-lab3", "plain-lab", {}, 20)],
    ]
    with psycopg.connect(cf.db_url()) as conn:
        migrate(conn, "analytics", MIGRATIONS)
        for n, batch in enumerate(batches):
            archive.record(conn, [(f"ce-lab-{n}-{i}", "t", m) for i, m in enumerate(batch)], T0)
        conn.commit()

    def cli(*args: str, **env: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "services.commands.cli", "list", *args],
            capture_output=True, text=True, env={**settings_env(cf), **env}, timeout=60,
            check=True,
        )  # fmt: skip
        return done.stdout

    def table_categories(out: str) -> list[str]:
        return [line[36:].split("  ")[0].strip() for line in out.splitlines()[1:]]

    # When the operator lists them in each language
    charges = ("--category", "charges-lab")
    # Then the table shows the latest decision's name in that language (a Chinese reader's
    # in the other script when there is none in theirs), else the category
    assert table_categories(cli(*charges, "--language", "en")) == ["Charges and fees"] * 2
    assert table_categories(cli(*charges, "--language", "zh-Hant")) == ["费用问题"] * 2
    assert table_categories(cli("--category", "plain-lab", "--language", "en")) == ["plain-lab"]
    # and by default in the call center's default language
    assert table_categories(cli(*charges, CF_NOTIFY_DEFAULT_LANGUAGE="zh-Hans")) == ["费用问题"] * 2
    # And JSON gives every name beside the category (none for a category without)
    rows = [json.loads(line) for line in cli(*charges, "--format", "json").splitlines()]
    assert [r["category_display"] for r in rows] == [latest, latest]
    plain = json.loads(cli("--category", "plain-lab", "--format", "json"))
    assert plain["category"] == "plain-lab" and plain["category_display"] == {}


def test_an_archive_from_before_the_names_table_gets_its_names_from_its_history(cf):
    # Given an archive whose history holds routing decisions, archived before names were kept
    latest = {"zh-Hans": "费用问题", "en": "Charges"}
    with psycopg.connect(cf.db_url()) as conn:
        migrate(conn, "analytics", MIGRATIONS[:6])
        for n, (minutes, shown) in enumerate(((10, {"en": "Fees"}), (30, latest), (40, {}))):
            decision = routed(f"c-old{n}", 1, "finance", None).model_copy(
                update={"category": "charges-old", "category_display": shown,
                        "routed_at": T0 + timedelta(minutes=minutes)}
            )  # fmt: skip
            conn.execute(
                "INSERT INTO analytics.events (ce_id, complaint_id, topic, kind, at, recorded_at,"
                " payload) VALUES (%s, %s, 't', 'routed:v1', %s, %s, %s)",
                (f"ce-old-{n}", decision.complaint_id, decision.routed_at, T0,
                 Jsonb(decision.model_dump(mode="json", exclude_none=True))),
            )  # fmt: skip
        # When the archive is migrated
        migrate(conn, "analytics", MIGRATIONS)
        # Then each category has the names its latest decision that gave any said
        assert queries.category_names(conn) == {"charges-old": latest}
