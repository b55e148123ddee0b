"""When to try a failed send again: exponential backoff with jitter, as data (the outbox's
`next_attempt_at`), never a sleep."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float
    cap_seconds: float
    max_attempts: int

    def delay(self, attempts: int, rand: Callable[[], float] = random.random) -> timedelta:
        """After `attempts` failed tries: base·2^(attempts−1), capped, jittered to 50–100%
        so the retries of one outage do not arrive together."""
        full = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return timedelta(seconds=full * (0.5 + 0.5 * rand()))

    def next_attempt(
        self, attempts: int, now: datetime, rand: Callable[[], float] = random.random
    ) -> datetime | None:
        """When to try again, or None when every attempt is used."""
        if attempts >= self.max_attempts:
            return None
        return now + self.delay(attempts, rand)
