"""The message envelope: JSON value plus CloudEvents binary-mode Kafka headers.

`ce_id` values are derived deterministically from what caused the event, so a replay
produces the same ids and consumers can de-duplicate on them.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
SCHEMA_VERSION_HEADER = "ce_dataschemaversion"

_NAMESPACE = uuid.UUID("6f1c8d1e-3b0a-5d6e-9a51-2f0c4e7b8a90")
_NAMESPACE_BYTES = _NAMESPACE.bytes

Headers = list[tuple[str, bytes]]


def uuid5(name: str) -> str:
    """`str(uuid.uuid5(namespace, name))` in our namespace, without building UUID objects
    (two of these per event are on intake's hot path)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def complaint_id_for(source: str, complaint_ref: str) -> str:
    """The deterministic complaint id of (source, the call center's complaint reference)."""
    return uuid5(f"complaint:{source}:{complaint_ref}")


def derived_event_id(*parts: object) -> str:
    """A stable event id from what caused the event (e.g. upstream id + output kind)."""
    return uuid5("|".join(str(p) for p in parts))


@dataclass(frozen=True)
class CloudEvent:
    """The CloudEvents attributes carried in Kafka headers."""

    id: str
    type: str
    source: str
    time: datetime
    schema_version: str = "1"
    subject: str | None = None

    def headers(self) -> Headers:
        out: Headers = [
            ("ce_specversion", SPECVERSION.encode()),
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", self.time.astimezone(UTC).isoformat().encode()),
            ("content-type", CONTENT_TYPE.encode()),
            (SCHEMA_VERSION_HEADER, self.schema_version.encode()),
        ]
        if self.subject:
            out.append(("ce_subject", self.subject.encode()))
        return out

    @classmethod
    def from_headers(cls, headers: Headers | None) -> CloudEvent | None:
        """The CloudEvent of a record's headers, or None when they are missing or broken."""
        found = {k: v for k, v in (headers or []) if v is not None}
        try:
            time = datetime.fromisoformat(found["ce_time"].decode())
            return cls(
                id=found["ce_id"].decode(),
                type=found["ce_type"].decode(),
                source=found["ce_source"].decode(),
                time=time if time.tzinfo else time.replace(tzinfo=UTC),
                schema_version=found.get(SCHEMA_VERSION_HEADER, b"1").decode(),
                subject=found["ce_subject"].decode() if "ce_subject" in found else None,
            )
        except (KeyError, ValueError, UnicodeDecodeError, AttributeError, TypeError):
            return None


def encode(model: BaseModel) -> bytes:
    """The UTF-8 JSON value of a model."""
    return model.model_dump_json(exclude_none=True).encode()
