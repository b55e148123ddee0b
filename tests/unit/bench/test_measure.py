"""The bench's pure helpers: percentiles, rates over time, whether a pipeline kept up."""

from __future__ import annotations

import math
import os

from services.bench.measure import breach_lag_by_phase, keeps_up, percentile, rates


def test_percentile_is_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]  # 1 … 100, shuffled below
    shuffled = values[::2] + values[1::2]
    assert percentile(shuffled, 50) == 50
    assert percentile(shuffled, 95) == 95
    assert percentile(shuffled, 99) == 99
    assert percentile(shuffled, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_rates_count_per_bucket_from_the_first_instant_with_empty_buckets_as_zero():
    stamps = [100.0, 100.2, 100.9, 101.5, 103.1, 103.2, 103.3, 103.4]
    assert rates(stamps) == [(0.0, 3.0), (1.0, 1.0), (2.0, 0.0), (3.0, 4.0)]
    assert rates(stamps, step=2.0) == [(0.0, 2.0), (2.0, 2.0)]
    assert rates([]) == []


def test_a_steady_wait_keeps_up_and_a_growing_one_does_not():
    steady = [0.05 + 0.01 * (i % 3) for i in range(100)]
    growing = [0.05 + 0.1 * i for i in range(100)]  # each waits 0.1 s longer than the last
    assert keeps_up(steady)
    assert not keeps_up(growing)
    # A one-off slow complaint at the end is not a backlog
    assert keeps_up([*steady, 3.0])
    assert not keeps_up([])


def test_breach_lag_is_split_by_when_the_deadline_fell_due():
    # (seconds since start, lag or None when not breached); ready at 10 s, drained at 20 s
    points = [(5.0, 6.0), (9.9, 1.5), (10.0, 0.2), (15.0, 0.4), (19.0, None), (25.0, 0.05)]
    got = breach_lag_by_phase(points, ready_s=10.0, drained_s=20.0)
    assert got["before ready"]["deadlines"] == 2 and got["before ready"]["over_1s"] == 2
    assert got["before ready"]["max_ms"] == 6000
    during = got["during drain"]
    assert (during["deadlines"], during["breached"], during["over_1s"]) == (3, 2, 0)
    assert during["p99_ms"] == 400
    assert got["after"]["breached"] == 1 and got["after"]["p50_ms"] == 50
    # Not drained (yet): everything after the workers were ready is during the drain
    open_ended = breach_lag_by_phase(points, ready_s=10.0, drained_s=None)
    assert open_ended["during drain"]["deadlines"] == 4 and open_ended["after"]["deadlines"] == 0


def test_a_process_tree_counts_its_children_cpu():
    import subprocess
    import sys

    from services.bench.measure import cpu_seconds, tree_cpu_seconds
    from tests.conftest import wait_for

    # A child that burns CPU until it is killed: its time is the parent's tree's too.
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        me = os.getpid()
        wait_for(lambda: cpu_seconds(child.pid) >= 0.2, what="the child's CPU time")
        assert tree_cpu_seconds(me) >= cpu_seconds(me) + cpu_seconds(child.pid) - 0.05
    finally:
        child.kill()
        child.wait()


def test_database_cpu_is_split_by_client_and_counts_new_connections_from_their_start():
    from services.bench.pipeline import database_cpu_by_client

    before = {10: ("intake", 1.0), 11: ("analytics", 2.0)}
    after = {
        10: ("intake", 1.5),
        11: ("analytics", 5.0),
        12: ("analytics", 0.5),
        13: ("bench", 0.1),
    }
    assert database_cpu_by_client(before, after) == {"analytics": 3.5, "intake": 0.5, "bench": 0.1}
    assert list(database_cpu_by_client(before, after)) == ["analytics", "intake", "bench"]
