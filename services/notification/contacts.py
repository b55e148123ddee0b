"""Where a notice goes, read at send time only: customers from intake's PII vault (the one
sanctioned read of another worker's tables), staff from the roster. Addresses live in memory
for the send and are never stored, logged or published."""

from __future__ import annotations

import psycopg

from services.intake.store import contact_of  # the sanctioned cross-package read (send time)
from services.kernel.sealing import KeyNotInRing, KeyRing
from services.notification.channels import Permanent
from services.notification.directory import Directory

FIELD = {"email": "email", "sms": "phone", "chat": "chat"}
"""The contact field each personal channel writes to."""
WORDS = {"email": "email address", "phone": "phone number", "chat": "chat handle"}
SUBSCRIBER = "subscriber"
"""The webhook's one configured subscriber: no personal address."""


class Contacts:
    def __init__(self, directory: Directory, pii_key: bytes | KeyRing) -> None:
        self.directory = directory
        self._key = pii_key

    def address(
        self, conn: psycopg.Connection, channel: str, audience: str, recipient: str
    ) -> tuple[str, str | None]:
        """The address on `channel` and the name to write to; Permanent when there is none."""
        if channel == "webhook":
            return SUBSCRIBER, None
        field = FIELD.get(channel)
        if field is None:
            raise Permanent(f"no addresses for channel {channel!r}")
        if audience == "customer":
            try:
                contact = contact_of(conn, self._key, recipient) if field != "chat" else None
            except KeyNotInRing as exc:  # names the missing key, never the data
                raise Permanent(f"the customer's contact data is {exc}") from exc
            if not contact or not contact.get(field):
                raise Permanent(f"the customer gave no {WORDS[field]}")
            return str(contact[field]), None  # the name stays in the vault: "Dear customer"
        person = self.directory.person(recipient)
        value = getattr(person, field, None) if person is not None else None
        if not value:
            raise Permanent(f"{recipient} has no {WORDS[field]} in the roster")
        return str(value), person.name if person else None
