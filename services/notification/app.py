"""The notification worker: writes each notice once to the outbox and reports its outcome.

Delivery channels (SMTP, SMS gateway, chat, webhooks) read the outbox; this worker's
`outbox` channel is the durable hand-off point, keyed so a notice is recorded at most once.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from schemas.notifications import NotificationOutcome, Outcome
from schemas.registered import RegisteredComplaint
from schemas.registry import NOTIFICATIONS, REGISTERED, SLA
from schemas.sla import SlaEvent
from services.kernel.emit import Emit, decode
from services.kernel.handler import Handler, Record
from services.notification import store
from services.notification.compose import Notice, acknowledgement, for_sla
from services.notification.metrics import NotificationMetrics
from services.notification.migrations import MIGRATIONS

CHANNEL = "outbox"


class Notification(Handler):
    name = "notification"
    inputs = (REGISTERED, SLA)
    schema = "notification"
    migrations = MIGRATIONS
    metrics_class = NotificationMetrics

    def handle(self, record: Record, conn: psycopg.Connection) -> Iterable[Emit]:
        model, _ = decode(record.spec, record.value, record.headers)
        notice: Notice | None
        if isinstance(model, RegisteredComplaint):
            notice, complaint_id = acknowledgement(model), model.complaint_id
        else:
            assert isinstance(model, SlaEvent)
            notice, complaint_id = for_sla(model), model.complaint_id
        if notice is None:
            return []
        now = self.clock.now()
        if not store.record_once(conn, notice, complaint_id, CHANNEL, now):
            return []
        self.after_commit(
            self.metrics.notifications.labels(CHANNEL, notice.kind, Outcome.SENT.value).inc
        )
        outcome = NotificationOutcome(
            notification_key=notice.key,
            complaint_id=complaint_id,
            kind=notice.kind,
            audience=notice.audience,
            recipient=notice.recipient,
            channel=CHANNEL,
            language=notice.language,
            outcome=Outcome.SENT,
            attempts=1,
            at=now,
        )
        return [
            self.emit(
                NOTIFICATIONS, complaint_id, outcome, "notification", notice.key, Outcome.SENT.value
            )
        ]
