"""The join's pending entries: marked with their event time and partition, forgotten once
no window could count them."""

from __future__ import annotations

from services.early_warning import pending
from services.early_warning.detector import Rules

HOUR = 3600.0


def test_an_entry_goes_once_its_partition_has_passed_every_window_it_could_count_in():
    rules = Rules()
    horizon = pending.horizon(rules)
    assert horizon == rules.collective_seconds + rules.lateness_seconds + 3600
    newest = 100 * 24 * HOUR
    table = {
        "old-done": pending.done(newest - horizon - 1, part=0),
        "old-half": {"reg": {}, **pending.stamp(newest - horizon - HOUR, part=0)},
        "recent-done": pending.done(newest - horizon + 1, part=0),
        "old-other-partition": pending.done(newest - 2 * horizon, part=1),
        "legacy": "done",
    }
    # When partition 0 is swept at its newest event time
    stale = list(pending.stale(table.items(), 0, newest - horizon))
    # Then its entries older than the horizon go; the others' and unstamped ones stay
    assert stale == ["old-done", "old-half"]


def test_a_done_marker_of_either_form_is_done_and_a_half_is_not():
    assert pending.is_done(pending.done(1.0, 2)) and pending.is_done("done")
    assert not pending.is_done({"reg": {}, **pending.stamp(1.0, 2)}) and not pending.is_done(None)
