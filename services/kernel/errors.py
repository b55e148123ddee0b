"""The runtime's exception tree: what is retried, what is dead-lettered."""

from __future__ import annotations


class ComplaintFlowError(Exception):
    """Base of every error raised on purpose by ComplaintFlow."""


class RetryableError(ComplaintFlowError):
    """A passing failure (database or broker unavailable): the batch is retried, not failed."""


class PoisonMessage(ComplaintFlowError):
    """A message that can never be processed: it goes to dead letters with its reasons.

    `reason` is a short low-cardinality code for metrics; `errors` are the specific,
    human-readable problems.
    """

    def __init__(self, reason: str, errors: list[str], *, event_id: str | None = None):
        super().__init__(f"{reason}: {'; '.join(errors)}")
        self.reason = reason
        self.errors = errors
        self.event_id = event_id


class ConfigError(ComplaintFlowError):
    """Invalid configuration; the message names the file, key and what was expected."""
