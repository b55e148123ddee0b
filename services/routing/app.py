"""The routing worker: registered complaints in, routing decisions out."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from schemas.envelope import CloudEvent, derived_event_id
from schemas.registered import RegisteredComplaint
from schemas.registry import REGISTERED, ROUTED
from schemas.routed import RoutedComplaint
from services.routing.rules import decide
from services.runtime.kafka import Emit, decode
from services.runtime.worker import Handler, Record

SOURCE = "/complaintflow/routing"


class Routing(Handler):
    name = "routing"
    inputs = (REGISTERED,)
    schema = "routing"

    def handle(self, record: Record, conn: psycopg.Connection) -> Iterable[Emit]:
        complaint, cause = decode(record.spec, record.value, record.headers)
        assert isinstance(complaint, RegisteredComplaint)
        decision = decide(
            category=complaint.category,
            text=" ".join(filter(None, [complaint.subject, complaint.description])),
            repeat_count=complaint.repeat_count,
        )
        routed = RoutedComplaint(
            complaint_id=complaint.complaint_id,
            version=1,
            category=decision.category,
            department=decision.department,
            queue=decision.queue,
            owner=None,
            priority=decision.priority,
            sla_policy=decision.sla_policy,
            sensitive=decision.sensitive,
            tags=list(decision.tags),
            reasons=list(decision.reasons),
            occurred_at=complaint.occurred_at,
            routed_at=self.clock.now(),
        )
        self.metrics.complaints_routed.labels(decision.department, decision.priority.value).inc()
        event = CloudEvent(
            id=derived_event_id("routed", cause.id, 1),
            type=ROUTED.ce_type,
            source=SOURCE,
            time=routed.routed_at,
            subject=complaint.complaint_id,
        )
        return [Emit(ROUTED, complaint.complaint_id, routed, event)]
