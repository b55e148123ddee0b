"""Confidentiality of customer data: tokens, masks, redaction of free text, vault encryption."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re

from services.kernel.sealing import Sealer

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Card numbers: 13-19 digits, optionally grouped by spaces or dashes.
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
# Mainland resident id: 17 digits + digit or X.
_CN_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
# US social security number.
_SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
# Phone numbers: international or local, 7+ digits with optional separators.
_PHONE = re.compile(
    r"(?<![\dA-Za-z])(?:\+?\d{1,3}[ .-]?)?(?:\(?\d{2,4}\)?[ .-]?)?\d{3,4}[ .-]?\d{4}(?!\d)"
)


# Every number pattern below needs at least seven digits (the shortest: a local phone number).
_SEVEN_DIGITS = re.compile(r"\d(?:\D*\d){6}")


def redact(text: str, *, names: tuple[str, ...] = ()) -> str:
    """Free text with emails, id, card and phone numbers replaced by placeholders, and the
    customer's own `names` (known from the complaint) replaced by `[name]`."""
    for name in names:
        if len(name.strip()) >= 2:
            text = text.replace(name.strip(), "[name]")
    if "@" in text:
        text = _EMAIL.sub("[email]", text)
    if not _SEVEN_DIGITS.search(text):
        return text  # too few digits for any of the numbers below (the common case)
    text = _CN_ID.sub("[id]", text)
    text = _SSN.sub("[id]", text)
    text = _CARD.sub("[card]", text)
    return _PHONE.sub("[phone]", text)


def normalise_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return digits[-11:] if len(digits) > 11 else digits


def customer_token(
    key: bytes,
    *,
    phone: str | None,
    email: str | None,
    national_id: str | None,
    name: str | None,
    anonymous: str = "",
) -> str:
    """A stable pseudonym of the customer: keyed hash of their strongest identifier.

    A name alone identifies nobody (many customers share one), so without an id, phone or
    email the token is unique to `anonymous` (the complaint) and links no repeats.
    """
    if national_id:
        basis = "id:" + national_id.strip().upper()
    elif phone and normalise_phone(phone):
        basis = "phone:" + normalise_phone(phone)
    elif email:
        basis = "email:" + email.strip().lower()
    else:
        basis = "anon:" + anonymous
    digest = hmac.new(key, basis.encode(), hashlib.sha256).digest()
    return "cus_" + base64.b32encode(digest[:15]).decode().lower()


def mask_phone(phone: str) -> str:
    """`138****5678` for mobile-length numbers; shorter numbers show only their last two."""
    digits = normalise_phone(phone)
    if len(digits) >= 10:
        return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
    return "*" * max(0, len(digits) - 2) + digits[-2:]


def mask_email(email: str) -> str:
    local, _, domain = email.strip().partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


class Vault:
    """Encryption of a customer's clear data for the vault table."""

    def __init__(self, key: bytes) -> None:
        self._sealer = Sealer(key, "vault")

    def seal(self, data: dict[str, str | None]) -> bytes:
        return self._sealer.seal(json.dumps(data, ensure_ascii=False).encode())

    def open(self, token: bytes) -> dict[str, str | None]:
        return json.loads(self._sealer.open(token))  # type: ignore[no-any-return]
