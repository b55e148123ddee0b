"""The analytics worker: archives every event (a poll at a time, set-based), publishes the
figures per dimension and event-time window, and keeps the live gauges."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import psycopg
from kafka import KafkaProducer

from schemas.alerts import Alert
from schemas.registry import ALERTS, LIFECYCLE, NOTIFICATIONS, REGISTERED, ROUTED, SLA, STATS
from services.analytics import alerts, archive, stats
from services.analytics.fold import Archived
from services.analytics.metrics import AnalyticsMetrics
from services.analytics.migrations import MIGRATIONS
from services.analytics.read_api import ReadApi
from services.analytics.settings import AnalyticsSettings
from services.kernel.emit import Emit
from services.kernel.handler import Handler, Record, Rejected, decode_all

STATS_EVERY = 5.0
"""Seconds between two publications of the figures, at the least."""
STATS_SHARE = 0.02
"""The share of the worker's time the figures may take: when computing them takes longer (a
large archive), the next publication waits longer, fifty times what the last one took, up to
`STATS_MOST`."""
STATS_MOST = 60.0
"""Seconds between two publications, at the most: figures a minute old at worst, even when one
computation was slow only because the machine was busy (a wall-clock time taken under load
would otherwise hold the next back for minutes) — unless that would give the figures more than
`STATS_SHARE_MOST` of the worker's time."""
STATS_SHARE_MOST = 0.1
"""The share of the worker's time the figures take at the most, even to be a minute old: over
a million complaints, in a flood, one computation took 49 s, and one a minute left the archive
a sixth of the worker's time."""
REMEMBERED = 100_000
"""Published keys remembered to skip unchanged ones."""


def publish_after(took: float) -> float:
    """Seconds from one publication of the figures to the next, when computing them took
    `took`: fifty times that, at least `STATS_EVERY`, at most `STATS_MOST` — or ten times
    that when a minute would give them more than a tenth of the worker's time."""
    most = max(STATS_MOST, took / STATS_SHARE_MOST)
    return min(most, max(STATS_EVERY, took / STATS_SHARE))


class Analytics(Handler):
    name = "analytics"
    inputs = (REGISTERED, LIFECYCLE, ROUTED, SLA, NOTIFICATIONS, ALERTS)
    schema = "analytics"
    migrations = MIGRATIONS
    metrics_class = AnalyticsMetrics
    settings_class = AnalyticsSettings
    batched = True

    def start(self, conn: psycopg.Connection) -> None:
        self._stats_next = 0.0
        self._published: dict[str, tuple[object, ...]] = {}

    def serve(self, producer: KafkaProducer) -> Callable[[], None] | None:
        """The archive's read API, when a port and keys are configured."""
        if self.settings.analytics_http_port is None or self.settings.analytics_api_keys is None:
            return None
        return ReadApi(self.settings, pii_key=self.settings.pii_secret()).start().stop

    def handle_batch(
        self, records: list[Record], conn: psycopg.Connection
    ) -> Iterable[Emit | Rejected]:
        """The poll's events archived together: one statement per table (the early warnings
        apart from the complaints' history, one row per episode)."""
        good, refused = decode_all(records)
        now = self.clock.now()
        events: list[tuple[str, str, Archived]] = [
            (cause.id, rec.spec.name, model) for rec, model, cause in good
            if not isinstance(model, Alert)
        ]  # fmt: skip
        archive.record(conn, events, now)
        alerts.record(conn, [model for _, model, _ in good if isinstance(model, Alert)], now)
        return refused

    def tick_due(self) -> bool:
        return time.monotonic() >= self._stats_next

    def tick(self, conn: psycopg.Connection) -> Iterable[Emit]:
        """Publish the figures whose complaints changed (each key only when its figures did)
        and refresh the gauges, every few seconds (see `STATS_SHARE`)."""
        began = time.monotonic()
        if began < self._stats_next:
            return ()
        now = self.clock.now()
        out: list[Emit] = []
        published: dict[str, tuple[object, ...]] = {}
        for record in stats.changed(conn, stats.last_published(conn), now):
            key = stats.key(record)
            figures = tuple(record.model_dump(exclude={"updated_at"}).values())
            if self._published.get(key) == figures:
                continue
            published[key] = figures
            out.append(self.emit(STATS, key, record, "stats", key, *figures))
        stats.mark_published(conn, now)
        live = stats.live(conn, now)
        took = time.monotonic() - began
        self._stats_next = began + publish_after(took)
        # Remembered as published only once the broker has them and the transaction commits.
        self.after_commit(lambda: self._remember(published))
        self.after_commit(lambda: self.metrics.show(live))
        self.after_commit(lambda: self.metrics.figures_seconds.set(took))
        return out

    def _remember(self, published: dict[str, tuple[object, ...]]) -> None:
        if len(self._published) + len(published) > REMEMBERED:
            self._published.clear()  # forgetting only means publishing an unchanged key again
        self._published.update(published)
