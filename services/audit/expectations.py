"""What the history of a complaint implies, as data: a worker that gains an event kind, a
reason or a notice extends these tables, and the audit's queries follow.
"""

from __future__ import annotations

from dataclasses import dataclass

HELD_REASONS = ("orphan_event", "unreadable_held_event")
"""Dead-letter reasons intake gives a raw event after it was de-duplicated (a follow-up held
for its complaint): a copy that came while it was held is a duplicate, not lost (one sent
after the dead letter is processed: intake forgets the id then)."""

DEFECTS = ("processing_failed",)
"""Dead-letter reasons that mean a worker failed on a record, not that the record was bad."""

REROUTES = ("transfer", "recategorised", "status:reopened")
"""Lifecycle events (kind, or `status:<status>`) that make routing decide again (version + 1);
a recategorisation without a category (`recategorised:none`) does not."""


@dataclass(frozen=True)
class Implied:
    """A notice every complaint with an event of kind `on` (on `topic`) must have recorded."""

    topic: str
    on: str
    kind: str
    audience: str


IMPLIED_NOTICES = (
    Implied("complaints.registered.v1", "registered", "acknowledgement", "customer"),
)
"""Customer notices the history implies (each recorded once, whatever its outcome: sent,
skipped as history, dead for want of an address)."""

DELIVERED = {"sent": (1, 1), "unknown": (0, 1)}
"""Mails the catcher must hold per final outcome of an email notice: (at least, at most).
Every other outcome allows none."""

PENDING = ("queued", "retrying", "sending", "deferred")
"""Outbox states still on their way: a problem once their next attempt is overdue."""
