"""Folding a batch per complaint: each field changes as the events say, in their order."""

from __future__ import annotations

from schemas.common import Status
from services.analytics.fold import fold
from tests.analytics_story import at, registered, routed, status, story, survey


def test_a_batch_folds_to_one_patch_per_complaint():
    patches = {p.complaint_id: p for p in fold(story())}
    a, b = patches["c-aaaa"], patches["c-bbbb"]
    assert a.registered is not None and a.registered.reference.startswith("CF-")
    assert a.routed is not None and a.routed.version == 2  # a late older copy does not win
    assert a.status == "closed"
    # resolved, reopened, then resolved again: the time of the resolution after the reopen
    assert a.resolved_reset and a.resolved_at == at(50)
    assert a.csat == 4 and a.notifications == 2
    assert b.status == "acknowledged" and b.breached and b.escalation_level == 3
    assert b.resolved_at is None and not b.resolved_reset


def test_a_resolution_without_a_reopen_keeps_any_earlier_one():
    (p,) = fold([status("c1", Status.RESOLVED, 10), status("c1", Status.CLOSED, 20)])
    assert p.resolved_at == at(10) and not p.resolved_reset
    (q,) = fold([survey("c1", 2, 5), survey("c1", 5, 6)])
    assert q.csat == 5 and q.status is None


def test_patches_keep_the_order_complaints_first_appear_in():
    events = [registered("c2"), routed("c1", 1, "finance", None), registered("c1")]
    assert [p.complaint_id for p in fold(events)] == ["c2", "c1"]
