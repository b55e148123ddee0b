"""`complaintflow mail` as a person uses it after `make run`: the catcher's mails and chat
posts, filtered by kind, recipient (person, address or role) and reference, and a last line
saying how many are not shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from services.devstack.mailcatcher import Catcher, ChatCatcher, read_mail
from services.notification.channels import Message
from services.notification.mail import SmtpChannel

SMTP = SmtpChannel("127.0.0.1", 25, sender="ComplaintFlow <noreply@complaintflow.local>")


def keep(catcher: Catcher, to: str, kind: str, subject: str) -> None:
    mail = SMTP.compose(Message(key=f"k-{subject}", address=to, name=None, subject=subject,
                                text="body", kind=kind))  # fmt: skip
    catcher.keep(f"X-Catcher-Rcpt: {to}\r\n".encode() + mail.as_bytes())


def mail_command(home: Path, *args: str) -> str:
    env = {**os.environ, "CF_HOME": str(home)}
    env.pop("CF_ROUTING_ROSTER_PATH", None)  # the shipped roster: its roles and people
    done = subprocess.run(
        [sys.executable, "-m", "services.commands.cli", "mail", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_listing_filters_and_says_how_many_it_does_not_show(tmp_path):
    # Given an early management mail, then many customer and owner mails, and a chat post
    catcher = Catcher(tmp_path / "mail")
    keep(catcher, "huang.jianguo@complaintflow.example", "management_alert", "请管理层关注 CF-0001")
    for n in range(40):
        keep(catcher, f"c{n}@example.com", "acknowledgement", f"已收到 CF-{n + 100:04d}")
    keep(catcher, "li.na@complaintflow.example", "sla_breach", "已超时 CF-0001")
    chat = ChatCatcher(catcher).start()
    try:
        post = json.dumps({"channel": "@zhou.ting", "text": "*升级 CF-0001*\n请处理"}).encode()
        request = urllib.request.Request(
            chat.url, post, {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
    finally:
        chat.stop()

    # When the default listing is asked for
    default = mail_command(tmp_path).splitlines()
    # Then it shows the latest 30 and says 13 older are not shown
    assert len(default) == 31
    assert default[-1] == "30 of 43 shown; 13 older not shown (--all, or --limit N)"
    assert "请管理层关注" not in "\n".join(default)

    # And management's mail is found by role, by kind and by reference
    by_role = mail_command(tmp_path, "--to", "management").splitlines()
    assert [line.split()[0] for line in by_role[:-1]] == ["1"]
    assert by_role[-1] == "1 of 43 shown; 42 filtered out"
    assert "请管理层关注 CF-0001" in mail_command(tmp_path, "--kind", "management_alert")
    by_reference = mail_command(tmp_path, "--reference", "cf-0001").splitlines()
    assert len(by_reference) == 4 and by_reference[-1] == "3 of 43 shown; 40 filtered out"
    # a person by roster id (their mail and their chat), a role, the customers, a channel
    assert len(mail_command(tmp_path, "--to", "lead-cn-finance").splitlines()) == 2
    assert "@zhou.ting" in mail_command(tmp_path, "--to", "team_lead")
    assert mail_command(tmp_path, "--to", "customer", "--all").splitlines()[-1] == (
        "40 of 43 shown; 3 filtered out"
    )
    chat_only = mail_command(tmp_path, "--channel", "chat").splitlines()
    assert "chat" in chat_only[0] and "升级 CF-0001" in chat_only[0]
    # and a chat post reads like a message
    posted = read_mail(tmp_path / "mail")[-1]
    assert (posted.channel, posted.recipients, posted.part("plain").strip()) == (
        "chat",
        ["@zhou.ting"],
        "请处理",
    )
