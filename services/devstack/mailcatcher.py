"""A local SMTP server that keeps every mail it is sent as a `.eml` file, so a person can read
what customers and staff were told (`complaintflow mail`). Used by `make run` and the tests."""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Caught:
    path: Path
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None else ""  # type: ignore[no-any-return]


class Catcher:
    """The aiosmtpd handler: every accepted mail is written to `folder` before the 250."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._seq = itertools.count(len(list(folder.glob("*.eml"))) + 1)
        self.delay = 0.0
        """Seconds each mail waits before it is answered: a slow provider (chaos runs)."""
        self.refusing = False
        """Every mail answered `451` (try again later): a provider in trouble (chaos runs)."""

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.refusing:
            return "451 4.3.0 Temporarily unable to accept mail, try again later"
        n = next(self._seq)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{n:06d}.eml"
        head = "".join(f"X-Catcher-Rcpt: {r}\r\n" for r in envelope.rcpt_tos).encode()
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else content.encode()
        tmp = self.folder / f".{name}"
        tmp.write_bytes(head + data)
        tmp.rename(self.folder / name)
        return f"250 2.0.0 Ok: kept as {name}"


class MailCatcher:
    """The catcher served on `host:port` (0: a free port) until `stop()`."""

    def __init__(
        self,
        folder: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        handler: Any = None,
        **options: Any,
    ) -> None:
        self.folder = folder
        self.handler = handler or Catcher(folder)
        self._controller = Controller(
            self.handler, hostname=host, port=port or _free_port(host), **options
        )
        self.host, self.port = host, self._controller.port

    @property
    def env(self) -> dict[str, str]:
        """How a notification worker sends here."""
        return {"CF_SMTP_HOST": self.host, "CF_SMTP_PORT": str(self.port)}

    def start(self) -> MailCatcher:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


def read_mail(folder: Path) -> list[Caught]:
    """Every mail kept in `folder`, oldest first (not one still being written)."""
    out = []
    for path in sorted(folder.glob("*.eml")):
        if path.name.startswith("."):
            continue
        raw = path.read_bytes()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(Caught(path, msg.get_all("X-Catcher-Rcpt") or [], msg))
    return out


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
