"""Symmetric sealing of confidential bytes (PII vault, dead letters of raw input).

A key ring from configuration (`CF_PII_KEYS`, `HOME/pii.keys`, or the one `CF_PII_KEY`):
the primary (first) key seals, every key of the ring opens. Separate derived keys per
purpose, so a leaked dead-letter key does not open the vault and the other way round.

Sealed bytes name their key: `cf1.<fingerprint>.<Fernet token>`, so a ring that lacks the
key says which one, and `keys status` counts rows by key. Bytes sealed before key names
were written are a bare Fernet token: any key of the ring is tried.

Customer tokens and status secrets are not sealed but keyed hashes: they use the ring's
token key, which rotation leaves alone (changing it would break repeat links and the status
codes customers were mailed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = [
    "InvalidToken",
    "KeyNotInRing",
    "KeyRing",
    "Sealer",
    "fingerprint",
    "key_of",
    "status_secret",
    "status_secret_matches",
]

_LABEL = b"cf1."
_FP_CHARS = 12


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


def fingerprint(key: bytes) -> str:
    """A short public name of a key: equal on two machines when their keys are equal."""
    # a different form from the sealing keys' `purpose:key`: it reveals none of them
    return hashlib.sha256(b"public fingerprint\0" + key).hexdigest()[:_FP_CHARS]


@dataclass(frozen=True)
class KeyRing:
    """The PII keys of an installation: `keys[0]` seals, all open; `token_key` derives
    customer tokens and status secrets (by default the installation's first key)."""

    keys: tuple[bytes, ...]
    token_key: bytes

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a key ring needs at least one key")

    @classmethod
    def of(cls, key: bytes | KeyRing) -> KeyRing:
        """A ring as given, or the ring of one key (which is also its token key)."""
        return key if isinstance(key, KeyRing) else cls((key,), key)

    @property
    def primary(self) -> bytes:
        return self.keys[0]

    def fingerprints(self) -> list[str]:
        return [fingerprint(k) for k in self.keys]


class KeyNotInRing(InvalidToken):
    """Sealed under a key the ring does not hold: the message names it when it is known."""

    def __init__(self, wanted: str | None, ring: Sequence[str]) -> None:
        held = ", ".join(ring)
        if wanted:
            text = f"sealed under key {wanted}, which is not in the key ring ({held})"
        else:
            text = f"sealed under a key that is not in the key ring ({held})"
        super().__init__(text + "; add that key back to CF_PII_KEYS or HOME/pii.keys")
        self.wanted = wanted


def key_of(sealed: bytes) -> str | None:
    """The fingerprint of the key `sealed` names, or None (sealed before keys were named)."""
    if (
        sealed.startswith(_LABEL)
        and sealed[len(_LABEL) + _FP_CHARS : len(_LABEL) + _FP_CHARS + 1] == b"."
    ):
        return sealed[len(_LABEL) : len(_LABEL) + _FP_CHARS].decode("ascii", "replace")
    return None


class Sealer:
    """Authenticated encryption (Fernet) under keys derived from a PII key ring and a
    purpose: the primary key seals, every key of the ring opens."""

    def __init__(self, key: bytes | KeyRing, purpose: str) -> None:
        self.ring = KeyRing.of(key)
        self._by_fp = {
            fingerprint(k): Fernet(base64.urlsafe_b64encode(derive_key(k, purpose)))
            for k in self.ring.keys
        }
        self.primary = fingerprint(self.ring.primary)
        self._label = _LABEL + self.primary.encode() + b"."
        self._any = MultiFernet(list(self._by_fp.values()))

    def seal(self, data: bytes) -> bytes:
        return self._label + self._by_fp[self.primary].encrypt(data)

    def open(self, token: bytes) -> bytes:
        """The clear bytes. KeyNotInRing when the key it was sealed under is not in the ring;
        InvalidToken when the data was altered."""
        wanted = key_of(token)
        if wanted is None:
            try:
                return self._any.decrypt(token)
            except InvalidToken:
                raise KeyNotInRing(None, list(self._by_fp)) from None
        fernet = self._by_fp.get(wanted)
        if fernet is None:
            raise KeyNotInRing(wanted, list(self._by_fp))
        return fernet.decrypt(token[len(self._label) :])

    def key_of(self, token: bytes) -> str | None:
        """The fingerprint of the key that opens `token`: named in it, or found by trying
        the ring (None: no key of the ring opens it)."""
        wanted = key_of(token)
        if wanted is not None:
            return wanted
        for fp, fernet in self._by_fp.items():
            try:
                fernet.decrypt(token)
            except InvalidToken:
                continue
            return fp
        return None

    def reseal(self, token: bytes) -> bytes:
        """`token` sealed under the primary key (the same bytes when it already is)."""
        if token.startswith(self._label):
            return token
        return self.seal(self.open(token))
