"""When a notice may go: quiet hours in the recipient's time zone, and a token bucket per
channel. Pure: the clock and the zone are arguments."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from datetime import time as clock_time

from services.kernel.errors import ConfigError

SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def quiet_span(spec: str) -> tuple[clock_time, clock_time] | None:
    """`21:00-08:00` → (21:00, 08:00); empty → None; ConfigError naming what was expected."""
    if not spec.strip():
        return None
    found = SPAN.match(spec)
    if found is None:
        raise ConfigError(
            f"CF_NOTIFY_QUIET_HOURS: {spec!r}: expected HH:MM-HH:MM, e.g. 21:00-08:00"
        )
    h1, m1, h2, m2 = map(int, found.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ConfigError(f"CF_NOTIFY_QUIET_HOURS: {spec!r}: hours 0–23, minutes 0–59")
    return clock_time(h1, m1), clock_time(h2, m2)


def quiet_until(
    now: datetime, tz: tzinfo, span: tuple[clock_time, clock_time] | None
) -> datetime | None:
    """The end of the quiet hours `now` falls in, in the recipient's zone; None outside them."""
    if span is None or span[0] == span[1]:
        return None
    start, end = span
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    overnight = start > end
    inside = (t >= start or t < end) if overnight else (start <= t < end)
    if not inside:
        return None
    day = local.date() + timedelta(days=1) if overnight and t >= start else local.date()
    return datetime.combine(day, end, tzinfo=tz).astimezone(now.tzinfo)


class TokenBucket:
    """At most `rate` takes per second on average, `burst` at once; thread-safe."""

    def __init__(
        self, rate: float, burst: float | None = None, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self.now = rate, burst or max(1.0, rate), now
        self._tokens, self._at = self.burst, now()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take a token: 0 when one was free, else the seconds to wait before trying again."""
        with self._lock:
            now = self.now()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate
