"""The SLA timer's own settings (environment variables `CF_SLA_*`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.kernel.settings import Settings


class SlaSettings(Settings):
    sla_scale: float = Field(default=1.0, gt=0)
    """Multiplies every SLA duration and counts it round the clock; `make run` shrinks them so
    breaches show live."""
    sla_policies_path: Path | None = None
    """SLA policies (YAML); unset: the shipped default."""
    sla_calendars_path: Path | None = None
    """Business calendars per call center (YAML); unset: the shipped default."""
    sla_history_horizon_hours: float = Field(default=48.0, gt=0)
    """A warning, breach or escalation that fell due longer ago than this (an import of old
    complaints) is emitted marked `historical`: counted, and nobody is messaged about it."""
