"""Confidentiality of customer data: tokens, masks, redaction of free text, vault encryption."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import unicodedata

from services.kernel.sealing import KeyRing, Sealer

# Emails, also full-width (ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ, ＠, ﹫) or with a blank around @.
_AT = "@\uff20\ufe6b"
_LETTERS = "A-Za-z\uff21-\uff3a\uff41-\uff5a"
_ALNUM = _LETTERS + "0-9\uff10-\uff19"
_DOT = ".\uff0e"
_LOCAL = rf"{_ALNUM}{_DOT}_%+\-\uff3f\uff0b\uff0d"
# Tried only where a run of address characters starts: linear, not quadratic, in a long run.
_EMAIL = re.compile(
    rf"(?<![{_LOCAL}])[{_LOCAL}]+[ \u3000]?[{_AT}][ \u3000]?"
    rf"[{_ALNUM}{_DOT}\-\uff0d]+[{_DOT}][{_LETTERS}]{{2,}}"
)
# An international number (+ and 7 to 15 digits) is a phone, never a card.
_INTL_PHONE = re.compile(r"[+\uff0b]\d(?:[ .\-]?\(?\d\)?){6,14}(?!\d)")
# Card numbers: 13-19 digits, optionally grouped by spaces or dashes.
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
# Mainland resident id: 17 digits + digit or X.
_CN_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
# US social security number.
_SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
# A latitude,longitude pair with three decimals or more (110 m or finer): where someone is.
# Money has two decimals; `12.50,13.75` is left alone.
_COORDINATES = re.compile(
    r"(?<![\d.])(-?\d{1,3}\.\d{3,})[ \u3000]*[,\uff0c][ \u3000]*(-?\d{1,3}\.\d{3,})(?![\d.])"
)
# Phone numbers: international or local, 7+ digits with optional separators.
_PHONE = re.compile(
    r"(?<![\dA-Za-z])(?:\+?\d{1,3}[ .-]?)?(?:\(?\d{2,4}\)?[ .-]?)?\d{3,4}[ .-]?\d{4}(?!\d)"
)


# Every number pattern below needs at least seven digits (the shortest: a local phone number).
_SEVEN_DIGITS = re.compile(r"\d(?:\D*\d){6}")


def redact(text: str, *, names: tuple[str, ...] = ()) -> str:
    """Free text with emails, id, card and phone numbers and `lat,lon` coordinates replaced by
    placeholders, and the customer's own `names` (known from the complaint) replaced by
    `[name]` — whatever their case, Unicode form (NFC/NFD, full-width) or spacing in the text."""
    text = unicodedata.normalize("NFC", text)
    for name in names:
        text = _redact_name(text, name)
    if any(at in text for at in _AT):
        text = _EMAIL.sub("[email]", text)
    if not _SEVEN_DIGITS.search(text):
        return text  # too few digits for any of the numbers below (the common case)
    text = _COORDINATES.sub(_location, text)
    text = _CN_ID.sub("[id]", text)
    text = _SSN.sub("[id]", text)
    text = _INTL_PHONE.sub("[phone]", text)
    text = _CARD.sub("[card]", text)
    return _PHONE.sub("[phone]", text)


def _location(found: re.Match[str]) -> str:
    lat, lon = float(found.group(1)), float(found.group(2))
    return "[location]" if abs(lat) <= 90 and abs(lon) <= 180 else found.group(0)


_LATIN = "A-Za-z0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_LATIN_CHAR = re.compile(f"[{_LATIN}]")


def _name_pattern(name: str) -> re.Pattern[str] | None:
    """A name as the text may write it: any case, any blanks (or none) between its letters;
    never inside a longer word of Latin letters or digits."""
    letters = "".join(unicodedata.normalize("NFKC", name).split())
    if len(letters) < 2:
        return None
    body = r"\s*".join(re.escape(c) for c in letters)
    head = rf"(?<![{_LATIN}])" if _LATIN_CHAR.fullmatch(letters[0]) else ""
    tail = rf"(?![{_LATIN}])" if _LATIN_CHAR.fullmatch(letters[-1]) else ""
    return re.compile(head + body + tail, re.IGNORECASE)


def _redact_name(text: str, name: str) -> str:
    pattern = _name_pattern(name)
    if pattern is None:
        return text
    if unicodedata.is_normalized("NFKC", text):
        return pattern.sub("[name]", text)
    # Match on the compatibility form (full-width letters...), replace in the original.
    origin: list[int] = []
    for i, ch in enumerate(text):
        origin.extend([i] * len(unicodedata.normalize("NFKC", ch)))
    folded = "".join(unicodedata.normalize("NFKC", ch) for ch in text)
    out, last = [], 0
    for m in pattern.finditer(folded):
        start, end = origin[m.start()], origin[m.end() - 1] + 1
        if start >= last:
            out += [text[last:start], "[name]"]
            last = end
    return "".join(out) + text[last:]


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

    def __init__(self, key: bytes | KeyRing) -> None:
        self._sealer = Sealer(key, "vault")

    def seal(self, data: dict[str, str | None]) -> bytes:
        return self._sealer.seal(json.dumps(data, ensure_ascii=False).encode())

    def open(self, token: bytes) -> dict[str, str | None]:
        return json.loads(self._sealer.open(token))  # type: ignore[no-any-return]
