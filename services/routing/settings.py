"""Routing's own settings (environment variables `CF_ROUTING_*`)."""

from __future__ import annotations

from pathlib import Path

from services.kernel.settings import Settings


class RoutingSettings(Settings):
    routing_rules_path: Path | None = None
    """Routing rules (YAML); unset: the shipped default for telecom/retail/finance."""
    routing_roster_path: Path | None = None
    """Agents per queue with skills, languages and capacity; re-read when the file changes."""
    routing_periods_path: Path | None = None
    """Special periods (e.g. around 15 March) that tighten SLAs."""
