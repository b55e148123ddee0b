"""Channels over HTTP: an SMS gateway (JSON POST), chat incoming webhooks (Slack/Mattermost
JSON) and generic webhooks signed per the Standard Webhooks spec.

Every answer is classified the same way: 2xx sent; 408, 425, 429 and 5xx, timeouts and refused
connections transient; any other 4xx permanent, with the provider's answer (never the address,
the URL's secrets or the credentials).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from services.kernel.errors import ConfigError
from services.notification.channels import Message, Permanent, Transient

RETRYABLE = {408, 425, 429}
ANSWER_CHARS = 200


def endpoint(url: str) -> str:
    """The URL without its path, query or credentials: safe for logs and metric labels."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


def post_json(
    url: str, payload: dict[str, Any], headers: dict[str, str], timeout: float, *, scrub: str = ""
) -> str:
    """POST `payload`; the status and the start of the answer, or Transient / Permanent."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return post_bytes(url, body, headers, timeout, scrub=scrub)


def post_bytes(
    url: str, body: bytes, headers: dict[str, str], timeout: float, *, scrub: str = ""
) -> str:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )

    def clean(text: str) -> str:
        text = " ".join(text.split())[:ANSWER_CHARS]
        return text.replace(scrub, "<address>") if scrub else text

    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return clean(f"{answer.status} {answer.read(ANSWER_CHARS).decode(errors='replace')}")
    except urllib.error.HTTPError as exc:
        detail = clean(f"{exc.code} {exc.read(ANSWER_CHARS).decode(errors='replace')}")
        if exc.code in RETRYABLE or exc.code >= 500:
            raise Transient(detail) from None
        raise Permanent(detail) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Transient(f"{type(exc).__name__}: {reason} ({endpoint(url)})") from None


class SmsGateway:
    """An HTTP SMS gateway: `POST {to, from, text, reference}` with a bearer token; the
    notification key is the `Idempotency-Key`, so a gateway can drop a repeat."""

    name = "sms"

    def __init__(
        self, url: str, *, token: SecretStr | None, sender: str, timeout: float = 10.0
    ) -> None:
        self.url, self._token, self.sender, self.timeout = url, token, sender, timeout

    def __repr__(self) -> str:  # never the token
        return f"SmsGateway({endpoint(self.url)})"

    def send(self, message: Message) -> str:
        to = "".join(c for c in message.address if c.isdigit() or c == "+")
        if len(to.lstrip("+")) < 6:
            raise Permanent("invalid phone number")
        headers = {"Idempotency-Key": message.idempotency_id}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        payload = {
            "to": to,
            "from": self.sender,
            "text": message.text.strip(),
            "reference": message.idempotency_id,
        }
        return post_json(self.url, payload, headers, self.timeout, scrub=to)


class ChatWebhook:
    """A Slack- or Mattermost-compatible incoming webhook: `{"text", "channel"}`, the channel
    being the person's handle (`@li.na`) so the message reaches them directly."""

    name = "chat"

    def __init__(self, url: SecretStr, *, timeout: float = 10.0) -> None:
        self._url, self.timeout = url, timeout

    def __repr__(self) -> str:  # the URL's path is the credential
        return f"ChatWebhook({endpoint(self._url.get_secret_value())})"

    def send(self, message: Message) -> str:
        handle = (
            message.address if message.address.startswith(("@", "#")) else f"@{message.address}"
        )
        payload = {
            "channel": handle,
            "text": f"*{message.subject}*\n{message.text.strip()}",
            "username": "ComplaintFlow",
        }
        return post_json(self._url.get_secret_value(), payload, {}, self.timeout)


def webhook_key(secret: SecretStr) -> bytes:
    """The signing key of a `whsec_<base64>` secret; ConfigError when it is not one."""
    text = secret.get_secret_value().strip()
    try:
        key = base64.b64decode(text.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) < 16:
        raise ConfigError(
            "CF_WEBHOOK_SECRET: expected `whsec_` followed by the base64 of at least 16 bytes"
        )
    return key


def sign_webhook(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` (Standard Webhooks)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class StandardWebhook:
    """A subscriber's endpoint receiving staff notices as signed JSON: `webhook-id` is the
    notification key's id (the idempotency key), `webhook-timestamp` the send time."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: SecretStr,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url, self._key, self.timeout, self.clock = url, webhook_key(secret), timeout, clock

    def __repr__(self) -> str:
        return f"StandardWebhook({endpoint(self.url)})"

    def send(self, message: Message) -> str:
        timestamp = int(self.clock())
        body = json.dumps(
            {
                "type": f"complaintflow.notification.{message.kind or 'notice'}",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp)),
                "data": {
                    "notification_key": message.key,
                    "complaint_id": message.complaint_id,
                    "kind": message.kind,
                    "subject": message.subject,
                    "text": message.text,
                },
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        msg_id = f"msg_{message.idempotency_id}"
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_webhook(self._key, msg_id, timestamp, body),
        }
        return post_bytes(self.url, body, headers, self.timeout)
