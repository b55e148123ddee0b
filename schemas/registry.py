"""The topic registry: the single source of truth for every topic we own.

Topic creation, JSON Schema export and the README's topic catalog are derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, TypeAdapter

from schemas.alerts import Alert
from schemas.lifecycle import LifecycleEvent
from schemas.notifications import NotificationOutcome
from schemas.raw import RawEvent
from schemas.registered import RegisteredComplaint
from schemas.rejected import DeadLetter
from schemas.routed import RoutedComplaint
from schemas.sla import SlaEvent
from schemas.stats import StatsRecord

DAY_MS = 24 * 3600 * 1000
_ADAPTERS: dict[str, TypeAdapter[object]] = {}
COMPLAINT_PARTITIONS = 6
"""All topics keyed by complaint_id share this count so they stay co-partitioned."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    schema: object
    """A pydantic model class or an annotated union (raw events)."""
    ce_type: str
    description: str
    writers: tuple[str, ...]
    also_read_by: tuple[str, ...] = ()
    """Readers other than our workers (ops, downstream teams). Which workers read a topic is
    what their handlers declare as inputs (the catalog is made from both)."""
    partitions: int = COMPLAINT_PARTITIONS
    replication: int = 1
    retention_ms: int = 30 * DAY_MS
    compacted: bool = False
    schema_version: str = "1"
    config: dict[str, str] = field(default_factory=dict)

    def adapter(self) -> TypeAdapter[object]:
        """The (cached) validator of this topic's messages."""
        found = _ADAPTERS.get(self.name)
        if found is None:
            found = _ADAPTERS[self.name] = TypeAdapter(self.schema)  # type: ignore[arg-type]
        return found

    def json_schema(self) -> dict[str, object]:
        if isinstance(self.schema, type) and issubclass(self.schema, BaseModel):
            return self.schema.model_json_schema()
        return self.adapter().json_schema()

    def topic_config(self) -> dict[str, str]:
        cfg = {"retention.ms": str(self.retention_ms)}
        if self.compacted:
            cfg["cleanup.policy"] = "compact"
            cfg.pop("retention.ms")
        cfg.update(self.config)
        return cfg


RAW = TopicSpec(
    name="complaints.raw.v1",
    key="source:complaint_ref",
    schema=RawEvent,
    ce_type="io.complaintflow.raw.v1",
    description="Raw call-center events: new complaints, follow-up contacts, status changes, "
    "promised callbacks, compensation offers, survey answers.",
    writers=("call centers (Kafka client, `submit`, HTTP, `import`)",),
    retention_ms=7 * DAY_MS,
)
REJECTED = TopicSpec(
    name="complaints.rejected.v1",
    key="source event id (or topic-partition-offset)",
    schema=DeadLetter,
    ce_type="io.complaintflow.rejected.v1",
    description="Dead letters: original bytes, source topic/partition/offset, every reason.",
    writers=("any worker",),
    also_read_by=("ops", "replay tool"),
    partitions=3,
    retention_ms=90 * DAY_MS,
)
REGISTERED = TopicSpec(
    name="complaints.registered.v1",
    key="complaint_id",
    schema=RegisteredComplaint,
    ce_type="io.complaintflow.complaint.registered.v1",
    description="Validated, de-duplicated, PII-protected new complaints.",
    writers=("intake",),
)
LIFECYCLE = TopicSpec(
    name="complaints.lifecycle.v1",
    key="complaint_id",
    schema=LifecycleEvent,
    ce_type="io.complaintflow.complaint.lifecycle.v1",
    description="Status changes, contacts, promised callbacks, compensation, surveys.",
    writers=("intake",),
)
ROUTED = TopicSpec(
    name="complaints.routed.v1",
    key="complaint_id",
    schema=RoutedComplaint,
    ce_type="io.complaintflow.complaint.routed.v1",
    description="Department, queue, owner, priority, SLA policy and reasons (versioned).",
    writers=("routing",),
)
SLA = TopicSpec(
    name="complaints.sla.v1",
    key="complaint_id",
    schema=SlaEvent,
    ce_type="io.complaintflow.sla.v1",
    description="SLA started / warning / breached / escalated / met / paused / resumed.",
    writers=("sla_timer",),
)
NOTIFICATIONS = TopicSpec(
    name="complaints.notifications.v1",
    key="complaint_id",
    schema=NotificationOutcome,
    ce_type="io.complaintflow.notification.v1",
    description="Each notification's outcome (queued, sent, deferred, retrying, dead, unknown,"
    " skipped) with its attempts.",
    writers=("notification",),
    also_read_by=("ops",),
)
ALERTS = TopicSpec(
    name="complaints.alerts.v1",
    key="alert key",
    schema=Alert,
    ce_type="io.complaintflow.alert.v1",
    description="Early warnings: emerging issues, collective complaints, spikes; one key per"
    " episode (open, updated, closed).",
    writers=("early_warning",),
    partitions=3,
)
STATS = TopicSpec(
    name="complaints.stats.v1",
    key="dimension=value[@hour:YYYY-MM-DDTHH / @day:YYYY-MM-DD / @week:YYYY-Www]",
    schema=StatsRecord,
    ce_type="io.complaintflow.stats.v1",
    description="Aggregates per dimension and event-time window: the whole archive, each UTC"
    " week and day, and each hour of the last 48 (latest value per key).",
    writers=("analytics",),
    also_read_by=("downstream teams",),
    partitions=3,
    compacted=True,
)

TOPICS: dict[str, TopicSpec] = {
    spec.name: spec
    for spec in (RAW, REJECTED, REGISTERED, LIFECYCLE, ROUTED, SLA, NOTIFICATIONS, ALERTS, STATS)
}
