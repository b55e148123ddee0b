"""A timer queue: a heap with lazy cancellation, so schedule, cancel and fire are O(log n)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(order=True)
class _Entry:
    due: float
    seq: int
    key: Hashable = field(compare=False)
    generation: int = field(compare=False)
    payload: Any = field(compare=False)


class TimerQueue:
    """Timers keyed by an owner (e.g. complaint and target); rescheduling an owner cancels
    its earlier timers without searching for them."""

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._generation: dict[Hashable, int] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._generation)

    def replace(self, key: Hashable, timers: list[tuple[float, Any]]) -> None:
        """Drop every pending timer of `key` and schedule `timers` (due, payload) instead."""
        generation = self._generation.get(key, 0) + 1
        self._generation[key] = generation
        for due, payload in timers:
            heapq.heappush(self._heap, _Entry(due, next(self._seq), key, generation, payload))

    def cancel(self, key: Hashable) -> None:
        self._generation.pop(key, None)

    def next_due(self) -> float | None:
        while self._heap and not self._live(self._heap[0]):
            heapq.heappop(self._heap)
        return self._heap[0].due if self._heap else None

    def pop_due(self, now: float) -> Iterator[tuple[Hashable, float, Any]]:
        """Every live timer due at or before `now`, earliest first."""
        while self._heap and self._heap[0].due <= now:
            entry = heapq.heappop(self._heap)
            if self._live(entry):
                yield entry.key, entry.due, entry.payload

    def _live(self, entry: _Entry) -> bool:
        return self._generation.get(entry.key) == entry.generation
