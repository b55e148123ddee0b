"""Keeps a routing worker on the model in use (the latest trained, or the one activated or
rolled back to): picks up a change without a restart, and retrains on agents' corrections on a
schedule, beside the loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg

from services.kernel.clock import Clock
from services.routing import model_store
from services.routing.classifier import Classifier, Trained
from services.routing.learning import retrain, shipped_model_for
from services.routing.rulebook import ClassifierSpec
from services.routing.settings import RoutingSettings

log = logging.getLogger(__name__)
Report = Callable[[str | None], None]
"""Called with what is wrong with the stored model (None once it is fine again)."""


class ModelKeeper:
    """Which trained model a worker's classifier uses, checked every few seconds."""

    def __init__(
        self,
        classifier: Classifier,
        spec: ClassifierSpec,
        settings: RoutingSettings,
        clock: Clock,
        report: Report,
    ) -> None:
        self.classifier = classifier
        self.spec = spec
        self.settings = settings
        self.clock = clock
        self.report = report
        self.enabled = settings.routing_classifier == "model"
        self.version: int | None = None
        """The stored version in use (None: the shipped model, or keywords)."""
        self._checked = float("-inf")
        self._retraining: threading.Thread | None = None

    def check(self, conn: psycopg.Connection, *, force: bool = False) -> None:
        """Use the stored model in use if it changed (or the shipped one before any)."""
        if not self.enabled:
            return
        every = self.settings.routing_model_check_seconds
        if not force and time.monotonic() - self._checked < every:
            return
        self._checked = time.monotonic()
        latest = model_store.in_use(conn)
        if latest is None:
            shipped = shipped_model_for(self.classifier.categories)
            if self.classifier.trained is None and shipped is not None:
                self._use(shipped, None)
        elif latest != self.version:
            try:
                model = model_store.load(conn, latest)
            except ValueError as exc:
                self.report(f"model v{latest} does not load ({exc}); the previous model stays")
                self.version = latest  # reported once, not every check
                return
            self._use(Trained(f"v{latest}", model), latest)
        self._maybe_retrain(conn)

    def _use(self, trained: Trained | None, version: int | None) -> None:
        if trained is not None:
            unknown = sorted(set(trained.model.classes) - self.classifier.categories)
            if unknown:
                self.version = version
                self.report(
                    f"model {trained.version} knows categories the taxonomy lacks "
                    f"({', '.join(unknown)}): keeping "
                    f"{self.classifier.trained.version if self.classifier.trained else 'keywords'}"
                    "; train a model for this taxonomy (complaintflow classifier train)"
                )
                return
            log.info("classifying with model %s", trained.version)
        self.classifier.trained = trained
        self.version = version
        self.report(None)

    def _maybe_retrain(self, conn: psycopg.Connection) -> None:
        hours = self.settings.routing_retrain_hours
        if hours <= 0 or (self._retraining is not None and self._retraining.is_alive()):
            return
        # News for the newest version, not the one in use: a rollback is not undone by it.
        if model_store.older_than(conn, hours) and model_store.corrections_since(
            conn, model_store.latest_version(conn)
        ):
            self._retraining = threading.Thread(
                target=self._retrain, name="routing-retrain", daemon=True
            )
            self._retraining.start()

    def _retrain(self) -> None:
        """In its own connection and thread, so the loop keeps routing meanwhile; one
        instance at a time (an advisory lock), checked again under the lock."""
        try:
            with psycopg.connect(self.settings.db_url()) as conn:
                got = conn.execute("SELECT pg_try_advisory_xact_lock(hashtext('routing.retrain'))")
                row = got.fetchone()
                if not (row and row[0]) or not model_store.corrections_since(
                    conn, model_store.latest_version(conn)
                ):
                    return
                version, rows, corrections = retrain(
                    conn,
                    self.spec,
                    categories=sorted(self.classifier.categories),
                    origin="schedule",
                )
            log.info("retrained: model v%d, %d rows + %d corrections", version, rows, corrections)
        except Exception:  # retried at the next check; the loop is never stopped by it
            log.exception("scheduled retraining failed")
