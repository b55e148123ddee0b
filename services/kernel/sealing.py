"""Symmetric sealing of confidential bytes (PII vault, dead letters of raw input).

One key from configuration (`CF_PII_KEY`); separate derived keys per purpose, so a leaked
dead-letter key does not open the vault and the other way round.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["InvalidToken", "Sealer", "fingerprint"]


class Sealer:
    """Authenticated encryption (Fernet) under a key derived from the PII key and a purpose."""

    def __init__(self, key: bytes, purpose: str) -> None:
        digest = hashlib.sha256(purpose.encode() + b":" + key).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def open(self, token: bytes) -> bytes:
        """The clear bytes; raises InvalidToken when the key is wrong or the data altered."""
        return self._fernet.decrypt(token)


def fingerprint(key: bytes) -> str:
    """A short public name of a key: equal on two machines when their keys are equal."""
    # a different form from the sealing keys' `purpose:key`: it reveals none of them
    return hashlib.sha256(b"public fingerprint\0" + key).hexdigest()[:12]
