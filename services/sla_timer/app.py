"""The SLA timer worker: routing decisions and lifecycle events in, SLA events out.

Timers live in Postgres (durable) and in an in-memory heap for the partitions this
instance owns; the poll loop wakes for the next deadline, so a breach is emitted as soon
as it falls due rather than on a periodic scan.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta

import psycopg

from schemas.common import Priority, Status
from schemas.envelope import CloudEvent, derived_event_id
from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.registry import LIFECYCLE, ROUTED, SLA
from schemas.routed import RoutedComplaint
from schemas.sla import SlaEvent, SlaEventKind, SlaTarget
from services.runtime.kafka import Emit, decode
from services.runtime.worker import Handler, Record
from services.sla_timer.migrations import MIGRATIONS
from services.sla_timer.policy import resolve_duration
from services.sla_timer.state import ACTIVE, BREACHED, LIVE, MET, PAUSED, TargetState
from services.sla_timer.timers import TimerQueue

SOURCE = "/complaintflow/sla_timer"
RESOLVE = SlaTarget.RESOLVE.value
STOPPING = (Status.RESOLVED, Status.CLOSED)
RESUMING = (Status.IN_PROGRESS, Status.ASSIGNED, Status.ACKNOWLEDGED)


class SlaTimer(Handler):
    name = "sla_timer"
    inputs = (ROUTED, LIFECYCLE)
    schema = "sla_timer"
    migrations = MIGRATIONS

    def start(self, conn: psycopg.Connection) -> None:
        self.queue = TimerQueue()
        self.states: dict[Hashable, TargetState] = {}

    # --- partition ownership -------------------------------------------------------------

    def assigned(self, partitions: set[int], conn: psycopg.Connection) -> None:
        rows = conn.execute(
            "SELECT complaint_id, target, partition, state, priority, department, policy,"
            " sensitive, route_version, started_at, used_seconds, duration_seconds, warned_pct,"
            " escalation_level FROM sla_timer.timers"
            " WHERE partition = ANY(%s) AND state = ANY(%s)",
            (list(partitions), list(LIVE)),
        ).fetchall()
        for row in rows:
            st = TargetState(
                complaint_id=row[0],
                target=row[1],
                partition=row[2],
                state=row[3],
                priority=Priority(row[4]),
                department=row[5],
                policy=row[6],
                sensitive=row[7],
                route_version=row[8],
                started_at=row[9],
                used=timedelta(seconds=row[10]),
                duration=timedelta(seconds=row[11]),
                warned_pct=row[12],
                escalation_level=row[13],
            )
            self._track(st)
        self._gauge()

    def revoked(self, partitions: set[int]) -> None:
        for key, st in list(self.states.items()):
            if st.partition in partitions:
                self.queue.cancel(key)
                del self.states[key]
        self._gauge()

    # --- input -----------------------------------------------------------------------------

    def handle(self, record: Record, conn: psycopg.Connection) -> Iterable[Emit]:
        model, cause = decode(record.spec, record.value, record.headers)
        now = self.clock.now()
        if isinstance(model, RoutedComplaint):
            return self._routed(model, record.partition, now, conn)
        assert isinstance(model, LifecycleEvent)
        return self._lifecycle(model, record.partition, now, conn, cause.id)

    def _routed(
        self, routed: RoutedComplaint, partition: int, now: datetime, conn: psycopg.Connection
    ) -> list[Emit]:
        key = (routed.complaint_id, RESOLVE)
        duration = resolve_duration(routed.priority, scale=self.settings.sla_scale)
        st = self.states.get(key) or self._load(conn, routed.complaint_id)
        if st is not None and routed.version <= st.route_version:
            return []
        if st is None:
            st = TargetState(
                complaint_id=routed.complaint_id,
                target=RESOLVE,
                partition=partition,
                state=ACTIVE,
                priority=routed.priority,
                department=routed.department,
                policy=routed.sla_policy,
                sensitive=routed.sensitive,
                route_version=routed.version,
                started_at=routed.occurred_at,
                used=timedelta(0),
                duration=duration,
            )
            kind = SlaEventKind.STARTED
        elif st.state == MET:
            st = replace(
                st,
                route_version=routed.version,
                priority=routed.priority,
                department=routed.department,
                policy=routed.sla_policy,
            )
            self._save(conn, st, now)
            return []
        else:
            st = st.rerouted(
                now,
                priority=routed.priority,
                department=routed.department,
                policy=routed.sla_policy,
                duration=duration,
                sensitive=routed.sensitive,
                version=routed.version,
            )
            kind = SlaEventKind.STARTED
        self._save(conn, st, now)
        self._track(st)
        self._gauge()
        return [self._emit(st, kind, now, extra=f"v{routed.version}")]

    def _lifecycle(
        self,
        event: LifecycleEvent,
        partition: int,
        now: datetime,
        conn: psycopg.Connection,
        cause_id: str,
    ) -> list[Emit]:
        key = (event.complaint_id, RESOLVE)
        st = self.states.get(key) or self._load(conn, event.complaint_id)
        status = event.status if event.kind == LifecycleKind.STATUS else None
        if status in STOPPING:
            if st is None:
                # Resolved before its routing decision arrived: remember, so no timer starts.
                self._save(conn, _placeholder(event, partition), now)
                return []
            if st.state not in LIVE:
                return []
            done = replace(st, used=st.elapsed(now), started_at=now, state=MET)
            self._save(conn, done, now)
            self._untrack(key)
            return [
                self._emit(
                    done, SlaEventKind.MET, now, extra=cause_id, elapsed=done.used.total_seconds()
                )
            ]
        if st is None:
            return []
        if status == Status.REOPENED and st.state == MET:
            fresh = replace(
                st,
                state=ACTIVE,
                started_at=event.occurred_at,
                used=timedelta(0),
                warned_pct=0,
                escalation_level=0,
            )
            self._save(conn, fresh, now)
            self._track(fresh)
            return [self._emit(fresh, SlaEventKind.STARTED, now, extra=cause_id)]
        if status == Status.WAITING_ON_CUSTOMER and st.state == ACTIVE:
            paused = st.pause(now)
            self._save(conn, paused, now)
            self._track(paused)
            return [self._emit(paused, SlaEventKind.PAUSED, now, extra=cause_id)]
        customer_answered = event.kind == LifecycleKind.CONTACT or status in RESUMING
        if customer_answered and st.state == PAUSED:
            resumed = st.resume(now)
            self._save(conn, resumed, now)
            self._track(resumed)
            return [self._emit(resumed, SlaEventKind.RESUMED, now, extra=cause_id)]
        return []

    # --- the clock -------------------------------------------------------------------------

    def next_wakeup(self) -> float | None:
        due = self.queue.next_due()
        return None if due is None else max(0.0, due - self.clock.now().timestamp())

    def tick(self, conn: psycopg.Connection) -> Iterable[Emit]:
        now = self.clock.now()
        out: list[Emit] = []
        for key, _due, (action, arg) in list(self.queue.pop_due(now.timestamp())):
            st = self.states.get(key)
            if st is None:
                continue
            if action == "warn":
                if st.state != ACTIVE or now >= st.deadline:
                    continue  # a warning after the deadline is noise: the breach says it all
                st = replace(st, warned_pct=arg)
                self.metrics.sla_warnings.labels(st.target, st.priority.value).inc()
                out.append(self._emit(st, SlaEventKind.WARNING, now, pct=arg))
            elif action == "breach":
                late = max(0.0, (now - st.deadline).total_seconds())
                st = replace(st, state=BREACHED)
                self.metrics.sla_breaches.labels(st.target, st.priority.value, st.department).inc()
                self.metrics.sla_breach_lag.observe(late)
                out.append(self._emit(st, SlaEventKind.BREACHED, now, late=late))
            elif action == "escalate":
                level, role = arg
                st = replace(st, escalation_level=level)
                self.metrics.sla_escalations.labels(str(level)).inc()
                out.append(self._emit(st, SlaEventKind.ESCALATED, now, level=level, to=role))
            self.states[key] = st
            self._save(conn, st, now)
        return out

    # --- helpers ---------------------------------------------------------------------------

    def _track(self, st: TargetState) -> None:
        key = (st.complaint_id, st.target)
        self.states[key] = st
        if st.state == PAUSED:
            self.queue.cancel(key)
            return
        p = st.plan()
        timers: list[tuple[float, object]] = [
            (at.timestamp(), ("warn", pct)) for pct, at in p.warnings if pct > st.warned_pct
        ]
        if st.state == ACTIVE:
            timers.append((p.deadline.timestamp(), ("breach", None)))
        timers += [
            (at.timestamp(), ("escalate", (level, role)))
            for level, role, at in p.escalations
            if level > st.escalation_level
        ]
        self.queue.replace(key, timers)

    def _untrack(self, key: Hashable) -> None:
        self.queue.cancel(key)
        self.states.pop(key, None)
        self._gauge()

    def _gauge(self) -> None:
        counts: dict[str, int] = {t.value: 0 for t in SlaTarget}
        for st in self.states.values():
            counts[st.target] = counts.get(st.target, 0) + 1
        for target, n in counts.items():
            self.metrics.sla_timers_active.labels(target).set(n)

    def _load(self, conn: psycopg.Connection, complaint_id: str) -> TargetState | None:
        row = conn.execute(
            "SELECT partition, state, priority, department, policy, sensitive, route_version,"
            " started_at, used_seconds, duration_seconds, warned_pct, escalation_level"
            " FROM sla_timer.timers WHERE complaint_id = %s AND target = %s",
            (complaint_id, RESOLVE),
        ).fetchone()
        if row is None:
            return None
        return TargetState(
            complaint_id=complaint_id,
            target=RESOLVE,
            partition=row[0],
            state=row[1],
            priority=Priority(row[2]),
            department=row[3],
            policy=row[4],
            sensitive=row[5],
            route_version=row[6],
            started_at=row[7],
            used=timedelta(seconds=row[8]),
            duration=timedelta(seconds=row[9]),
            warned_pct=row[10],
            escalation_level=row[11],
        )

    def _save(self, conn: psycopg.Connection, st: TargetState, now: datetime) -> None:
        conn.execute(
            "INSERT INTO sla_timer.timers (complaint_id, target, partition, state, priority,"
            " department, policy, sensitive, route_version, started_at, used_seconds,"
            " duration_seconds, deadline, warned_pct, escalation_level, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (complaint_id, target) DO UPDATE SET partition = EXCLUDED.partition,"
            " state = EXCLUDED.state, priority = EXCLUDED.priority,"
            " department = EXCLUDED.department, policy = EXCLUDED.policy,"
            " sensitive = EXCLUDED.sensitive, route_version = EXCLUDED.route_version,"
            " started_at = EXCLUDED.started_at, used_seconds = EXCLUDED.used_seconds,"
            " duration_seconds = EXCLUDED.duration_seconds, deadline = EXCLUDED.deadline,"
            " warned_pct = EXCLUDED.warned_pct, escalation_level = EXCLUDED.escalation_level,"
            " updated_at = EXCLUDED.updated_at",
            (
                st.complaint_id,
                st.target,
                st.partition,
                st.state,
                st.priority.value,
                st.department,
                st.policy,
                st.sensitive,
                st.route_version,
                st.started_at,
                st.used.total_seconds(),
                st.duration.total_seconds(),
                st.deadline,
                st.warned_pct,
                st.escalation_level,
                now,
            ),
        )

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
    ) -> Emit:
        event = SlaEvent(
            complaint_id=st.complaint_id,
            kind=kind,
            target=SlaTarget(st.target),
            policy=st.policy,
            priority=st.priority,
            department=st.department,
            deadline=st.deadline,
            emitted_at=now,
            threshold_pct=pct,
            level=level,
            escalated_to=to,
            late_by_seconds=late,
            elapsed_seconds=elapsed,
        )
        ce = CloudEvent(
            id=derived_event_id(
                "sla",
                st.complaint_id,
                st.target,
                kind.value,
                pct or level or "",
                st.deadline.isoformat(),
                extra,
            ),
            type=SLA.ce_type,
            source=SOURCE,
            time=now,
            subject=st.complaint_id,
        )
        return Emit(SLA, st.complaint_id, event, ce)


def _placeholder(event: LifecycleEvent, partition: int) -> TargetState:
    return TargetState(
        complaint_id=event.complaint_id,
        target=RESOLVE,
        partition=partition,
        state=MET,
        priority=Priority.P4,
        department="unknown",
        policy="none",
        sensitive=False,
        route_version=0,
        started_at=event.occurred_at,
        used=timedelta(0),
        duration=timedelta(0),
    )
