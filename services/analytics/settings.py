"""Analytics' own settings (environment variables `CF_ANALYTICS_*`)."""

from __future__ import annotations

from pydantic import Field, SecretStr

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
