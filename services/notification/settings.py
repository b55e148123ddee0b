"""The notification worker's own settings (environment variables `CF_NOTIFY_*`, `CF_SMTP_*`)."""

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
