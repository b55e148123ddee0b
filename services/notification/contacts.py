"""Where a notice goes, read at send time only: customers from intake's PII vault (the one
sanctioned read of another worker's tables), staff from the roster. Addresses live in memory
for the send and are never stored, logged or published."""

from __future__ import annotations

import psycopg

from services.intake.store import contact_of  # the sanctioned cross-package read (send time)
from services.kernel.sealing import KeyNotInRing, KeyRing
from services.notification.channels import Permanent
from services.notification.directory import Directory


class Contacts:
    def __init__(self, directory: Directory, pii_key: bytes | KeyRing) -> None:
        self.directory = directory
        self._key = pii_key

    def email(
        self, conn: psycopg.Connection, audience: str, recipient: str
    ) -> tuple[str, str | None]:
        """The address and name to write to; Permanent when there is none."""
        if audience == "customer":
            try:
                contact = contact_of(conn, self._key, recipient)
            except KeyNotInRing as exc:  # names the missing key, never the data
                raise Permanent(f"the customer's contact data is {exc}") from exc
            if not contact or not contact.get("email"):
                raise Permanent("the customer gave no email address")
            return str(contact["email"]), None  # the name stays in the vault: "Dear customer"
        person = self.directory.person(recipient)
        if person is None or not person.email:
            raise Permanent(f"{recipient} has no email address in the roster")
        return person.email, person.name
