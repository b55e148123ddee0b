"""The SLA timer worker: routing decisions, lifecycle events and survey deliveries in, SLA
events out.

Per complaint it keeps the targets of its policy — acknowledge, keep informed, resolve,
a promised callback, the follow-up after resolution — on the business calendar of the
call center that took it. Each target's next step (a warning, the breach, the next
escalation level) is one entry in an in-memory heap; the poll loop sleeps only until the
earliest, so a breach goes out as the deadline passes rather than on a periodic scan.
The row in `sla_timer.timers` is the truth: it survives restarts and rebalances, and a
deadline that passed while no instance ran fires at once on recovery, marked late.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import psycopg

from schemas.common import Priority, Status
from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.notifications import Audience, NotificationOutcome, Outcome
from schemas.registry import LIFECYCLE, NOTIFICATIONS, ROUTED, SLA
from schemas.routed import RoutedComplaint
from schemas.sla import SlaEvent, SlaEventKind, SlaTarget
from services.kernel.emit import Emit
from services.kernel.handler import Handler, Record, Rejected, decode_all, poll_of_one
from services.sla_timer import store
from services.sla_timer.calendar import BusinessCalendar, CalendarError
from services.sla_timer.metrics import SlaMetrics
from services.sla_timer.migrations import MIGRATIONS
from services.sla_timer.policy import WALL_CLOCK, Plan, Policy
from services.sla_timer.policy_book import PolicyBook, load, load_default
from services.sla_timer.scaling import scaled
from services.sla_timer.settings import SlaSettings
from services.sla_timer.state import (
    ACTIVE,
    BREACHED,
    CANCELLED,
    MET,
    PAUSED,
    TargetState,
    next_step,
)
from services.sla_timer.timers import DueQueue

ACK, KEEP, RESOLVE = SlaTarget.ACKNOWLEDGE, SlaTarget.KEEP_INFORMED, SlaTarget.RESOLVE
CALLBACK, FOLLOW_UP = SlaTarget.CALLBACK, SlaTarget.FOLLOW_UP
AGENT_STATUSES = (
    Status.ACKNOWLEDGED,
    Status.ASSIGNED,
    Status.IN_PROGRESS,
    Status.WAITING_ON_CUSTOMER,
    Status.RESOLVED,
    Status.CLOSED,
)
CLOSING = (Status.RESOLVED, Status.CLOSED)
OCCURRED = (
    SlaEventKind.STARTED,
    SlaEventKind.PAUSED,
    SlaEventKind.RESUMED,
    SlaEventKind.MET,
    SlaEventKind.CANCELLED,
)
"""Kinds of SLA event a complaint's event causes: they carry its time (the clock's start)."""
FIRE_LIMIT = 5000
SOON_S = 2.0
SOON_BATCH = 50
"""Records per poll while a step falls due within SOON_S (see `batch_limit`)."""
GAUGE_EVERY = 30.0  # a count over every live row: cheap enough, not every pass
UNROUTED = "none"
"""The policy of a placeholder row (a status seen before the routing decision)."""
UNKNOWN_POLICY = "unknown_sla_policy"
"""Configuration problem: routing names a policy the SLA policies do not define."""
CALENDAR = "calendar"
"""Configuration problem: a business calendar cannot place a deadline, or is not configured."""


def surveyed(outcome: NotificationOutcome) -> bool:
    """Whether this notification outcome meets the follow-up target: the satisfaction survey
    was sent to the customer (whether they answer is theirs to decide)."""
    return (
        outcome.kind == "survey"
        and outcome.audience == Audience.CUSTOMER
        and outcome.outcome == Outcome.SENT
    )


class SlaTimer(Handler):
    name = "sla_timer"
    inputs = (ROUTED, LIFECYCLE, NOTIFICATIONS)
    schema = "sla_timer"
    migrations = MIGRATIONS
    batched = True
    settings_class = SlaSettings
    metrics_class = SlaMetrics

    def start(self, conn: psycopg.Connection) -> None:
        s = self.settings
        self.book: PolicyBook = (
            load(s.sla_policies_path, s.sla_calendars_path)
            if s.sla_policies_path and s.sla_calendars_path
            else load_default()
        )
        self.scale = s.sla_scale
        self.horizon = timedelta(hours=s.sla_history_horizon_hours)
        self.queue = DueQueue()
        self.partitions: set[int] = set()
        self._policies: dict[tuple[object, ...], Policy] = {}
        self._unknown: dict[str, str] = {}
        """Policy names routing used that the book lacks → what is done instead."""
        self._gauge_at = 0.0

    # --- partition ownership -------------------------------------------------------------

    def assigned(self, partitions: set[int], conn: psycopg.Connection) -> None:
        self.queue.drop_partitions(partitions)  # re-read below: no entry twice
        self.queue.extend(store.due_entries(conn, partitions))
        self.partitions |= partitions
        self._gauge_at = 0.0

    def revoked(self, partitions: set[int]) -> None:
        self.partitions -= partitions
        self.queue.drop_partitions(partitions)

    # --- input -----------------------------------------------------------------------------

    def handle_batch(
        self, records: list[Record], conn: psycopg.Connection
    ) -> Iterable[Emit | Rejected]:
        """A whole poll: the timers of every complaint in it read in one statement, each
        record applied in order to that working copy, every changed timer written in one."""
        now = self.clock.now()
        decoded, refused = decode_all(records)
        decoded = [
            d for d in decoded if not isinstance(d[1], NotificationOutcome) or surveyed(d[1])
        ]
        out: list[Emit | Rejected] = list(refused)
        timers = store.of_complaints(conn, {model.complaint_id for _, model, _ in decoded})
        changed: dict[tuple[str, str], TargetState] = {}
        for rec, model, cause in decoded:
            rows = timers.setdefault(model.complaint_id, {})
            steps: list[TargetState] = []
            emits: list[Emit] = []
            if isinstance(model, RoutedComplaint):
                self._routed(model, rec.partition, rows, now, steps, emits)
            elif isinstance(model, NotificationOutcome):  # the survey reached the customer
                follow = rows.get(FOLLOW_UP)
                self._finish(follow, _at(model.at, follow, now), now, steps, emits, cause.id)
            else:
                self._lifecycle(model, rec.partition, rows, now, steps, emits, cause.id)
            for st in steps:  # the next record of the same complaint sees this one's effect
                rows[st.target] = st
                changed[st.key] = st
            out.extend(emits)
        store.save(conn, list(changed.values()), now)
        self._schedule(changed.values())
        return out

    def handle(self, record: Record, conn: psycopg.Connection) -> Iterable[Emit]:
        """One record on its own (a poll of one)."""
        return poll_of_one(self, record, conn)

    def _routed(
        self,
        r: RoutedComplaint,
        partition: int,
        rows: dict[str, TargetState],
        now: datetime,
        changed: list[TargetState],
        out: list[Emit],
    ) -> None:
        meta: dict[str, Any] = dict(
            priority=r.priority,
            department=r.department,
            category=r.category,
            policy=r.sla_policy,
            sensitive=r.sensitive,
            tightened=bool(r.special_periods),
            route_version=r.version,
            source=r.source,
        )
        for target in (ACK, RESOLVE, KEEP):
            st = rows.get(target)
            if st is not None and st.route_version == 0:
                judged = self._judge_done(st, r, meta, now, changed, out)
                if target == RESOLVE and FOLLOW_UP not in rows:  # the survey is still due
                    follow = _fresh(judged, FOLLOW_UP, st.started_at)
                    self._start(follow, now, changed, out, extra=f"v{r.version}")
                continue
            if st is None:
                if target != ACK and rows.get(RESOLVE) is not None:
                    continue  # resolved before routing: no resolve or keep-informed clock
                fresh = TargetState(
                    complaint_id=r.complaint_id,
                    target=target,
                    partition=partition,
                    state=ACTIVE,
                    started_at=r.occurred_at,
                    **meta,
                )
                self._start(fresh, now, changed, out, extra=f"v{r.version}")
            elif r.version <= st.route_version:
                continue
            elif not st.live:
                changed.append(replace(st, **meta))
            else:
                # A re-route keeps the business time used up to the change that caused it
                # (a transfer's, a recategorisation's own time) and applies the new policy.
                at = _at(r.occurred_at, st, now) if st.state != PAUSED else st.started_at
                moved = replace(st, used=st.elapsed(at, self._calendar(st)), started_at=at, **meta)
                moved = replace(moved, state=ACTIVE if moved.state == BREACHED else moved.state)
                self._start(moved, now, changed, out, extra=f"v{r.version}", fresh=False)
        for st in rows.values():
            if st.target in (CALLBACK, FOLLOW_UP) and st.live and r.version > st.route_version:
                changed.append(replace(st, **meta))

    def _lifecycle(
        self,
        e: LifecycleEvent,
        partition: int,
        rows: dict[str, TargetState],
        now: datetime,
        changed: list[TargetState],
        out: list[Emit],
        cause: str,
    ) -> None:
        status = e.status if e.kind == LifecycleKind.STATUS else None
        if all(st.route_version == 0 for st in rows.values()):
            # Before the routing decision: remember when each target was first done (judged
            # when the decision comes), start nothing.
            for target, done in ((ACK, status in AGENT_STATUSES), (RESOLVE, status in CLOSING)):
                if done and (target not in rows or e.occurred_at < rows[target].started_at):
                    changed.append(_placeholder(e, partition, target))
            return
        agent_update = status is not None or e.kind in (
            LifecycleKind.CALLBACK_PROMISED,
            LifecycleKind.COMPENSATION_OFFERED,
        )

        def finish(target: str, state: str = MET) -> None:
            st = rows.get(target)
            self._finish(st, _at(e.occurred_at, st, now), now, changed, out, cause, state=state)

        if status in AGENT_STATUSES:
            finish(ACK)
        if (
            status in CLOSING
            or status == Status.REOPENED
            or e.kind in (LifecycleKind.COMPENSATION_OFFERED,)
            or (status is not None and status != Status.WAITING_ON_CUSTOMER)
        ):
            finish(CALLBACK)
        if status in CLOSING:
            for target in (RESOLVE, KEEP):
                finish(target)
            follow = rows.get(FOLLOW_UP)
            if follow is None or not follow.live:
                base = rows.get(RESOLVE) or next(iter(rows.values()))
                st = _fresh(base, FOLLOW_UP, min(e.occurred_at, now))
                if status == Status.RESOLVED or follow is None:
                    self._start(st, now, changed, out, extra=cause)
            return
        if status == Status.REOPENED:
            finish(FOLLOW_UP, CANCELLED)
            for target in (RESOLVE, KEEP):
                again = rows.get(target)
                if again is not None:
                    at = _at(e.occurred_at, again, now)
                    self._start(again.restart(at), now, changed, out, extra=cause)
            return
        if e.kind == LifecycleKind.SURVEY_ANSWERED:  # answered before the survey was sent
            finish(FOLLOW_UP)
        resolve = rows.get(RESOLVE)
        at = _at(e.occurred_at, resolve, now)
        if status == Status.WAITING_ON_CUSTOMER and resolve is not None and _running(resolve, at):
            # A clock the real clock breached (an import) after this pause happened pauses too:
            # the breach came only because the pause had not been read yet.
            paused = replace(resolve.pause(at, self._calendar(resolve)), next_due=None)
            changed.append(paused)
            out.append(self._emit(paused, SlaEventKind.PAUSED, now, extra=cause))
        elif (
            resolve is not None
            and resolve.state == PAUSED
            and (e.kind == LifecycleKind.CONTACT or status is not None)
            and e.occurred_at >= resolve.started_at  # not an answer to what was not yet asked
        ):
            self._start(
                resolve.resume(at), now, changed, out, extra=cause, kind=SlaEventKind.RESUMED
            )
        if e.kind == LifecycleKind.CALLBACK_PROMISED and e.due_at is not None:
            base = resolve or next(iter(rows.values()))
            promise = _fresh(base, CALLBACK, min(e.occurred_at, now), due_at=e.due_at)
            self._start(promise, now, changed, out, extra=cause)
        keep = rows.get(KEEP)
        if agent_update and keep is not None and keep.live:
            # The customer was told something: the keep-informed clock starts over.
            at = _at(e.occurred_at, keep, now)
            self._finish(keep, at, now, changed, out, cause)
            self._start(keep.restart(at), now, changed, out, extra=cause)

    # --- the clock -------------------------------------------------------------------------

    def next_wakeup(self) -> float | None:
        due = self.queue.next_due()
        return None if due is None else max(0.0, due - self.clock.now().timestamp())

    def batch_limit(self) -> int | None:
        """Small polls while a step falls due soon: the pass that fires it runs after the
        poll, so a backlog of input (a flood) cannot hold a breach back for long."""
        wake = self.next_wakeup()
        return SOON_BATCH if wake is not None and wake < SOON_S else None

    def tick_due(self) -> bool:
        wake = self.next_wakeup()
        return (wake is not None and wake <= 0) or time.monotonic() - self._gauge_at >= GAUGE_EVERY

    def tick(self, conn: psycopg.Connection) -> Iterable[Emit]:
        self._gauge(conn)
        return self._fire_due(conn)

    def with_poll(self, conn: psycopg.Connection) -> Iterable[Emit]:
        """Steps that fell due while the poll was handled go out with it (see the base)."""
        return self._fire_due(conn)

    def _fire_due(self, conn: psycopg.Connection) -> list[Emit]:
        """Fire the steps due by now (at most FIRE_LIMIT of them)."""
        now = self.clock.now()
        entries = self.queue.pop_due(now.timestamp(), FIRE_LIMIT)
        if not entries:
            return []
        # Fired only if this transaction commits: otherwise they are due again.
        self.after_rollback(lambda: self.queue.extend(entries))
        rows = store.by_keys(conn, [(e[1], e[2]) for e in entries])
        out: list[Emit] = []
        changed: dict[tuple[str, str], TargetState] = {}
        for due, complaint_id, target, partition in entries:
            key = (complaint_id, target)
            found = changed.get(key) or rows.get(key)
            if (
                found is None
                or found.next_due is None
                or partition not in self.partitions
                or abs(found.next_due.timestamp() - due) > 1e-3
            ):
                continue  # cancelled or rescheduled since: a stale entry
            st = self._fire(found, now, out)
            for _ in range(16):  # steps that fell due together (a late recovery) fire now
                if st.next_due is None or st.next_due > now:
                    break
                st = self._fire(st, now, out)
            changed[key] = st
        store.save(conn, list(changed.values()), now)
        self._schedule(changed.values())
        return out

    def _schedule(self, changed: Iterable[TargetState]) -> None:
        """Queue the next step of each changed timer once its row is committed."""
        entries = [
            (st.next_due.timestamp(), st.complaint_id, st.target, st.partition)
            for st in changed
            if st.next_due is not None
        ]
        if entries:
            self.after_commit(lambda: self.queue.extend(entries))

    def _fire(self, st: TargetState, now: datetime, out: list[Emit]) -> TargetState:
        if not self._tracks(st):  # re-routed to a policy without this target: its clock stops
            return replace(st, next_due=None)
        plan = self._plan(st)
        step = next_step(st, plan)
        if step is None:
            return replace(st, next_due=None)
        due, action, arg = step
        past = now - due > self.horizon  # history is not news: marked for every consumer
        if action == "warn":
            st = replace(st, warned_pct=arg)
            if now < plan.deadline:  # after the deadline a warning is noise: the breach says it
                self.after_commit(
                    self.metrics.sla_warnings.labels(st.target, st.priority.value).inc
                )
                out.append(self._emit(st, SlaEventKind.WARNING, now, pct=arg, past=past))
        elif action == "breach":
            late = max(0.0, (now - plan.deadline).total_seconds())
            st = replace(st, state=BREACHED)
            self.after_commit(
                self.metrics.sla_breaches.labels(st.target, st.priority.value, st.department).inc
            )
            self.after_commit(lambda: self.metrics.sla_breach_lag.observe(late))
            out.append(self._emit(st, SlaEventKind.BREACHED, now, late=late, past=past))
        else:
            role = next(r for level, r, _ in plan.escalations if level == arg)
            st = replace(st, escalation_level=arg)
            self.after_commit(self.metrics.sla_escalations.labels(str(arg)).inc)
            out.append(self._emit(st, SlaEventKind.ESCALATED, now, level=arg, to=role, past=past))
        following = next_step(st, plan)
        return replace(st, next_due=following[0] if following else None)

    # --- helpers ---------------------------------------------------------------------------

    def _start(
        self,
        st: TargetState,
        now: datetime,
        changed: list[TargetState],
        out: list[Emit],
        *,
        extra: str,
        fresh: bool = True,
        kind: SlaEventKind = SlaEventKind.STARTED,
    ) -> None:
        if not self._tracks(st):
            return  # this policy does not track the target (e.g. no keep-informed clock)
        plan = self._plan(st)
        step = next_step(st, plan)
        st = replace(st, deadline=plan.deadline, next_due=step[0] if step else None)
        changed.append(st)
        out.append(self._emit(st, kind, now, extra=extra))

    def _finish(
        self,
        st: TargetState | None,
        at: datetime,
        now: datetime,
        changed: list[TargetState],
        out: list[Emit],
        cause: str,
        *,
        state: str = MET,
    ) -> None:
        if st is None or not st.live:
            return
        done = st.stop(at, self._calendar(st), state)
        changed.append(done)
        if state == MET:
            out.append(
                self._emit(
                    done, SlaEventKind.MET, now, extra=cause, elapsed=done.used.total_seconds()
                )
            )
        else:
            out.append(self._emit(done, SlaEventKind.CANCELLED, now, extra=cause))

    def _judge_done(
        self,
        st: TargetState,
        r: RoutedComplaint,
        meta: dict[str, Any],
        now: datetime,
        changed: list[TargetState],
        out: list[Emit],
    ) -> TargetState:
        """A target done before its routing decision came (a status read first): its clock is
        what it would have been — started when the complaint happened, met when the status
        happened — and is judged now against the deadline the decision's policy sets."""
        done_at = st.started_at
        routed = replace(st, state=ACTIVE, started_at=r.occurred_at, **meta)
        if not self._tracks(routed):
            changed.append(replace(st, **meta))
            return changed[-1]
        plan = self._plan(routed)
        met = routed.stop(max(done_at, r.occurred_at), self._calendar(routed))
        met = replace(met, deadline=plan.deadline)
        changed.append(met)
        out.append(
            self._emit(
                met,
                SlaEventKind.MET,
                now,
                extra=f"v{r.version}",
                elapsed=met.used.total_seconds(),
            )
        )
        return met

    def _policy(self, st: TargetState) -> Policy:
        key = (st.policy, st.priority, st.category, st.department, st.sensitive, st.tightened)
        found = self._policies.get(key)
        if found is None:
            found = self._lookup(st)
            if self.scale != 1.0:
                found = scaled(found, self.scale)
            if len(self._policies) > 4096:
                self._policies.clear()
            self._policies[key] = found
        return found

    def _lookup(self, st: TargetState) -> Policy:
        """The policy routing named (its special-period variant, e.g. `standard-315-P2`, when
        one is in force). A name the book lacks falls back to the policy the facts choose —
        for a special period, the next stricter priority's — and is a configuration problem."""
        try:
            return self.book.named(st.policy, sensitive=st.sensitive)
        except KeyError:
            pass
        priority = st.priority
        if st.tightened:
            order = list(Priority)
            priority = order[max(0, order.index(priority) - 1)]
        found = self.book.resolve(priority, st.category, st.department, st.sensitive)
        if st.policy != UNROUTED and st.policy not in self._unknown:
            stricter = " (one priority stricter: a special period is in force)" * st.tightened
            self._unknown[st.policy] = (
                f"routing names SLA policy {st.policy!r}, which the SLA policies do not define;"
                f" its clocks follow {found.name!r}{stricter}, chosen by priority, category and"
                " department. Define it in the SLA policies (or correct the routing rules)."
            )
        return found

    def _tracks(self, st: TargetState) -> bool:
        """Whether the complaint's policy has `st.target`; the clock of a target it has is
        about to start or move, so a fallback policy is reported (once per step)."""
        if SlaTarget(st.target) not in self._policy(st).targets:
            return False
        if st.policy in self._unknown:
            self.config_problem(UNKNOWN_POLICY, self._unknown[st.policy], subject=st.policy)
        return True

    def _calendar(self, st: TargetState) -> BusinessCalendar:
        if self.scale != 1.0:
            return WALL_CLOCK
        try:
            return self.book.calendar_for(self._policy(st), st.target, st.source)
        except CalendarError as exc:
            self._calendar_problem(exc)
            return WALL_CLOCK

    def _plan(self, st: TargetState) -> Plan:
        policy, calendar = self._policy(st), self._calendar(st)
        try:
            plan = policy.plan_target(st.target, st.started_at, calendar, st.used, due=st.due_at)
        except CalendarError as exc:
            # A deadline must still come, and warnings and escalations with it: counted round
            # the clock (a business day as 24 hours) until the calendar is fixed.
            self._calendar_problem(exc)
            return policy.plan_target(st.target, st.started_at, WALL_CLOCK, st.used, due=st.due_at)
        # The escalations are planned when first asked for, so the same fallback holds then.
        return replace(plan, chain=partial(self._escalations, plan, policy, st))

    def _escalations(
        self, plan: Plan, policy: Policy, st: TargetState
    ) -> tuple[tuple[int, str, datetime], ...]:
        try:
            return plan.escalations
        except CalendarError as exc:
            self._calendar_problem(exc)
            wall = policy.plan_target(st.target, st.started_at, WALL_CLOCK, st.used, due=st.due_at)
            return wall.escalations

    def _calendar_problem(self, exc: CalendarError) -> None:
        self.config_problem(
            CALENDAR,
            f"calendar {exc.calendar!r} {exc.reason}: SLA clocks on it count round the clock"
            " (a business day as 24 hours) until it is fixed",
            subject=exc.calendar,
        )

    def _gauge(self, conn: psycopg.Connection) -> None:
        if time.monotonic() - self._gauge_at < GAUGE_EVERY:
            return
        self._gauge_at = time.monotonic()
        counts = store.active_counts(conn, self.partitions)
        for target in SlaTarget:
            self.metrics.sla_timers_active.labels(target.value).set(counts.get(target.value, 0))

    def _emit(
        self,
        st: TargetState,
        kind: SlaEventKind,
        now: datetime,
        *,
        extra: str = "",
        pct: int | None = None,
        level: int | None = None,
        to: str | None = None,
        late: float | None = None,
        elapsed: float | None = None,
        past: bool = False,
    ) -> Emit:
        deadline = st.deadline or now
        event = SlaEvent(
            occurred_at=st.started_at if kind in OCCURRED else None,
            complaint_id=st.complaint_id,
            kind=kind,
            target=SlaTarget(st.target),
            policy=st.policy,
            priority=st.priority,
            department=st.department,
            deadline=deadline,
            emitted_at=now,
            threshold_pct=pct,
            level=level,
            escalated_to=to,
            late_by_seconds=late,
            elapsed_seconds=elapsed,
            historical=past,
        )
        return self.emit(
            SLA,
            st.complaint_id,
            event,
            "sla",
            st.complaint_id,
            st.target,
            kind.value,
            pct or level or "",
            deadline.isoformat(),
            extra,
        )


