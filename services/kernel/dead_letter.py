"""Dead letters: what could not be processed, kept with its original bytes and every reason.

A dead letter must itself always fit in a Kafka message, whatever the record it stands for:
the value, the key, the reasons and the headers are each bounded.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from schemas.registry import RAW, REJECTED
from schemas.rejected import DeadLetter
from services.kernel.emit import Emit, emit
from services.kernel.errors import PoisonMessage
from services.kernel.handler import Record
from services.kernel.sealing import Sealer

MAX_KEPT = 400 * 1024
"""Most bytes of an original value kept: the whole of any raw event intake accepts (sealed,
then base64, 400 KiB grows to about 730 KB: under Kafka's 1 MB with every other part)."""
MAX_KEY = 1024
"""Most bytes of an original key kept."""
MAX_ERRORS = 50
MAX_ERROR_CHARS = 1000


def dead_letter(
    rec: Record, exc: PoisonMessage, *, worker: str, sealer: Sealer, now: datetime
) -> Emit:
    """The dead letter of a record: original bytes, where it came from, every reason."""
    sealed = rec.spec.name == RAW.name  # raw input may carry customer data in clear
    original = rec.value or b""
    kept = original[:MAX_KEPT]
    key = rec.key[:MAX_KEY] if rec.key else None
    errors = [e[:MAX_ERROR_CHARS] for e in exc.errors[:MAX_ERRORS]]
    if len(exc.errors) > MAX_ERRORS:
        errors.append(f"... and {len(exc.errors) - MAX_ERRORS} more")
    letter = DeadLetter(
        worker=worker,
        reason=exc.reason[:100],
        errors=errors,
        source_topic=rec.spec.name,
        source_partition=rec.partition,
        source_offset=rec.offset,
        source_event_id=exc.event_id[:256] if exc.event_id else None,
        original_key_b64=base64.b64encode(key).decode() if key else None,
        original_key_truncated=bool(rec.key) and len(rec.key or b"") > MAX_KEY,
        original_value_b64=base64.b64encode(sealer.seal(kept) if sealed else kept).decode(),
        original_size=len(original),
        original_sha256=hashlib.sha256(original).hexdigest(),
        original_truncated=len(kept) < len(original),
        original_sealed=sealed,
        original_headers={
            k[:64]: v.decode("utf-8", "replace")[:256]
            for k, v in rec.headers[:32]
            if k.startswith("ce_") and v is not None
        },
        rejected_at=now,
    )
    return emit(
        REJECTED,
        letter.source_event_id or f"{rec.spec.name}-{rec.partition}-{rec.offset}",
        letter,
        cause=("rejected", worker, rec.spec.name, rec.partition, rec.offset),
        source=f"/complaintflow/{worker}",
        time=now,
        subject="",
    )
