"""Email over SMTP: a plain-text and an HTML part, the reference in the subject.

The notification key becomes the Message-ID, so a mail system that sees the same notice twice
can tell. The provider's final answer (e.g. `250 2.0.0 Ok: queued as 4F2A`) is kept.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formataddr, formatdate

from pydantic import SecretStr

from services.notification.channels import Message, Permanent, Transient

ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+")


class SmtpChannel:
    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        username: str | None = None,
        password: SecretStr | None = None,
        starttls: bool = False,
        timeout: float = 20.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self._username, self._password = username, password
        self.starttls, self.timeout = starttls, timeout

    def __repr__(self) -> str:  # never the password
        return f"SmtpChannel({self.host}:{self.port}, user={self._username!r})"

    def compose(self, message: Message) -> EmailMessage:
        if not ADDRESS.fullmatch(message.address):
            raise Permanent("invalid email address")
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = formataddr((message.name or "", message.address))
        mail["Subject"] = " ".join(message.subject.split())  # no header injection
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = f"<{message.idempotency_id}@complaintflow>"
        mail["X-ComplaintFlow-Key"] = message.key
        mail["X-ComplaintFlow-Kind"] = message.kind
        # quoted-printable keeps every line within SMTP's limit, whatever the text
        mail.set_content(message.text, cte="quoted-printable")
        if message.html is not None:
            mail.add_alternative(message.html, subtype="html", cte="quoted-printable")
        return mail

    def send(self, message: Message) -> str:
        mail = self.compose(message)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username and self._password is not None:
                    smtp.login(self._username, self._password.get_secret_value())
                smtp.ehlo_or_helo_if_needed()
                code, answer = smtp.mail(self.sender_address)
                if code != 250:
                    raise _classify(code, answer)
                code, answer = smtp.rcpt(message.address)
                if code not in (250, 251):
                    raise _classify(code, answer)
                code, answer = smtp.data(mail.as_bytes(policy=SMTP_POLICY))
                if code != 250:
                    raise _classify(code, answer)
                return ADDRESS.sub("<address>", f"{code} {answer.decode(errors='replace')}")
        except smtplib.SMTPAuthenticationError as exc:  # a configuration problem: keep trying
            raise Transient(f"authentication refused: {exc.smtp_code}") from None
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise Transient(ADDRESS.sub("<address>", f"{type(exc).__name__}: {exc}")) from None

    @property
    def sender_address(self) -> str:
        found = ADDRESS.search(self.sender)
        return found.group(0) if found else self.sender


def _classify(code: int, answer: bytes | str) -> Transient | Permanent:
    text = answer.decode(errors="replace") if isinstance(answer, bytes) else answer
    detail = ADDRESS.sub("<address>", f"{code} {text}")  # servers echo the address; we do not
    return Permanent(detail) if 500 <= code < 600 else Transient(detail)
