"""A local SMTP server that keeps every mail it is sent as a `.eml` file, and a local chat
webhook that keeps every post beside them, so a person can read what customers and staff were
told (`complaintflow mail`). Used by `make run` and the tests."""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import json
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    def channel(self) -> str:
        """`email`, or `chat` for a post to the local chat webhook."""
        return str(self.message["X-Catcher-Channel"] or "email")

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
        self._seq = itertools.count(len(kept(folder)) + 1)
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
        head = "".join(f"X-Catcher-Rcpt: {r}\r\n" for r in envelope.rcpt_tos).encode()
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else content.encode()
        return f"250 2.0.0 Ok: kept as {self.keep(head + data)}"

    def keep(self, data: bytes) -> str:
        """Write one message to the folder (whole or not at all); its file name."""
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{next(self._seq):06d}.eml"
        tmp = self.folder / f".{name}"
        tmp.write_bytes(data)
        tmp.rename(self.folder / name)
        return name


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


class ChatCatcher:
    """A local Slack/Mattermost-compatible incoming webhook: each post (`{"channel", "text"}`)
    is kept as a message in the catcher's folder, addressed to the handle, so chat messages
    are listed with the mails (`complaintflow mail --channel chat`)."""

    def __init__(self, catcher: Catcher, *, host: str = "127.0.0.1", port: int = 0) -> None:
        keep = catcher.keep

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's hook name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    post = json.loads(body)
                    handle, text = str(post["channel"]), str(post["text"])
                except (ValueError, KeyError, TypeError):
                    self._answer(400, b"expected JSON with channel and text")
                    return
                keep(chat_message(handle, text).as_bytes())
                self._answer(200, b"ok")

            def _answer(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self.url = f"http://{host}:{self._server.server_address[1]}/chat"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def env(self) -> dict[str, str]:
        """How a notification worker posts here."""
        return {"CF_CHAT_WEBHOOK_URL": self.url}

    def start(self) -> ChatCatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def chat_message(handle: str, text: str) -> EmailMessage:
    """A chat post as a message: the first line (`*subject*`) is its subject."""
    first, _, rest = text.partition("\n")
    msg = EmailMessage()
    msg["X-Catcher-Rcpt"] = handle
    msg["X-Catcher-Channel"] = "chat"
    msg["From"] = "chat webhook"
    msg["To"] = handle
    msg["Date"] = formatdate(localtime=False)
    msg["Subject"] = " ".join(first.strip("*").split())
    msg.set_content(rest or first)
    return msg


def kept(folder: Path) -> list[Path]:
    """The messages kept in `folder`, oldest first (not one still being written)."""
    return sorted(p for p in folder.glob("*.eml") if not p.name.startswith("."))


def read_mail(folder: Path) -> list[Caught]:
    """Every mail kept in `folder`, oldest first (not one still being written)."""
    out = []
    for path in kept(folder):
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
