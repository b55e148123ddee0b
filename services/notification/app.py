"""The notification worker: decides who is told what, records each notice once in the outbox
(the intent, in the poll's transaction), and publishes every outcome.

Sending happens beside the loop (`sender.py`), so a slow channel never holds up consumption;
what the senders record is published here, in `tick`, in a transaction of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import partial

import psycopg
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from schemas.common import Language
from schemas.notifications import Audience, NotificationOutcome, Outcome
from schemas.registered import RegisteredComplaint
from schemas.registry import NOTIFICATIONS, REGISTERED, ROUTED, SLA
from schemas.routed import RoutedComplaint
from schemas.sla import SlaEvent, SlaEventKind, SlaTarget
from services.kernel.clock import Clock
from services.kernel.emit import Emit, decode
from services.kernel.handler import Handler, Record
from services.kernel.sealing import status_secret
from services.kernel.settings import Settings
from services.notification import store
from services.notification.channels import Channel
from services.notification.compose import Composer, Facts, Notice
from services.notification.contacts import Contacts
from services.notification.directory import load_directory
from services.notification.mail import SmtpChannel
from services.notification.metrics import NotificationMetrics
from services.notification.migrations import MIGRATIONS
from services.notification.retry import RetryPolicy
from services.notification.sender import Sender
from services.notification.settings import NotificationSettings
from services.notification.templates import Templates

log = logging.getLogger(__name__)
HISTORICAL = "historical: the event is older than the notification horizon; recorded, not sent"


class Notification(Handler):
    name = "notification"
    inputs = (REGISTERED, ROUTED, SLA)
    schema = "notification"
    migrations = MIGRATIONS
    settings_class = NotificationSettings
    metrics_class = NotificationMetrics

    def __init__(self, settings: Settings, registry: CollectorRegistry, clock: Clock) -> None:
        super().__init__(settings, registry, clock)
        s: NotificationSettings = self.settings
        self.directory = load_directory(s.routing_roster_path)
        self.composer = Composer(
            Templates(s.notify_templates_path),
            self.directory,
            language=Language(s.notify_default_language),
            time_zone=s.notify_default_time_zone,
            status_secret=partial(status_secret, s.pii_secret()),
        )
        self.horizon = timedelta(hours=s.notify_history_horizon_hours)
        self.ack_wait = timedelta(seconds=s.notify_ack_wait_seconds)
        self.sender: Sender | None = None

    # --- sending, beside the loop --------------------------------------------------------

    def channels(self) -> dict[str, Channel]:
        s: NotificationSettings = self.settings
        if not s.smtp_host:
            return {}
        return {
            "email": SmtpChannel(
                s.smtp_host,
                s.smtp_port,
                sender=s.smtp_sender,
                username=s.smtp_username,
                password=s.smtp_password,
                starttls=s.smtp_starttls,
                timeout=s.smtp_timeout_seconds,
            )
        }

    def serve(self, producer: KafkaProducer) -> Callable[[], None] | None:
        s: NotificationSettings = self.settings
        channels = self.channels()
        if not channels:
            log.warning("no delivery channel configured (CF_SMTP_HOST): notices stay queued")
            return None
        self.sender = Sender(
            s.db_url(),
            channels,
            Contacts(self.directory, s.pii_ring()).email,
            policy=RetryPolicy(
                s.notify_retry_base_seconds, s.notify_retry_cap_seconds, s.notify_max_attempts
            ),
            lease=timedelta(seconds=s.notify_lease_seconds),
            clock=self.clock,
            threads=s.notify_senders,
        )
        log.info("sending over %s", ", ".join(f"{n} ({c!r})" for n, c in channels.items()))
        return self.sender.start()

    # --- deciding, in the poll's transaction ---------------------------------------------

    def handle(self, record: Record, conn: psycopg.Connection) -> Iterable[Emit]:
        model, _ = decode(record.spec, record.value, record.headers)
        now = self.clock.now()
        out: list[Emit] = []
        if isinstance(model, RegisteredComplaint):
            historical = now - model.occurred_at > self.horizon
            facts = store.remember_registered(
                conn,
                model,
                historical=historical,
                ack_wait_until=None if historical else now + self.ack_wait,
                now=now,
            )
            if historical or facts.resolve_deadline is not None:
                self._acknowledge(conn, facts, out)
        elif isinstance(model, RoutedComplaint):
            before, after = store.remember_routed(conn, model, now)
            if after is not None and after is not before:
                notices = self.composer.management(after)
                if after.owner and (before is None or before.owner != after.owner):
                    assigned = self.composer.assignment(after)
                    notices += [assigned] if assigned else []
                for notice in notices:
                    self._queue(conn, notice, after, out)
        else:
            assert isinstance(model, SlaEvent)
            self._sla(conn, model, out)
        return out

    def _sla(self, conn: psycopg.Connection, event: SlaEvent, out: list[Emit]) -> None:
        now = self.clock.now()
        if event.kind == SlaEventKind.STARTED and event.target == SlaTarget.RESOLVE:
            facts = store.remember_deadline(conn, event.complaint_id, event.deadline, now)
            if facts.reference is not None:  # registered already seen
                self._acknowledge(conn, facts, out)
            return
        found = store.facts(conn, event.complaint_id)
        facts = found or Facts(
            event.complaint_id,
            department=event.department,
            priority=event.priority,
            # a complaint we never saw registered: its deadline says whether this is history
            historical=now - event.deadline > self.horizon,
        )
        for notice in self.composer.for_sla(event, facts):
            self._queue(conn, notice, facts, out)

    def _acknowledge(self, conn: psycopg.Connection, facts: Facts, out: list[Emit]) -> None:
        store.stop_waiting(conn, facts.complaint_id)
        self._queue(conn, self.composer.acknowledgement(facts, self.clock.now()), facts, out)

    def _queue(
        self, conn: psycopg.Connection, notice: Notice, facts: Facts, out: list[Emit]
    ) -> None:
        """Record the notice once (queued, or at once skipped or dead) and say so."""
        now = self.clock.now()
        if facts.historical:
            outcome, detail, label = Outcome.SKIPPED, HISTORICAL, "skipped_historical"
        elif notice.undeliverable:
            outcome, detail, label = Outcome.DEAD, notice.undeliverable, Outcome.DEAD.value
        else:
            outcome, detail, label = Outcome.QUEUED, None, Outcome.QUEUED.value
        if not store.record(
            conn, notice, facts.complaint_id, state=outcome.value, now=now, detail=detail
        ):
            return  # recorded before: a replay
        self.after_commit(self.metrics.notifications.labels(notice.channel, notice.kind, label).inc)
        if outcome == Outcome.QUEUED and self.sender is not None:
            self.after_commit(self.sender.poke)
        out.append(
            self._outcome(
                notice.key,
                facts.complaint_id,
                notice.kind,
                notice.audience,
                notice.recipient,
                notice.channel,
                notice.language,
                outcome,
                attempts=0,
                detail=detail,
            )
        )

    # --- publishing what the senders recorded ----------------------------------------------

    def tick(self, conn: psycopg.Connection) -> Iterable[Emit]:
        out: list[Emit] = []
        for facts in store.waited_long_enough(conn, self.clock.now()):
            self._queue(conn, self.composer.acknowledgement(facts, self.clock.now()), facts, out)
        done = store.unpublished(conn)
        for o in done:
            label = o.outcome
            self.after_commit(self.metrics.notifications.labels(o.channel, o.kind, label).inc)
            out.append(
                self._outcome(
                    o.key,
                    o.complaint_id,
                    o.kind,
                    Audience(o.audience),
                    o.recipient,
                    o.channel,
                    Language(o.language),
                    Outcome(o.outcome),
                    attempts=o.attempts,
                    detail=o.detail,
                    next_attempt_at=o.next_attempt_at,
                )
            )
        if done:
            store.published(conn, [o.id for o in done], self.clock.now())
        return out

    def _outcome(
        self,
        key: str,
        complaint_id: str,
        kind: str,
        audience: Audience,
        recipient: str,
        channel: str,
        language: Language,
        outcome: Outcome,
        *,
        attempts: int,
        detail: str | None,
        next_attempt_at: datetime | None = None,
    ) -> Emit:
        model = NotificationOutcome(
            notification_key=key,
            complaint_id=complaint_id,
            kind=kind,
            audience=audience,
            recipient=recipient,
            channel=channel,
            language=language,
            outcome=outcome,
            attempts=attempts,
            at=self.clock.now(),
            detail=detail,
            next_attempt_at=next_attempt_at,
        )
        return self.emit(
            NOTIFICATIONS, complaint_id, model, "notification", key, outcome.value, attempts
        )
