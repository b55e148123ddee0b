"""How an audit reads: a table per check, then what does not balance, complaint by complaint."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from services.audit.checks import Outcome
from services.audit.report import as_json, as_text
from services.audit.run import Report

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def report(*outcomes: Outcome) -> Report:
    r = Report(as_of=AT, cutoff=AT - timedelta(minutes=1), read={"complaints.raw.v1": 1200})
    r.outcomes = list(outcomes)
    r.references = {"c-1": "CF-7KQ2-M9XD"}
    return r


def test_balanced_books_say_so_under_the_table():
    text = as_text(report(Outcome("raw events", checked=1200), Outcome("sla", skipped="none")))

    assert "raw events" in text and "1,200" in text and "(none)" in text
    assert text.endswith("The books balance.")


def test_what_does_not_balance_is_listed_by_complaint_with_its_reference():
    # Given two problems of one complaint and one of no complaint
    routing = Outcome("routing", checked=3)
    routing.add("registered but never routed", "c-1")
    sla = Outcome("sla", checked=9)
    sla.add("resolve: breached 2 times in one run of its clock", "c-1")
    drained = Outcome("drained", checked=2)
    drained.add("intake has not finished 4 record(s) of complaints.raw.v1")
    r = report(drained, routing, sla)

    # When it is shown as text and as JSON
    text, doc = as_text(r), json.loads(as_json(r))

    # Then the complaint's problems are together, under its id and reference
    assert "3 problem(s), 1 complaint(s)" in text
    block = text.split("complaint c-1  CF-7KQ2-M9XD")[1]
    assert "routing: registered but never routed" in block and "sla: resolve" in block
    assert text.index("not tied to a complaint") < text.index("complaint c-1")
    # And tools get every finding with its check and reference
    assert doc["balanced"] is False
    assert [c["imbalanced"] for c in doc["checks"]] == [1, 1, 1]
    assert {f["reference"] for f in doc["findings"]} == {None, "CF-7KQ2-M9XD"}


def test_a_long_list_is_cut_with_a_pointer_to_the_rest():
    many = Outcome("routing", checked=80)
    for i in range(80):
        many.add("registered but never routed", f"c-{i:02d}")

    text = as_text(report(many), limit=10)

    assert text.count("registered but never routed") == 10
    assert "... and 70 more complaint(s)" in text
