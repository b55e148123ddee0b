"""Symmetric sealing of confidential bytes (PII vault, dead letters of raw input).

One key from configuration (`CF_PII_KEY`); separate derived keys per purpose, so a leaked
dead-letter key does not open the vault and the other way round.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["InvalidToken", "Sealer", "fingerprint", "status_secret", "status_secret_matches"]


STATUS_SECRET_CHARS = 10
"""Letters and digits of a customer's status secret: 50 bits, behind a rate limit."""


def derive_key(key: bytes, purpose: str) -> bytes:
    """The key of one purpose, derived from the PII key (a leak of one opens no other)."""
    return hashlib.sha256(purpose.encode() + b":" + key).digest()


def status_secret(key: bytes, reference: str) -> str:
    """The secret a customer is given with the acknowledgement to look up their complaint's
    status by reference, e.g. `K7QM2-XR4TB`: any worker holding the PII key computes it."""
    mac = hmac.new(derive_key(key, "status-lookup"), reference.upper().encode(), "sha256")
    code = base64.b32encode(mac.digest()).decode()[:STATUS_SECRET_CHARS]
    return f"{code[:5]}-{code[5:]}"


def status_secret_matches(key: bytes, reference: str, given: str) -> bool:
    """True when `given` is the reference's secret (case, spaces and dashes ignored),
    compared in constant time."""
    expected = status_secret(key, reference).replace("-", "")
    typed = "".join(given.split()).replace("-", "").upper()
    return hmac.compare_digest(expected.encode(), typed.encode("utf-8", "replace"))


class Sealer:
    """Authenticated encryption (Fernet) under a key derived from the PII key and a purpose."""

    def __init__(self, key: bytes, purpose: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(key, purpose)))

    def seal(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def open(self, token: bytes) -> bytes:
        """The clear bytes; raises InvalidToken when the key is wrong or the data altered."""
        return self._fernet.decrypt(token)


def fingerprint(key: bytes) -> str:
    """A short public name of a key: equal on two machines when their keys are equal."""
    # a different form from the sealing keys' `purpose:key`: it reveals none of them
    return hashlib.sha256(b"public fingerprint\0" + key).hexdigest()[:12]
