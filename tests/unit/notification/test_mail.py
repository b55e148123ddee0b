"""Email over SMTP against a real local server (aiosmtpd): parts, headers, credentials and the
classification of the server's answers. No broker, no database."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr

from services.devstack.mailcatcher import MailCatcher, read_mail
from services.notification.channels import Message, Permanent, Transient
from services.notification.mail import SmtpChannel

SECRET = "s3cr3t-password-never-logged"
MESSAGE = Message(
    "cid-1:ack", "wf@example.com", "王芳", "我们已收到您的投诉（受理编号 CF-1）", "正文 " * 80,
    "<p>正文</p>",
)  # fmt: skip


def check_login(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == SECRET.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def server(tmp_path: Path):
    catcher = MailCatcher(
        tmp_path / "mail", authenticator=check_login, auth_require_tls=False
    ).start()
    yield catcher
    catcher.stop()


def channel(server: MailCatcher, password: str = SECRET) -> SmtpChannel:
    return SmtpChannel(
        server.host,
        server.port,
        sender="ComplaintFlow <noreply@complaintflow.local>",
        username="notify",
        password=SecretStr(password),
        timeout=5,
    )


def test_a_mail_has_both_parts_the_key_and_the_reference(server, caplog):
    caplog.set_level(logging.DEBUG)
    answer = channel(server).send(MESSAGE)
    assert answer.startswith("250 ")
    [mail] = read_mail(server.folder)
    assert mail.recipients == ["wf@example.com"]
    assert mail.subject == "我们已收到您的投诉（受理编号 CF-1）"
    assert mail.part("plain").strip() == MESSAGE.text.strip()
    assert mail.part("html").strip() == "<p>正文</p>"
    assert mail.message["Message-ID"] == f"<{MESSAGE.idempotency_id}@complaintflow>"
    assert SECRET not in caplog.text and SECRET not in repr(channel(server))


def test_a_wrong_password_is_transient_and_never_repeated(server):
    with pytest.raises(Transient) as failed:
        channel(server, "wrong").send(MESSAGE)
    assert failed.value.detail.startswith("authentication refused: 535")
    assert "wrong" not in failed.value.detail


def test_an_invalid_address_is_permanent_without_a_connection(server):
    with pytest.raises(Permanent, match="invalid email address"):
        channel(server).send(Message("k", "not an address", None, "s", "t"))


def test_a_refused_connection_is_transient(tmp_path: Path):
    closed = SmtpChannel("127.0.0.1", 1, sender="x@example.com", timeout=2)
    with pytest.raises(Transient, match="ConnectionRefusedError"):
        closed.send(MESSAGE)
