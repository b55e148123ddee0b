"""The `pending` table's entries and when they may go (pure).

The join agent keeps, per complaint, the half that came first (registered or routed) until
the other comes, then a done marker so a re-route or a redelivery makes no second signal.
Each entry carries the complaint's event time and the source partition it was written from;
once the partition's newest event time has passed an entry's by more than any window it
could still count in (the collective window, the lateness, a spike window), it is forgotten:
a signal that old would come too late for any count anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from services.early_warning.detector import Rules

PRUNE_EVERY_SECONDS = 3600
"""Event time on a partition between two sweeps of its entries."""


def stamp(occurred_at: float, part: int) -> dict[str, Any]:
    return {"t": occurred_at, "p": part}


def done(occurred_at: float, part: int) -> dict[str, Any]:
    """The marker of a complaint whose signal is sent."""
    return {"done": True, **stamp(occurred_at, part)}


def is_done(held: Any) -> bool:
    return held == "done" or (isinstance(held, dict) and bool(held.get("done")))


def read_mark(topic: str, partition: int) -> str:
    """The key of a source partition's read mark: the offset of its last event the join
    handled (kept beside the complaints' entries, in that partition's changelog; never stale:
    it has no event time)."""
    return f"@read:{partition}:{topic}"


def read_partition(mark: str) -> int:
    return int(mark.split(":", 2)[1])


def read_entry(offset: int, part: int) -> dict[str, Any]:
    return {"read": offset, "p": part}


def read_offset(entry: Any) -> int | None:
    """The offset a read mark holds (None: no mark, nothing read yet)."""
    return int(entry["read"]) if isinstance(entry, dict) and "read" in entry else None


def horizon(rules: Rules) -> float:
    """How far behind a partition's newest event time an entry can still matter."""
    return rules.collective_seconds + rules.lateness_seconds + rules.spike.window_seconds


def stale(items: Iterable[tuple[str, Any]], part: int, before: float) -> Iterator[str]:
    """Keys of entries written from `part` whose event time is before `before` (entries of
    other partitions are theirs to forget: a table's changelog is partitioned alike)."""
    for key, value in list(items):
        if isinstance(value, dict) and value.get("p") == part and value.get("t", before) < before:
            yield key
