"""Configuration problems a worker keeps running with: logged once, counted, shown on /readyz.

A worker that meets a gap in its configuration — a policy routing names that is not defined,
a calendar that cannot place a deadline, a roster edit that does not load — falls back and
goes on rather than dead-lettering complaints or stopping. This is where it says so: one
warning per distinct problem (not one per record), `complaintflow_config_errors_total` each
time it is met, `complaintflow_config_problems` while it is present, and the list on the
worker's `/readyz` and `/statusz` (and so in `complaintflow stack status`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry

from services.kernel.clock import Clock
from services.kernel.metrics import ProblemMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """One configuration problem, as an operator reads it."""

    kind: str
    """Low-cardinality code, the metric label: `unknown_sla_policy`, `calendar`, …"""
    subject: str
    """What it is about (a policy, calendar or file name); never a complaint or customer id."""
    message: str
    """What is wrong and what the worker does instead (the latest wording)."""
    since: datetime
    """When it was first met (since it was last cleared)."""
    last_seen: datetime
    count: int
    """Times met since `since`."""

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["since"], out["last_seen"] = self.since.isoformat(), self.last_seen.isoformat()
        return out

    def line(self) -> str:
        """One line (continued, indented, when the message has several)."""
        about = f" {self.subject}" if self.subject else ""
        since = self.since.isoformat(timespec="seconds")
        text = f"{self.kind}{about}: {self.message} (since {since}, {times(self.count)})"
        return text.replace("\n", "\n    ")


class ConfigProblems:
    """The configuration problems one worker has now.

    `report` and `clear` come from the worker's loop; `current` is read by the ops endpoints on
    another thread, hence the lock.
    """

    def __init__(self, worker: str, metrics: ProblemMetrics, clock: Clock) -> None:
        self.worker = worker
        self.metrics = metrics
        self.clock = clock
        self._open: dict[tuple[str, str], Problem] = {}
        self._lock = threading.Lock()

    @classmethod
    def create(cls, worker: str, registry: CollectorRegistry, clock: Clock) -> ConfigProblems:
        return cls(worker, ProblemMetrics.create(registry), clock)

    def report(self, kind: str, message: str, *, subject: str = "", count: int = 1) -> None:
        """The worker met problem (`kind`, `subject`) `count` times and runs on regardless.

        Logged when it is new or its message changed; counted every time.
        """
        now = self.clock.now()
        key = (kind, subject)
        # Everything under the lock: whoever sees the problem on /readyz sees it counted too.
        with self._lock:
            seen = self._open.get(key)
            if seen is None:
                self._open[key] = Problem(kind, subject, message, now, now, count)
            else:
                self._open[key] = replace(
                    seen, message=message, last_seen=now, count=seen.count + count
                )
            if seen is None or seen.message != message:
                about = f" {subject}" if subject else ""
                log.warning(
                    "%s: configuration problem (%s)%s: %s", self.worker, kind, about, message
                )
            if count:
                self.metrics.config_errors.labels(self.worker, kind).inc(count)
            self.metrics.config_problems.labels(self.worker, kind).set(self._present(kind))

    def clear(self, kind: str, *, subject: str = "") -> None:
        """Problem (`kind`, `subject`) is gone (the file loads again, …); nothing if absent."""
        with self._lock:
            gone = self._open.pop((kind, subject), None)
            if gone is None:
                return
            about = f" {subject}" if subject else ""
            log.info(
                "%s: configuration problem (%s)%s is resolved (met %d times)",
                self.worker,
                kind,
                about,
                gone.count,
            )
            self.metrics.config_problems.labels(self.worker, kind).set(self._present(kind))

    def current(self) -> list[Problem]:
        """The problems present now, oldest first."""
        with self._lock:
            return sorted(self._open.values(), key=lambda p: (p.since, p.kind, p.subject))

    def _present(self, kind: str) -> int:
        return sum(1 for k, _ in self._open if k == kind)


def times(n: int) -> str:
    """`1 time`, `3 times`."""
    return f"{n} time{'' if n == 1 else 's'}"
