"""The analytics worker: archives every event (a poll at a time, set-based) and publishes
per-category aggregates."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import psycopg
from kafka import KafkaProducer

from schemas.registry import LIFECYCLE, NOTIFICATIONS, REGISTERED, ROUTED, SLA, STATS
from schemas.stats import StatsRecord
from services.analytics import archive
from services.analytics.fold import Archived
from services.analytics.metrics import AnalyticsMetrics
from services.analytics.migrations import MIGRATIONS
from services.analytics.read_api import ReadApi
from services.analytics.settings import AnalyticsSettings
from services.kernel.emit import Emit
from services.kernel.handler import Handler, Record, Rejected, decode_all

STATS_EVERY = 5.0


class Analytics(Handler):
    name = "analytics"
    inputs = (REGISTERED, LIFECYCLE, ROUTED, SLA, NOTIFICATIONS)
    schema = "analytics"
    migrations = MIGRATIONS
    metrics_class = AnalyticsMetrics
    settings_class = AnalyticsSettings
    batched = True

    def start(self, conn: psycopg.Connection) -> None:
        self._stats_at = 0.0
        self._published: dict[str, tuple[int, int, int, int]] = {}

    def serve(self, producer: KafkaProducer) -> Callable[[], None] | None:
        """The archive's read API, when a port and keys are configured."""
        if self.settings.analytics_http_port is None or self.settings.analytics_api_keys is None:
            return None
        return ReadApi(self.settings, pii_key=self.settings.pii_secret()).start().stop

    def handle_batch(
        self, records: list[Record], conn: psycopg.Connection
    ) -> Iterable[Emit | Rejected]:
        """The poll's events archived together: one statement per table."""
        good, refused = decode_all(records)
        events: list[tuple[str, str, Archived]] = [
            (cause.id, rec.spec.name, model) for rec, model, cause in good
        ]
        archive.record(conn, events, self.clock.now())
        return refused

    def tick(self, conn: psycopg.Connection) -> Iterable[Emit]:
        if time.monotonic() - self._stats_at < STATS_EVERY:
            return ()
        self._stats_at = time.monotonic()
        now = self.clock.now()
        out: list[Emit] = []
        published: dict[str, tuple[int, int, int, int]] = {}
        for category, received, opened, resolved, breached in archive.category_counts(conn):
            counts = (received, opened, resolved, breached)
            if self._published.get(category) == counts:
                continue
            published[category] = counts
            record = StatsRecord(
                dimension="category",
                value=category,
                received=received,
                open=opened,
                resolved=resolved,
                breached=breached,
                updated_at=now,
            )
            key = f"category={category}"
            out.append(self.emit(STATS, key, record, "stats", key, *counts))
        # Remembered as published only once the broker has them and the transaction commits.
        self.after_commit(lambda: self._published.update(published))
        return out
