"""Links a customer can follow without an account: a small JSON payload and its HMAC-SHA256,
both base64url, with an expiry inside the payload (`<payload>.<mac>`).

The key is the installation's link key (`CF_LINK_KEY`, else `HOME/link.key` made once), the
same on the worker that signs a link and the one that answers it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from services.kernel.keyfile import KeyFile

MAX_TOKEN_CHARS = 2048
SURVEY = "survey"
"""The purpose of satisfaction-survey links (signed by notification, answered at intake)."""


class LinkError(ValueError):
    """A link that is not ours, was altered, or has expired; `reason` is a short code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def link_key_file(home: Path) -> KeyFile:
    """This installation's link key, used when CF_LINK_KEY is not set."""
    return KeyFile(
        home / "link.key",
        make=lambda: secrets.token_hex(32),
        pattern=re.compile(r"[0-9a-fA-F]{64}"),
        expected="the 64 hexadecimal characters of the key made on the first start",
        remedy="Delete it to have a new one made (links already sent then stop working).",
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, body: str) -> bytes:
    return hmac.new(key, f"{purpose}\0{body}".encode(), hashlib.sha256).digest()


def sign(key: bytes, purpose: str, payload: dict[str, Any], *, expires: datetime) -> str:
    """A token carrying `payload` for `purpose` (e.g. `survey`) until `expires`."""
    body = _b64(
        json.dumps(
            {**payload, "exp": int(expires.timestamp())}, separators=(",", ":"), sort_keys=True
        ).encode()
    )
    return f"{body}.{_b64(_mac(key, purpose, body))}"


def verify(key: bytes, purpose: str, token: str, *, now: datetime) -> dict[str, Any]:
    """The payload of a genuine, unexpired token; LinkError otherwise."""
    body, dot, mac = token.strip().partition(".")
    if not dot or not body or not mac or len(token) > MAX_TOKEN_CHARS:
        raise LinkError("malformed", "this link is incomplete: open it exactly as it was sent")
    try:
        given = _unb64(mac)
    except ValueError:
        given = b""
    if not hmac.compare_digest(given, _mac(key, purpose, body)):
        raise LinkError("invalid", "this link is not one of ours, or it was altered")
    payload = json.loads(_unb64(body))
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
        raise LinkError("malformed", "this link carries no expiry")
    if now.timestamp() > payload["exp"]:
        raise LinkError("expired", "this link has expired")
    return payload
