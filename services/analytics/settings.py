"""Analytics' own settings (environment variables `CF_ANALYTICS_*`)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from pydantic import Field, SecretStr

from services.kernel.keyfile import KeyFile
from services.kernel.settings import Settings


class AnalyticsSettings(Settings):
    analytics_http_port: int | None = None
    """Port of the archive's read-only HTTP API (`GET /v1/...`); unset: no HTTP API."""
    analytics_http_host: str = "127.0.0.1"
    analytics_api_keys: SecretStr | None = None
    """`name=key` pairs, comma-separated: the keys of supervisors' tools and downstream teams
    (the name only appears in logs). The customer's status lookup needs no key."""
    analytics_status_failures_per_minute: int = Field(default=5, ge=1, le=1000)
    """Wrong status secrets a client address may send per minute before it gets 429."""
    sla_policies_path: Path | None = None
    """The SLA timer's policies (the same `CF_SLA_POLICIES_PATH`): which calendar each target
    counts business time on; unset: the shipped ones."""
    sla_calendars_path: Path | None = None
    """The SLA timer's business calendars (the same `CF_SLA_CALENDARS_PATH`)."""


def local_read_key_file(home: Path) -> KeyFile:
    """The read API's key `make run` uses, made once per data directory."""
    return KeyFile(
        home / "analytics-api.key",
        make=lambda: secrets.token_urlsafe(24),
        pattern=re.compile(r"[A-Za-z0-9_-]{16,}"),
        expected="one key of at least 16 letters, digits, '-' or '_'",
        remedy="Delete it to have a new one made, or set CF_ANALYTICS_API_KEYS.",
    )
