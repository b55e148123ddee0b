"""The routing worker: registered complaints in, routing decisions out; re-routes on change.

The latest decision per complaint is kept in `routing.decisions` so a transfer, a category
correction or a reopen can be decided again (version + 1), and so owners' open load is
known when picking the next owner.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

import psycopg
from pydantic import TypeAdapter

from schemas.common import Status
from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.registered import RegisteredComplaint
from schemas.registry import LIFECYCLE, REGISTERED, ROUTED
from schemas.routed import RoutedComplaint
from services.kernel.emit import Emit, decode
from services.kernel.errors import PoisonMessage
from services.kernel.handler import Handler, Record, Rejected, decode_all, poll_of_one
from services.routing import model_store, store
from services.routing.keeper import ModelKeeper
from services.routing.metrics import RoutingMetrics
from services.routing.migrations import MIGRATIONS
from services.routing.roster import RosterFile
from services.routing.rulebook import CONFIG_DIR
from services.routing.rules import (
    CategoryCorrection,
    Change,
    Decision,
    Reopen,
    RerouteError,
    Router,
    Transfer,
    decide,
)
from services.routing.settings import RoutingSettings
from services.routing.severity import local_date

CLOSING = (Status.RESOLVED, Status.CLOSED)
GAUGE_EVERY = 5.0
TICK_EVERY = 1.0
"""Seconds between two looks at the roster file and the model in use (the open-complaints
gauge: every GAUGE_EVERY)."""
ROSTER_RELOAD = "roster_reload"
"""Configuration problem: the roster file was edited and does not load (the last good one is
kept)."""
CLASSIFIER_MODEL = "classifier_model"
"""Configuration problem: the latest trained model cannot be used (the previous one is kept)."""


_decision = TypeAdapter(Decision)


class Routing(Handler):
    name = "routing"
    inputs = (REGISTERED, LIFECYCLE)
    batched = True
    schema = "routing"
    migrations = MIGRATIONS
    settings_class = RoutingSettings
    metrics_class = RoutingMetrics

    def start(self, conn: psycopg.Connection) -> None:
        s = self.settings
        # Validated now, so a bad file stops the start with its name, not each event later.
        self.router = Router.from_files(
            s.routing_rules_path or CONFIG_DIR / "rules.yaml",
            periods_path=s.routing_periods_path or CONFIG_DIR / "special_periods.yaml",
            roster_path=s.routing_roster_path or CONFIG_DIR / "roster.yaml",
        )
        self._gauge_at = 0.0
        self._ticked_at = 0.0
        self._roster_failures = 0
        self.models = ModelKeeper(
            self.router.classifier,
            self.router.config.classifier,
            s,
            self.clock,
            self._model_problem,
        )
        self.models.check(conn, force=True)

    def _model_problem(self, problem: str | None) -> None:
        subject = "routing.models"
        if problem is None:
            self.problems.clear(CLASSIFIER_MODEL, subject=subject)
        else:
            self.problems.report(CLASSIFIER_MODEL, problem, subject=subject)

    def handle_batch(
        self, records: list[Record], conn: psycopg.Connection
    ) -> Iterable[Emit | Rejected]:
        """A whole poll: the decisions, held and applied changes of its complaints read in one
        statement per table, each record decided in order on that working copy (the next
        record of a complaint, and the owners' load, see this one's effect), and every change
        written in one statement per table."""
        decoded, refused = decode_all(records)
        out: list[Emit | Rejected] = list(refused)
        firsts = [m.complaint_id for _, m, _ in decoded if isinstance(m, RegisteredComplaint)]
        poll = store.Poll.read(
            conn,
            (m.complaint_id for _, m, _ in decoded),
            registered=firsts,
            causes=(e.id for _, m, e in decoded if isinstance(m, LifecycleEvent)),
        )
        for record, model, cause in decoded:
            try:
                if isinstance(model, RegisteredComplaint):
                    out += self._first(model, cause.id, poll, conn)
                else:
                    out += self._change(model, cause.id, record, poll, conn)
            except PoisonMessage as exc:  # refused before it changed anything
                out.append(Rejected(record, exc))
        poll.write(conn)
        return out

    def handle(self, record: Record, conn: psycopg.Connection) -> Iterable[Emit]:
        """One record on its own (a poll of one)."""
        return poll_of_one(self, record, conn)

    def _first(
        self, c: RegisteredComplaint, cause: str, poll: store.Poll, conn: psycopg.Connection
    ) -> list[Emit]:
        row = poll.decision_of(c.complaint_id)
        if row is not None and row[0] is not None:
            return []  # already decided (a replay): the decision went out then
        is_open = row[1] if row is not None else True
        decision = decide(
            category=c.category,
            sub_category=c.sub_category,
            product=c.product,
            text=" ".join(filter(None, [c.subject, c.description])),
            repeat_count=c.repeat_count,
            channel=c.channel,
            region=c.region,
            on=local_date(c.occurred_at, time_zone=c.time_zone, utc_offset=c.source_utc_offset),
            language=c.language,
            load=poll.load,
            router=self.router,
        )
        out = [
            self._publish(
                c.complaint_id,
                decision,
                c.occurred_at,
                cause,
                poll,
                is_open=is_open,
                source=c.source,
            )
        ]
        # Changes that came before this decision (topics are read side by side, so under a
        # backlog a transfer can overtake its complaint), in the order they happened.
        for held in poll.release_changes(c.complaint_id):
            rec = _held_record(held)
            try:
                e, _ = decode(LIFECYCLE, held.value, held.headers)
                out += self._change(e, held.cause, rec, poll, conn)
            except PoisonMessage as exc:
                if exc.reason == "reroute_refused":  # counted as applied: not refused again
                    poll.first_application(held.cause, c.complaint_id, self.clock.now())
                out.append(self.reject(rec, exc))
        return out

    def _change(
        self,
        e: LifecycleEvent,
        cause: str,
        record: Record,
        poll: store.Poll,
        conn: psycopg.Connection,
    ) -> list[Emit]:
        change: Change | None = None
        if e.kind == LifecycleKind.TRANSFER:
            change = Transfer(
                queue=e.queue,
                owner=e.owner,
                department=e.department,
                by=e.agent or "agent",
                note=e.note or "",
            )
        elif e.kind == LifecycleKind.RECATEGORISED and e.category:
            change = CategoryCorrection(
                category=e.category,
                sub_category=e.sub_category,
                by=e.agent or "agent",
                note=e.note or "",
            )
        elif e.status == Status.REOPENED:
            change = Reopen(by=e.agent or "customer", note=e.note or "")
        elif e.status in CLOSING:
            poll.close(e.complaint_id, self.clock.now())
            return []
        if change is None:
            return []
        row = poll.decision_of(e.complaint_id)
        if row is None or row[0] is None:
            # Before the first decision: held, and applied when the decision is made.
            poll.hold_change(_to_held(cause, e.complaint_id, record, self.clock.now()))
            return []
        if cause in poll.applied:
            return []  # applied before (a replay): its decision went out then
        previous = _decision.validate_python(row[0])
        try:
            decision = self.router.reroute(previous, change, load=poll.load)
        except RerouteError as exc:
            raise PoisonMessage("reroute_refused", [str(exc)]) from exc
        poll.first_application(cause, e.complaint_id, self.clock.now())
        if isinstance(change, CategoryCorrection) and previous.facts.text.strip():
            # An agent's correction is a label: the next training learns from it.
            model_store.record_correction(
                conn, e.complaint_id, previous.facts.text, decision.category, self.clock.now()
            )
        return [
            self._publish(
                e.complaint_id,
                decision,
                e.occurred_at,
                cause,
                poll,
                is_open=row[1] or isinstance(change, Reopen),
                source=row[2],
            )
        ]

    def _publish(
        self,
        complaint_id: str,
        d: Decision,
        occurred_at: datetime,
        cause: str,
        poll: store.Poll,
        *,
        is_open: bool,
        source: str | None,
    ) -> Emit:
        now = self.clock.now()
        poll.save(
            complaint_id,
            d,
            is_open=is_open,
            occurred_at=occurred_at,
            now=now,
            source=source,
        )
        routed = RoutedComplaint(
            complaint_id=complaint_id,
            source=source,
            version=d.version,
            category=d.category,
            category_display=self.router.display(d.category),
            sub_category=d.sub_category,
            confidence=round(d.confidence, 3),
            classified_by=d.classified_by,
            model_version=d.model_version,
            department=d.department,
            queue=d.queue,
            owner=d.owner,
            priority=d.priority,
            sla_policy=d.sla_policy,
            sensitive=d.sensitive,
            tags=list(d.tags),
            special_periods=list(d.special_periods),
            matched_rules=list(d.matched_rules),
            reasons=list(d.reasons),
            occurred_at=occurred_at,
            routed_at=now,
        )
        self.after_commit(self.metrics.complaints_routed.labels(d.department, d.priority.value).inc)
        if d.version == 1:
            method = self.metrics.complaints_classified.labels(d.classified_by or "none")
            self.after_commit(method.inc)
        return self.emit(ROUTED, complaint_id, routed, "routed", cause, d.version)

    def tick_due(self) -> bool:
        return time.monotonic() - self._ticked_at >= TICK_EVERY

    def tick(self, conn: psycopg.Connection) -> Iterable[Emit]:
        self._ticked_at = time.monotonic()
        self.watch_roster()
        self.models.check(conn)
        if time.monotonic() - self._gauge_at < GAUGE_EVERY:
            return ()
        self._gauge_at = time.monotonic()
        rows = store.open_counts(conn)
        self.metrics.open_complaints.clear()
        for department, priority, n in rows:
            self.metrics.open_complaints.labels(department, priority).set(n)
        return ()

    def watch_roster(self) -> None:
        """Re-read an edited roster even while no complaint comes, and report an edit that does
        not load — until the file loads again, when the problem is cleared."""
        roster = self.router.roster
        if not isinstance(roster, RosterFile):
            return
        kept = roster.current()
        failures = roster.failed_reloads
        subject, error = str(roster.path), roster.last_error
        if failures > self._roster_failures:
            self.config_problem(
                ROSTER_RELOAD,
                f"{error or 'an edit did not load (the file loads again now)'} — owners are"
                f" still chosen from the last roster that loaded ({len(kept.agents)} agents)"
                " until the file loads again",
                subject=subject,
                count=failures - self._roster_failures,
            )

            def seen() -> None:  # reported again if this pass rolls back
                self._roster_failures = failures

            self.after_commit(seen)
        if error is None:
            self.config_fixed(ROSTER_RELOAD, subject=subject)


def _to_held(cause: str, complaint_id: str, rec: Record, now: datetime) -> store.HeldChange:
    return store.HeldChange(
        cause=cause,
        complaint_id=complaint_id,
        topic=rec.topic,
        partition=rec.partition,
        offset=rec.offset,
        value=rec.value or b"",
        headers=[(k, v) for k, v in rec.headers if k.startswith("ce_")],
        held_at=now,
    )


def _held_record(h: store.HeldChange) -> Record:
    """The record a held change came from, as a dead letter names it."""
    return Record(
        spec=LIFECYCLE,
        topic=h.topic,
        partition=h.partition,
        offset=h.offset,
        key=h.complaint_id.encode(),
        value=h.value,
        headers=h.headers,
        timestamp_ms=int(h.held_at.timestamp() * 1000),
    )
