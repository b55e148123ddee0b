"""`complaints.rejected.v1`: dead letters with the original bytes and every reason."""

from __future__ import annotations

from schemas.common import StrictModel, UtcDateTime


class DeadLetter(StrictModel):
    worker: str
    reason: str
    """Low-cardinality reason code (e.g. `invalid_json`, `validation`), as in metrics."""
    errors: list[str]
    """Every specific, human-readable problem found."""
    source_topic: str
    source_partition: int
    source_offset: int
    source_event_id: str | None = None
    original_key_b64: str | None = None
    """Base64 of the record's key (its first 1 KiB; see `original_key_truncated`)."""
    original_key_truncated: bool = False
    original_value_b64: str
    original_sealed: bool = False
    """True for input that may hold customer data (raw events): `original_value_b64` is then
    the base64 of a Fernet token under the dead-letter key (`complaintflow dead-letters
    --reveal` opens it)."""
    original_size: int = 0
    """Length of the original value in bytes."""
    original_sha256: str | None = None
    original_truncated: bool = False
    """True when only the first 256 KiB of the original are kept."""
    original_headers: dict[str, str] = {}
    rejected_at: UtcDateTime
