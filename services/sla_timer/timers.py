"""The due queue: a heap of (instant, complaint, target) — the only per-timer state in memory.

Entries are never removed when a timer changes: the database row's `next_due` is the
truth, and an entry whose instant no longer matches it is skipped when it surfaces (lazy
cancellation). Scheduling and firing are O(log n); nothing scans.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

Entry = tuple[float, str, str, int]
"""(due as epoch seconds, complaint_id, target, partition)."""


class DueQueue:
    def __init__(self) -> None:
        self._heap: list[Entry] = []

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, due: float, complaint_id: str, target: str, partition: int) -> None:
        heapq.heappush(self._heap, (due, complaint_id, target, partition))

    def extend(self, entries: Iterable[Entry]) -> None:
        entries = list(entries)
        if len(entries) * 8 < len(self._heap):  # a few: O(k log n) beats re-heapifying
            for entry in entries:
                heapq.heappush(self._heap, entry)
            return
        self._heap.extend(entries)
        heapq.heapify(self._heap)

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float, limit: int) -> list[Entry]:
        """Up to `limit` entries due at or before `now`, earliest first."""
        out: list[Entry] = []
        while self._heap and self._heap[0][0] <= now and len(out) < limit:
            out.append(heapq.heappop(self._heap))
        return out

    def drop_partitions(self, partitions: set[int]) -> None:
        """Forget the entries of partitions this instance no longer owns (rebalance: rare)."""
        self._heap = [e for e in self._heap if e[3] not in partitions]
        heapq.heapify(self._heap)
