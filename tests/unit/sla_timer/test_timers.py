"""The due queue: ordering, batches, and forgetting partitions on a rebalance."""

from __future__ import annotations

from services.sla_timer.timers import DueQueue


def test_due_entries_come_out_in_order_and_in_batches():
    q = DueQueue()
    q.push(30.0, "a", "resolve", 0)
    q.push(10.0, "b", "resolve", 1)
    q.push(20.0, "c", "acknowledge", 0)
    assert [e[1] for e in q.pop_due(25.0, limit=1)] == ["b"]
    assert [e[1] for e in q.pop_due(25.0, limit=10)] == ["c"]
    assert q.next_due() == 30.0 and len(q) == 1


def test_nothing_is_due_early():
    q = DueQueue()
    q.push(10.0, "a", "resolve", 0)
    assert q.pop_due(9.999, limit=10) == []


def test_revoked_partitions_are_forgotten():
    q = DueQueue()
    q.extend([(float(i), f"c{i}", "resolve", i % 3) for i in range(30)])
    q.drop_partitions({0, 2})
    fired = q.pop_due(100.0, limit=100)
    assert {e[3] for e in fired} == {1} and len(fired) == 10
    assert [e[0] for e in fired] == sorted(e[0] for e in fired)
