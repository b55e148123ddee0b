"""A circuit per channel endpoint: after N consecutive transient failures the channel stops
trying for a cool-down, then lets one probe through; the probe's success closes it, its
failure opens it again. Pure and thread-safe; the clock is injected."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class Circuit:
    def __init__(
        self, failures: int, cooldown: float, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold, self.cooldown, self.now = failures, cooldown, now
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return CLOSED
            return HALF_OPEN if self._probing else OPEN

    def allow(self) -> bool:
        """Whether a send may be tried now (the one probe when the cool-down is over)."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._probing or self.now() - self._opened_at < self.cooldown:
                return False
            self._probing = True
            return True

    def wait(self) -> float:
        """Seconds until a probe may go (0 when closed)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self.cooldown - (self.now() - self._opened_at))

    def idle(self) -> None:
        """The probe found nothing to send: the next send is the probe."""
        with self._lock:
            self._probing = False

    def succeeded(self) -> bool:
        """Record a delivery; True if it closed an open circuit."""
        with self._lock:
            was_open = self._opened_at is not None
            self._failures, self._opened_at, self._probing = 0, None, False
            return was_open

    def failed(self) -> bool:
        """Record a transient failure; True if it opened the circuit (again)."""
        with self._lock:
            self._failures += 1
            if self._probing or (self._opened_at is None and self._failures >= self.threshold):
                self._opened_at, self._probing = self.now(), False
                return True
            return False
