"""Which channels a notice goes on: the channels this worker has (built from configuration,
credentials never logged), and the copies of a staff notice on each of a person's channels and
to the webhook subscriber."""

from __future__ import annotations

from dataclasses import replace

from services.kernel.errors import ConfigError
from services.notification.channels import Channel
from services.notification.compose import EMAIL, Notice
from services.notification.directory import Person
from services.notification.http_channels import ChatWebhook, SmsGateway, StandardWebhook
from services.notification.mail import SmtpChannel
from services.notification.settings import NotificationSettings

SMS, CHAT, WEBHOOK = "sms", "chat", "webhook"
PER_PERSON = ("management_alert", "early_warning")
"""Kinds told to several people per event: the webhook subscriber gets one copy."""
FIELD = {SMS: "phone", CHAT: "chat"}
"""The roster field a person needs for each channel beside email."""


def names(spec: str) -> list[str]:
    """`email, sms` → ['email', 'sms']."""
    return [n.strip() for n in spec.split(",") if n.strip()]


def offered(s: NotificationSettings) -> set[str]:
    """The channels configured on this worker."""
    on = {EMAIL: s.smtp_host, SMS: s.sms_url, CHAT: s.chat_webhook_url, WEBHOOK: s.webhook_url}
    return {name for name, value in on.items() if value}


def build_channels(s: NotificationSettings) -> dict[str, Channel]:
    """The configured channels; ConfigError for a webhook without its secret."""
    out: dict[str, Channel] = {}
    if s.smtp_host:
        out[EMAIL] = SmtpChannel(
            s.smtp_host,
            s.smtp_port,
            sender=s.smtp_sender,
            username=s.smtp_username,
            password=s.smtp_password,
            starttls=s.smtp_starttls,
            timeout=s.smtp_timeout_seconds,
        )
    timeout = s.http_timeout_seconds
    if s.sms_url:
        out[SMS] = SmsGateway(s.sms_url, token=s.sms_token, sender=s.sms_sender, timeout=timeout)
    if s.chat_webhook_url:
        out[CHAT] = ChatWebhook(s.chat_webhook_url, timeout=timeout)
    if s.webhook_url:
        if s.webhook_secret is None:
            raise ConfigError("CF_WEBHOOK_URL is set without CF_WEBHOOK_SECRET (whsec_…)")
        out[WEBHOOK] = StandardWebhook(s.webhook_url, s.webhook_secret, timeout=timeout)
    return out


def staff_copies(
    notice: Notice, person: Person | None, s: NotificationSettings, channels: set[str]
) -> list[Notice]:
    """The email notice, and its copies on the person's other channels (chat; SMS for urgent
    ones) and to the webhook subscriber, each with its own key."""
    wanted = names(s.notify_staff_channels)
    if notice.urgent:
        wanted += names(s.notify_urgent_channels)
    out = [notice] if EMAIL in wanted or notice.undeliverable else []
    for channel in dict.fromkeys(wanted):
        if channel == EMAIL or channel not in channels or person is None:
            continue
        if getattr(person, FIELD.get(channel, channel), None):
            text = notice.subject + "\n" if channel == SMS else notice.text
            key = f"{notice.key}:{channel}"
            out.append(replace(notice, key=key, channel=channel, text=text, html=None))
    if WEBHOOK in channels and notice.kind in names(s.webhook_kinds):
        # one copy per event for the subscriber, whoever the people are
        key = notice.key.rsplit(":", 1)[0] if notice.kind in PER_PERSON else notice.key
        out.append(
            replace(
                notice,
                key=f"{key}:webhook",
                channel=WEBHOOK,
                recipient="subscriber",
                html=None,
                undeliverable=None,
            )
        )
    return out
