"""Envelopes: what a handler emits (a model, its key and its CloudEvent) and how it reads one.

`emit` builds the CloudEvent from the model and what caused it: the `ce_id` is derived from
the cause, so a replay emits the same id and consumers de-duplicate on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from schemas.envelope import CloudEvent, derived_event_id
from schemas.registry import TopicSpec
from services.kernel.errors import PoisonMessage


@dataclass(frozen=True)
class Emit:
    """One message to produce: the topic, its key, the model and its CloudEvent."""

    topic: TopicSpec
    key: str
    value: BaseModel
    event: CloudEvent


def emit(
    spec: TopicSpec,
    key: str,
    model: BaseModel,
    *,
    cause: tuple[object, ...],
    source: str,
    time: datetime,
    subject: str | None = None,
) -> Emit:
    """The message of `model` on `spec`, keyed `key`; its `ce_id` derives from `cause`, and
    its subject is the key unless said otherwise."""
    event = CloudEvent(
        id=derived_event_id(*cause),
        type=spec.ce_type,
        source=source,
        time=time,
        schema_version=spec.schema_version,
        subject=key if subject is None else subject or None,
    )
    return Emit(spec, key, model, event)


def decode(
    spec: TopicSpec, value: bytes | None, headers: list[tuple[str, bytes]]
) -> tuple[Any, CloudEvent]:
    """Decode one of our own envelopes; a broken one is a poison message."""
    event = CloudEvent.from_headers(headers)
    if event is None:
        raise PoisonMessage("missing_cloudevents", ["CloudEvents headers missing or malformed"])
    if value is None:
        raise PoisonMessage("empty_value", ["message has no value"], event_id=event.id)
    try:
        model = spec.adapter().validate_json(value)
    except ValidationError as exc:
        raise PoisonMessage(
            "schema_violation",
            [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()],
            event_id=event.id,
        ) from exc
    return model, event
