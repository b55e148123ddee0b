"""The call centers' Python client: send raw events to ComplaintFlow over Kafka.

    from complaintflow.client import ComplaintFlowClient

    with ComplaintFlowClient("broker:9092") as client:
        sent = client.submit({"type": "complaint.new", "source": "shanghai-cc", ...})
        print(sent.complaint_id, sent.reference)

Events are validated before they leave (a `ValueError` names every problem), sent with an
idempotent producer (`acks=all`, batching), and `submit` returns the deterministic complaint
id and the reference the customer can be told at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer
from pydantic import BaseModel

from schemas.envelope import complaint_id_for
from services.intake.identity import reference_for
from services.intake.validate import parse
from services.kernel import kafka as kf
from services.kernel.errors import PoisonMessage
from services.kernel.settings import Settings
from services.sdk.submit import send_raw


@dataclass(frozen=True)
class Submitted:
    complaint_id: str
    reference: str
    event_id: str


class ComplaintFlowClient:
    """An idempotent Kafka producer of raw call-center events."""

    def __init__(
        self,
        bootstrap_servers: str | None = None,
        *,
        topic_prefix: str = "",
        **producer_config: Any,
    ) -> None:
        base = Settings()
        self.settings = base.model_copy(
            update={
                "kafka_bootstrap_servers": bootstrap_servers or base.kafka_bootstrap_servers,
                "topic_prefix": topic_prefix or base.topic_prefix,
            }
        )
        self._producer: KafkaProducer = kf.producer(
            self.settings, client_id="complaintflow-client", **producer_config
        )
        self._pending: list[Any] = []

    def submit(
        self, event: dict[str, Any] | BaseModel | str | bytes, *, wait: bool = False
    ) -> Submitted:
        """Validate and send one event; with `wait`, block until the broker has it."""
        if isinstance(event, BaseModel):
            data = event.model_dump_json(exclude_none=True).encode()
        elif isinstance(event, dict):
            data = json.dumps(event, ensure_ascii=False, default=str).encode()
        else:
            data = event.encode() if isinstance(event, str) else event
        try:
            parsed = parse(data, now=datetime.now(UTC))
        except PoisonMessage as exc:
            raise ValueError(f"{exc.reason}: {'; '.join(exc.errors)}") from exc
        future, _ = send_raw(self._producer, self.settings, data)
        if wait:
            future.get(timeout=60)  # type: ignore[attr-defined]
        else:
            self._pending.append(future)
        cid = complaint_id_for(parsed.source, parsed.complaint_ref)
        return Submitted(cid, reference_for(cid), parsed.event_id)

    def flush(self, timeout: float = 60) -> None:
        """Block until every submitted event is on the broker (raises if one failed)."""
        self._producer.flush(timeout=timeout)
        pending, self._pending = self._pending, []
        for fut in pending:
            fut.get(timeout=timeout)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._producer.close(timeout=10)

    def __enter__(self) -> ComplaintFlowClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
