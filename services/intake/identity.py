"""Identity of complaints: the deterministic id and the human reference read out on the phone."""

from __future__ import annotations

import hashlib

from schemas.envelope import complaint_id_for

# Crockford's base32 without I, L, O, U: nothing a customer can misread on the phone.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

__all__ = ["complaint_id_for", "reference_for"]


def reference_for(complaint_id: str) -> str:
    """`CF-XXXX-XXXX`: 40 bits of the complaint id in unambiguous base32."""
    number = int.from_bytes(hashlib.sha256(complaint_id.encode()).digest()[:5], "big")
    chars = []
    for _ in range(8):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    code = "".join(reversed(chars))
    return f"CF-{code[:4]}-{code[4:]}"
