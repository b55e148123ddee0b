"""What every delivery channel offers: send one message, or say why not (transient or permanent).

A channel never decides about retries: it classifies the provider's answer, and the sender
records it (`retrying` with a durable next attempt, or `dead`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

KEY_NAMESPACE = uuid.UUID("6b1f3c52-2f0e-4c8a-9d1e-4a1f0c7d2b90")


@dataclass(frozen=True)
class Message:
    """One rendered notice to one address (the address is read at send time, never stored)."""

    key: str
    """The notification key: providers get it (Message-ID, idempotency key)."""
    address: str
    name: str | None
    subject: str
    text: str
    html: str | None = None
    kind: str = ""
    complaint_id: str = ""

    @property
    def idempotency_id(self) -> str:
        """A stable id derived from the key, in a form every provider accepts."""
        return idempotency_id(self.key)


def idempotency_id(key: str) -> str:
    """The id a provider gets for notification `key` (an email's Message-ID is
    `<id@complaintflow>`), so whoever holds the key can find what was delivered."""
    return str(uuid.uuid5(KEY_NAMESPACE, key))


class DeliveryError(Exception):
    """The provider did not take the message; `detail` is its answer (no credentials)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Transient(DeliveryError):
    """Worth trying again later: a timeout, a refused connection, a 4xx SMTP or 5xx HTTP."""


class Permanent(DeliveryError):
    """Trying again will not help: an invalid address, a 5xx SMTP or 4xx HTTP answer."""


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> str:
        """Deliver `message`; returns the provider's answer, raises Transient or Permanent."""
        ...
