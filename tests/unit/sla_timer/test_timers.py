"""The timer queue: ordering, replacement and lazy cancellation."""

from __future__ import annotations

from services.sla_timer.timers import TimerQueue


def test_due_timers_fire_in_order():
    q = TimerQueue()
    q.replace("a", [(30.0, "a30"), (10.0, "a10")])
    q.replace("b", [(20.0, "b20")])
    assert [p for _, _, p in q.pop_due(25.0)] == ["a10", "b20"]
    assert q.next_due() == 30.0


def test_replace_cancels_earlier_timers_of_the_same_key():
    q = TimerQueue()
    q.replace("a", [(10.0, "old")])
    q.replace("a", [(15.0, "new")])
    assert [p for _, _, p in q.pop_due(100.0)] == ["new"]


def test_cancel_is_lazy_and_skipped_when_due():
    q = TimerQueue()
    q.replace("a", [(10.0, "x")])
    q.replace("b", [(20.0, "y")])
    q.cancel("a")
    assert q.next_due() == 20.0
    assert len(q) == 1
    assert [k for k, _, _ in q.pop_due(100.0)] == ["b"]


def test_many_timers():
    q = TimerQueue()
    for i in range(10_000):
        q.replace(i, [(float(i % 97), i)])
    fired = list(q.pop_due(50.0))
    assert len(fired) == sum(1 for i in range(10_000) if i % 97 <= 50)
    assert [d for _, d, _ in fired] == sorted(d for _, d, _ in fired)
