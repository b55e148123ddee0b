"""Routing through the real broker: decisions with reasons and owners, and re-routing."""

from __future__ import annotations

import json

import pytest

from schemas.envelope import complaint_id_for
from tests.conftest import wait_for, wait_ready
from tests.e2e.test_pipeline import new_complaint, raw, submit
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.e2e


def test_routing_decides_explains_assigns_and_reroutes(cf, worker_factory):
    wait_ready([worker_factory("intake", cf), worker_factory("routing", cf)])
    routed = TopicReader(cf, "complaints.routed.v1")

    def versions(ref: str) -> list[dict]:
        cid = complaint_id_for("e2e-cc", ref)
        found = [json.loads(m.value) for m in routed.poll()]
        return sorted((d for d in found if d["complaint_id"] == cid), key=lambda d: d["version"])

    # Given complaints in Chinese without a category, and a CFPB product name
    submit(
        cf,
        [
            new_complaint("R-FIRE", "r1", "", "充电宝充电时起火了，孩子的手受伤了"),
            new_complaint("R-MEDIA", "r2", "", "客服态度很差，再不处理我就找记者曝光，还要打12315"),
            new_complaint("R-CFPB", "r3", "Debt collection", "They call about a debt I do not owe"),
            new_complaint("R-BILL", "r4", "billing", "账单多扣了200元"),
        ],
    )
    wait_for(
        lambda: all(versions(r) for r in ("R-FIRE", "R-MEDIA", "R-CFPB", "R-BILL")),
        what="four routing decisions",
    )

    # Then safety is P1, a media threat is sensitive and raised, CFPB products are understood
    fire, media = versions("R-FIRE")[0], versions("R-MEDIA")[0]
    assert fire["priority"] == "P1" and "safety" in fire["tags"]
    assert media["sensitive"] is True and media["priority"] in ("P1", "P2")
    assert versions("R-CFPB")[0]["department"] == "collections"
    bill = versions("R-BILL")[0]
    assert bill["department"] == "finance" and bill["version"] == 1
    # And every decision has a dedicated owner and explains itself
    for decision in (fire, media, bill):
        assert decision["owner"], decision["reasons"]
        assert any("owner" in r for r in decision["reasons"])

    # When an agent corrects the category, transfers it, and the customer reopens it
    submit(
        cf,
        [
            raw(
                "complaint.recategorised",
                "R-BILL",
                "r5",
                category="network",
                agent="agent-07",
                note="really a broadband outage",
            )
        ],
    )
    wait_for(lambda: len(versions("R-BILL")) >= 2, what="re-route after correction")
    submit(
        cf,
        [raw("complaint.transfer", "R-BILL", "r6", queue="network_escalations", agent="agent-07")],
    )
    wait_for(lambda: len(versions("R-BILL")) >= 3, what="re-route after transfer")
    submit(
        cf,
        [
            raw("complaint.status", "R-BILL", "r7", status="resolved"),
            raw("complaint.status", "R-BILL", "r8", status="reopened"),
        ],
    )
    wait_for(lambda: len(versions("R-BILL")) >= 4, what="re-route after reopen")

    # Then each change is a new version, with the reasons of the change
    v = versions("R-BILL")
    assert [d["version"] for d in v] == [1, 2, 3, 4]
    assert v[1]["category"] == "network" and v[1]["department"] == "technical"
    assert v[2]["queue"] == "network_escalations"
    assert v[2]["priority"] == v[1]["priority"]  # a transfer keeps priority and SLA
    assert v[3]["owner"] == v[2]["owner"]  # a reopen keeps the owner
    assert v[3]["priority"] < v[2]["priority"] or v[2]["priority"] == "P1"  # one level up
    assert any("reopen" in r.lower() for r in v[3]["reasons"])
