"""Intake's own settings (environment variables `CF_INTAKE_*`, `CF_DEDUP_RETENTION_DAYS`)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from pydantic import Field, SecretStr

from services.kernel.keyfile import KeyFile
from services.kernel.settings import Settings


class IntakeSettings(Settings):
    intake_orphan_grace_seconds: float = Field(default=600.0, gt=0)
    """How long a follow-up waits for its complaint to register before it is dead-lettered."""
    dedup_retention_days: int = Field(default=30, ge=7)
    """How long intake remembers (source, event id) pairs to drop redeliveries."""
    intake_http_port: int | None = None
    """Port of intake's HTTP API (`POST /v1/events`); unset: no HTTP API."""
    intake_http_host: str = "127.0.0.1"
    intake_api_keys: SecretStr | None = None
    """`source=key` pairs, comma-separated; `*=key` lets a key submit for any source."""
    intake_max_batch: int = Field(default=500, ge=1, le=10_000)
    """Most events accepted by one `POST /v1/events:batch`."""


def local_api_key_file(home: Path) -> KeyFile:
    """The key `make run` gives intake's HTTP API, made once per data directory."""
    return KeyFile(
        home / "intake-api.key",
        make=lambda: secrets.token_urlsafe(24),
        pattern=re.compile(r"[A-Za-z0-9_-]{16,}"),
        expected="one key of at least 16 letters, digits, '-' or '_'",
        remedy=(
            "Delete it to have a new one made (and give call centers the new key), "
            "or set CF_INTAKE_API_KEYS."
        ),
    )
