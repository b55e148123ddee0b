"""The notification worker: decides who is told what, records each notice once in the outbox
(the intent, in the poll's transaction), and publishes every outcome.

Sending happens beside the loop (`sender.py`), so a slow channel never holds up consumption;
what the senders record is published here, in `tick`, in a transaction of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from functools import partial

import psycopg
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from schemas.alerts import Alert
from schemas.common import Language, Priority, Status
from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.notifications import Audience, NotificationOutcome, Outcome
from schemas.registered import RegisteredComplaint
from schemas.registry import ALERTS, LIFECYCLE, NOTIFICATIONS, REGISTERED, ROUTED, SLA
from schemas.routed import RoutedComplaint
from schemas.sla import SlaEvent, SlaEventKind, SlaTarget
from services.kernel.clock import Clock
from services.kernel.emit import Emit
from services.kernel.handler import Handler, Record, Rejected, decode_all
from services.kernel.sealing import status_secret
from services.kernel.settings import Settings
from services.kernel.signed_links import SURVEY, sign
from services.notification import store
from services.notification.alerts import announcement, management_for
from services.notification.compose import Composer, Facts, Notice
from services.notification.contacts import Contacts
from services.notification.customer import CustomerNotices, progress_step
from services.notification.delivery import build_channels, names, offered, staff_copies
from services.notification.directory import load_directory
from services.notification.limits import quiet_span, quiet_until
from services.notification.metrics import NotificationMetrics
from services.notification.migrations import MIGRATIONS
from services.notification.retry import RetryPolicy
from services.notification.sender import Sender
from services.notification.settings import NotificationSettings
from services.notification.templates import Templates
from services.notification.wording import zone

log = logging.getLogger(__name__)
HISTORICAL = "historical: the event is older than the notification horizon; recorded, not sent"


HELD_FOR = timedelta(days=30)
"""How long a lifecycle event waits for its complaint's registration (the topics' retention)."""


class Notification(Handler):
    name = "notification"
    inputs = (REGISTERED, LIFECYCLE, ROUTED, SLA, ALERTS)
    batched = True
    schema = "notification"
    migrations = MIGRATIONS
    settings_class = NotificationSettings
    metrics_class = NotificationMetrics

    def __init__(self, settings: Settings, registry: CollectorRegistry, clock: Clock) -> None:
        super().__init__(settings, registry, clock)
        s: NotificationSettings = self.settings
        self.directory = load_directory(s.routing_roster_path)
        self.offered = offered(s)
        self.composer = Composer(
            Templates(s.notify_templates_path),
            self.directory,
            language=Language(s.notify_default_language),
            time_zone=s.notify_default_time_zone,
            status_secret=partial(status_secret, s.pii_secret()),
        )
        self.customers = CustomerNotices(
            self.composer.templates,
            language=Language(s.notify_default_language),
            time_zone=s.notify_default_time_zone,
            channels=tuple(c for c in names(s.notify_customer_channels) if c in self.offered),
            survey_link=self._survey_link if s.notify_survey_url else None,
        )
        self.link_key = s.link_secret() if s.notify_survey_url else b""
        self.quiet = quiet_span(s.notify_quiet_hours)
        self.progress_window = timedelta(seconds=s.notify_progress_window_seconds)
        self.horizon = timedelta(hours=s.notify_history_horizon_hours)
        self.ack_wait = timedelta(seconds=s.notify_ack_wait_seconds)
        self.sender: Sender | None = None
        self._known: store.Known | None = None
        """The poll's complaints (see `handle_batch`)."""
        self._held: dict[str, list[LifecycleEvent]] = {}
        """Lifecycle events of the poll's complaints not seen registered yet, by complaint."""
        self._pending: list[tuple[Notice, str, Outcome, str | None, str]] = []
        """Notices of the poll not yet written to the outbox: (notice, complaint, outcome,
        detail, metric label)."""

    # --- sending, beside the loop --------------------------------------------------------

    def serve(self, producer: KafkaProducer) -> Callable[[], None] | None:
        s: NotificationSettings = self.settings
        channels = build_channels(s)
        if not channels:
            log.warning("no delivery channel configured (CF_SMTP_HOST): notices stay queued")
            return None
        self.sender = Sender(
            s.db_url(),
            channels,
            Contacts(self.directory, s.pii_ring()).address,
            policy=RetryPolicy(
                s.notify_retry_base_seconds, s.notify_retry_cap_seconds, s.notify_max_attempts
            ),
            lease=timedelta(seconds=s.notify_lease_seconds),
            clock=self.clock,
            threads=s.notify_senders,
            circuit=(s.notify_circuit_failures, s.notify_circuit_cooldown_seconds),
            rate_per_second=s.notify_channel_rate_per_second,
            recipient_per_hour=s.notify_recipient_limit_per_hour,
            metrics=self.metrics,
        )
        log.info("sending over %s", ", ".join(f"{n} ({c!r})" for n, c in channels.items()))
        return self.sender.start()

    # --- deciding, in the poll's transaction ---------------------------------------------

    def handle_batch(
        self, records: list[Record], conn: psycopg.Connection
    ) -> Iterable[Emit | Rejected]:
        """A whole poll: what is known of its complaints read in one statement and written
        back in one, the notices it calls for recorded in one statement at the end (and before
        anything reads the outbox), not one per notice."""
        decoded, refused = decode_all(records)
        out: list[Emit | Rejected] = list(refused)
        self._pending.clear()
        ids = (m.complaint_id for _, m, _ in decoded if not isinstance(m, Alert))
        known = self._known = store.Known(conn, ids)
        registered = [m.complaint_id for _, m, _ in decoded if isinstance(m, RegisteredComplaint)]
        self._held = {}
        for e in store.release_held(conn, registered):
            self._held.setdefault(e.complaint_id, []).append(e)
        try:
            emits: list[Emit] = []
            for _, model, _ in decoded:
                self._handle(model, conn, emits)
            self._flush(conn, emits)
            known.write(conn)
            still = [e for events in self._held.values() for e in events]
            store.hold(conn, still, self.clock.now())
        finally:
            self._known = None
            self._held = {}
        out.extend(emits)
        return out

    @property
    def known(self) -> store.Known:
        assert self._known is not None, "only while a poll is handled"
        return self._known

    def _handle(self, model: object, conn: psycopg.Connection, out: list[Emit]) -> None:
        now = self.clock.now()
        if isinstance(model, RegisteredComplaint):
            historical = now - model.occurred_at > self.horizon
            first = self.known.first_registration(model.complaint_id)
            facts = self.known.remember_registered(
                model,
                historical=historical,
                ack_wait_until=None if historical else now + self.ack_wait,
                now=now,
            )
            if historical or facts.resolve_deadline is not None:
                self._acknowledge(conn, facts, out)
            if first and self.known.routed(model.complaint_id):
                self._tell_staff(conn, None, facts, out)  # routed before we saw it registered
            waiting = self._held.pop(model.complaint_id, [])
            for e in sorted(waiting, key=lambda e: e.occurred_at):
                self._lifecycle(conn, e, out)  # what happened before we saw it registered
        elif isinstance(model, RoutedComplaint):
            before, after = self.known.remember_routed(model, now)
            if after is not before and after.reference is not None:  # else: when registered
                self._tell_staff(conn, before, after, out)
        elif isinstance(model, LifecycleEvent):
            self._lifecycle(conn, model, out)
        elif isinstance(model, Alert):
            self._alert(conn, model, out)
        else:
            assert isinstance(model, SlaEvent)
            self._sla(conn, model, out)

    def _tell_staff(
        self, conn: psycopg.Connection, before: Facts | None, after: Facts, out: list[Emit]
    ) -> None:
        """The routing decision's staff notices: management for marked complaints, the owner
        when the complaint became theirs. Composed once the registration is seen, so they
        name the complaint by its reference (a replay records nothing twice: same keys)."""
        notices = self.composer.management(after)
        if after.owner and (before is None or before.owner != after.owner):
            assigned = self.composer.assignment(after)
            notices += [assigned] if assigned else []
        for notice in notices:
            self._queue(conn, notice, after, out)

    def _lifecycle(self, conn: psycopg.Connection, e: LifecycleEvent, out: list[Emit]) -> None:
        """Progress (coalesced), the resolution, and a survey answered before it went out."""
        facts = self.known.facts(e.complaint_id)
        if facts is None or facts.reference is None:  # not seen registered yet: kept till it is
            self._held.setdefault(e.complaint_id, []).append(e)
            return
        now = self.clock.now()
        if now - e.occurred_at > self.horizon:
            facts = replace(facts, historical=True)
        self._flush(conn, out)  # the outbox is read below: what this poll queued is in it
        if e.kind == LifecycleKind.SURVEY_ANSWERED:
            self.known.mark_surveyed(e.complaint_id, now)
            self.after_commit(self.metrics.surveys_closed.labels("answered").inc)
            store.supersede(
                conn,
                e.complaint_id,
                ["survey", "survey_reminder"],
                now,
                "answered before it was sent",
            )
            return
        if e.kind == LifecycleKind.STATUS and e.status == Status.RESOLVED:
            store.supersede(
                conn, e.complaint_id, ["progress"], now, "superseded by the resolution message"
            )
            self._queue(conn, self.customers.resolution(facts, e), facts, out)
            return
        step = progress_step(e)
        if step is None:
            return
        notice = self.customers.progress(facts, e, step, now)
        if not facts.historical and store.fold_progress(conn, notice, e.complaint_id, now):
            return  # the message not yet sent now tells this latest step
        last = store.last_progress(conn, e.complaint_id)
        if last is not None and last + self.progress_window > now:
            notice = replace(
                notice,
                not_before=last + self.progress_window,
                why_later="coalesced: at most one progress message per"
                f" {self.progress_window.total_seconds():.0f} s",
            )
        self._queue(conn, notice, facts, out)

    def _alert(self, conn: psycopg.Connection, a: Alert, out: list[Emit]) -> None:
        """Management hears of an episode when it opens, when it grew materially, and when
        it closes; a replayed or older revision tells nobody anything."""
        s: NotificationSettings = self.settings
        now = self.clock.now()
        before, new = store.alert_episode(conn, a.alert_key, a.revision, a.status.value, now)
        if not new:
            return
        announced = before.announced_count if before else 0
        if a.status.value == "closed":
            if before is None or before.announced_revision == 0:
                return  # never announced: its end is no news
        elif before is not None and before.announced_revision > 0:
            grew = a.count - announced
            if grew < s.notify_alert_min_growth or a.count < announced * (
                1 + s.notify_alert_growth
            ):
                return
        facts = Facts(f"alert:{a.alert_key}", historical=now - a.detected_at > self.horizon)
        for notice in announcement(
            self.composer, a, management_for(self.directory, a), previous=announced
        ):
            self._queue(conn, notice, facts, out)
        store.alert_announced(conn, a.alert_key, a.revision, a.count)

    def _sla(self, conn: psycopg.Connection, event: SlaEvent, out: list[Emit]) -> None:
        now = self.clock.now()
        if event.kind == SlaEventKind.STARTED and event.target == SlaTarget.RESOLVE:
            facts = self.known.remember_deadline(
                event.complaint_id,
                event.deadline,
                now,
                priority=event.priority,
                department=event.department,
            )
            if facts.reference is not None:  # registered already seen
                self._acknowledge(conn, facts, out)
            return
        if event.kind == SlaEventKind.STARTED and event.target == SlaTarget.FOLLOW_UP:
            found = self.known.remember_follow_up(event.complaint_id, event.deadline, now)
            if found is not None and found.reference is not None and not event.historical:
                self._survey(conn, found, event.deadline, out)
            return
        found = self.known.facts(event.complaint_id)
        facts = found or Facts(
            event.complaint_id,
            department=event.department,
            priority=event.priority,
            # a complaint we never saw registered: its deadline says whether this is history
            historical=now - event.deadline > self.horizon,
        )
        if event.historical:  # the SLA timer says this firing is about the past
            facts = replace(facts, historical=True)
        if (
            event.kind == SlaEventKind.WARNING
            and event.target == SlaTarget.CALLBACK
            and found is not None
            and found.reference is not None
        ):
            at_risk = self.customers.callback_at_risk(facts, event.deadline, now)
            self._queue(conn, at_risk, facts, out)
        for notice in self.composer.for_sla(event, facts):
            self._queue(conn, notice, facts, out)

    def _survey(
        self, conn: psycopg.Connection, facts: Facts, deadline: datetime, out: list[Emit]
    ) -> None:
        s: NotificationSettings = self.settings
        notice = self.customers.survey(
            facts,
            deadline,
            self.clock.now(),
            delay=timedelta(seconds=s.notify_survey_delay_seconds),
            valid=timedelta(days=s.notify_survey_valid_days),
        )
        self._queue(conn, notice, facts, out)
        reminder = self.customers.survey_reminder(
            facts, deadline, valid=timedelta(days=s.notify_survey_valid_days)
        )
        self._queue(conn, reminder, facts, out)

    def _survey_link(self, facts: Facts, expires: datetime) -> str | None:
        """The signed address of the survey page (one answer per complaint)."""
        s: NotificationSettings = self.settings
        if not (s.notify_survey_url and facts.source and facts.external_ref):
            return None
        token = sign(
            self.link_key,
            SURVEY,
            {
                "c": facts.complaint_id,
                "s": facts.source,
                "r": facts.external_ref,
                "l": (facts.language or self.customers.language).value,
            },
            expires=expires,
        )
        return f"{s.notify_survey_url.rstrip('/')}/{token}"

    def _acknowledge(self, conn: psycopg.Connection, facts: Facts, out: list[Emit]) -> None:
        self.known.stop_waiting(facts.complaint_id)
        self._queue(conn, self._ack(facts), facts, out)

    def _ack(self, facts: Facts) -> Notice:
        return self.composer.acknowledgement(facts, self.clock.now(), self.customers.channel(facts))

    def _queue(
        self, conn: psycopg.Connection, notice: Notice, facts: Facts, out: list[Emit]
    ) -> None:
        """Record the notice on each channel it goes on: staff on their channels (and the
        webhook subscriber), customers held back in their quiet hours unless urgent."""
        s: NotificationSettings = self.settings
        if notice.audience == Audience.STAFF:
            person = self.directory.person(notice.recipient)
            urgent = notice.urgent or facts.priority == Priority.P1
            for variant in staff_copies(notice, person, s, self.offered):
                if not urgent and person is not None:  # their chat waits for their morning
                    tz = zone(person.time_zone, None, s.notify_default_time_zone)
                    variant = self._after_quiet_hours(variant, tz)
                self._record(conn, variant, facts, out)
            return
        if not (notice.urgent or facts.priority == Priority.P1 or facts.safety):
            tz = zone(facts.time_zone, facts.utc_offset, s.notify_default_time_zone)
            notice = self._after_quiet_hours(notice, tz)
        self._record(conn, notice, facts, out)

    def _after_quiet_hours(self, notice: Notice, tz: tzinfo) -> Notice:
        """A non-urgent notice on a quiet channel (SMS, chat) held back to the end of the
        recipient's quiet hours, when it falls in them."""
        s: NotificationSettings = self.settings
        if notice.channel not in names(s.notify_quiet_channels):
            return notice
        start = max(self.clock.now(), notice.not_before or self.clock.now())
        until = quiet_until(start, tz, self.quiet)
        return (
            notice if until is None else replace(notice, not_before=until, why_later="quiet hours")
        )

    def _record(
        self, conn: psycopg.Connection, notice: Notice, facts: Facts, out: list[Emit]
    ) -> None:
        """Record the notice once (queued, deferred, or at once skipped or dead) and say so."""
        now = self.clock.now()
        detail: str | None
        if facts.historical:
            outcome, detail, label = Outcome.SKIPPED, HISTORICAL, "skipped_historical"
        elif notice.undeliverable:
            outcome, detail, label = Outcome.DEAD, notice.undeliverable, Outcome.DEAD.value
        elif notice.not_before is not None and notice.not_before > now:
            outcome, detail, label = Outcome.DEFERRED, notice.why_later, Outcome.DEFERRED.value
        else:
            outcome, detail, label = Outcome.QUEUED, None, Outcome.QUEUED.value
        self._pending.append((notice, facts.complaint_id, outcome, detail, label))

    def _flush(self, conn: psycopg.Connection, out: list[Emit]) -> None:
        """Write the poll's pending notices in one statement; say what became of the new ones
        (a key recorded before is a replay: nothing to say)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        now = self.clock.now()
        fresh = store.record_many(
            conn, [(n, cid, outcome.value, detail) for n, cid, outcome, detail, _ in pending], now
        )
        for notice, complaint_id, outcome, detail, label in pending:
            if notice.key not in fresh:
                continue
            fresh.discard(notice.key)  # the same key twice in one poll: the first counts
            self.after_commit(
                self.metrics.notifications.labels(notice.channel, notice.kind, label).inc
            )
            if outcome in (Outcome.QUEUED, Outcome.DEFERRED) and self.sender is not None:
                self.after_commit(self.sender.poke)
            out.append(
                self._outcome(
                    notice.key,
                    complaint_id,
                    notice.kind,
                    notice.audience,
                    notice.recipient,
                    notice.channel,
                    notice.language,
                    outcome,
                    attempts=0,
                    detail=detail,
                    next_attempt_at=notice.not_before if outcome == Outcome.DEFERRED else None,
                )
            )

    # --- publishing what the senders recorded ----------------------------------------------

    def tick(self, conn: psycopg.Connection) -> Iterable[Emit]:
        out: list[Emit] = []
        now = self.clock.now()
        for facts in store.waited_long_enough(conn, now):
            self._queue(conn, self._ack(facts), facts, out)
        store.forget_held(conn, now - HELD_FOR)
        valid = timedelta(days=self.settings.notify_survey_valid_days)
        unanswered = store.close_unanswered(conn, now - valid, now)
        if unanswered:  # recorded and counted; nobody is told
            self.after_commit(
                partial(self.metrics.surveys_closed.labels("no_answer").inc, unanswered)
            )
        self._flush(conn, out)
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