def _fresh(
    base: TargetState, target: str, at: datetime, due_at: datetime | None = None
) -> TargetState:
    """A new clock of `target` from `at`, with `base`'s complaint, partition and routing."""
    return replace(
        base,
        target=target,
        state=ACTIVE,
        started_at=at,
        used=timedelta(0),
        due_at=due_at,
        deadline=None,
        warned_pct=0,
        escalation_level=0,
        next_due=None,
    )


def _at(occurred: datetime, st: TargetState | None, now: datetime) -> datetime:
    """When an event happened, for a clock: its own time (for an import, last year's), but
    not before the clock's last (re)start (an event that happened earlier and is read after
    the clock started, or resumed, counts at that start: it neither gives time back nor takes
    any) and not after now (a source whose clock runs fast)."""
    at = min(occurred, now)
    return at if st is None else max(at, st.started_at)


def _running(st: TargetState, at: datetime) -> bool:
    """Whether the clock was running at `at`: active, or breached only after `at` (the real
    clock fired the deadline of an imported complaint before its later events were read)."""
    return st.state == ACTIVE or (
        st.state == BREACHED and st.deadline is not None and at < st.deadline
    )


def _placeholder(e: LifecycleEvent, partition: int, target: str) -> TargetState:
    return TargetState(
        complaint_id=e.complaint_id,
        target=target,
        partition=partition,
        state=MET,
        priority=Priority.P4,
        department="unknown",
        category=None,
        policy="none",
        sensitive=False,
        tightened=False,
        source=e.source,
        route_version=0,
        started_at=e.occurred_at.astimezone(UTC),
    )
