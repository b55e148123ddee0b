"""Failures counted per client address in a sliding window, to slow down secret guessing."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable


class FailureLimiter:
    """At most `limit` failures per `window` seconds per client; `now` is a monotonic clock."""

    def __init__(self, limit: int, window: float, now: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self.now = now
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._swept = now()

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again; 0 when it may now."""
        with self._lock:
            recent = self._recent(client)
            if len(recent) < self.limit:
                return 0
            return max(1, math.ceil(recent[0] + self.window - self.now()))

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(self.now())

    def _recent(self, client: str) -> deque[float]:
        cutoff = self.now() - self.window
        if self._swept <= cutoff:  # once a window: memory follows the clients still failing
            self._swept = self.now()
            for key in [k for k, q in self._failures.items() if not q or q[-1] <= cutoff]:
                del self._failures[key]
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] <= cutoff:
            recent.popleft()
        return recent
