"""The notification worker's own settings (environment variables `CF_NOTIFY_*`, `CF_SMTP_*`,
`CF_SMS_*`, `CF_CHAT_*`, `CF_WEBHOOK_*`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from services.kernel.settings import Settings


class NotificationSettings(Settings):
    smtp_host: str | None = None
    """Mail server; unset: email is not sent (notices stay queued until one is configured)."""
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    """Never logged, never in an error message."""
    smtp_starttls: bool = False
    smtp_sender: str = "ComplaintFlow <noreply@complaintflow.local>"
    smtp_timeout_seconds: float = Field(default=20.0, gt=0)
    routing_roster_path: Path | None = None
    """The roster routing reads: the people notices go to (the same CF_ROUTING_ROSTER_PATH)."""
    notify_templates_path: Path | None = None
    """An operator's folder of templates (`<channel>/<kind>.<language>.j2`) that override the
    shipped ones file by file."""
    notify_history_horizon_hours: float = Field(default=48.0, gt=0)
    """Events older than this (an import of old complaints) are recorded, not sent."""
    notify_default_language: str = "zh-Hans"
    notify_default_time_zone: str = "Asia/Shanghai"
    notify_ack_wait_seconds: float = Field(default=120.0, ge=0)
    """How long the acknowledgement waits for the SLA deadline it promises before it goes out
    without one."""
    notify_max_attempts: int = Field(default=8, ge=1)
    notify_retry_base_seconds: float = Field(default=30.0, gt=0)
    notify_retry_cap_seconds: float = Field(default=3600.0, gt=0)
    notify_lease_seconds: float = Field(default=120.0, gt=0)
    """A send not recorded within this time is `unknown` and never retried (at most once);
    it must exceed the channel's timeout."""
    notify_senders: int = Field(default=2, ge=1, le=32)
    """Sender threads per channel."""
    notify_progress_window_seconds: float = Field(default=1800.0, ge=0)
    """At most one progress message per complaint per window: later steps within it are
    folded into one message that goes out when the window ends."""
    notify_survey_delay_seconds: float = Field(default=3600.0, ge=0)
    """How long after the resolution the satisfaction survey goes out (at most half of the
    follow-up target's time)."""
    notify_survey_url: str | None = None
    """Public address of intake's survey page (`https://…/v1/survey`); unset: the survey asks
    the customer to answer by phone."""
    notify_survey_valid_days: float = Field(default=14.0, gt=0, le=28)
    """How long a survey link works after the follow-up target's deadline."""
    notify_alert_growth: float = Field(default=0.5, gt=0)
    """An early-warning episode that grew by this share of its last announced count (and by
    at least `notify_alert_min_growth` complaints) is announced again."""
    notify_alert_min_growth: int = Field(default=3, ge=1)
    notify_staff_channels: str = "email,chat"
    """Channels staff are told on, each where the person has an address for it."""
    notify_urgent_channels: str = "sms"
    """Further channels for urgent staff notices (breaches, escalations, management)."""
    notify_customer_channels: str = "email,sms"
    """Customers are told on the first of these their contact allows."""
    notify_quiet_hours: str = "21:00-08:00"
    """Non-urgent customer messages on the quiet channels wait for the end of this span in the
    customer's time zone (deferred, never dropped); empty: no quiet hours."""
    notify_quiet_channels: str = "sms,chat"
    notify_recipient_limit_per_hour: int = Field(default=6, ge=1)
    """Non-urgent notices one recipient gets per hour on one channel; more wait."""
    notify_channel_rate_per_second: float = Field(default=50.0, gt=0)
    """Sends per second per channel and worker (the providers' own limits)."""
    notify_circuit_failures: int = Field(default=5, ge=1)
    """Consecutive transient failures of a channel that open its circuit."""
    notify_circuit_cooldown_seconds: float = Field(default=60.0, gt=0)
    """How long an open circuit waits before one probe send."""
    sms_url: str | None = None
    """The SMS gateway's endpoint (JSON POST `{to, from, text, reference}`); unset: no SMS."""
    sms_token: SecretStr | None = None
    """Sent as `Authorization: Bearer`; never logged."""
    sms_sender: str = "ComplaintFlow"
    chat_webhook_url: SecretStr | None = None
    """A Slack- or Mattermost-compatible incoming webhook (the URL is the credential)."""
    webhook_url: str | None = None
    """A subscriber receiving staff notices as Standard Webhooks (signed JSON POSTs)."""
    webhook_secret: SecretStr | None = None
    """`whsec_<base64>`: the subscriber's signing secret."""
    webhook_kinds: str = "management_alert,early_warning,sla_breach,sla_escalation"
    """Which notice kinds the webhook subscriber receives."""
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    """Timeout of the SMS gateway, chat and webhook calls."""
