"""Routing's own settings (environment variables `CF_ROUTING_*`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from services.kernel.settings import Settings


class RoutingSettings(Settings):
    routing_rules_path: Path | None = None
    """Routing rules (YAML); unset: the shipped default for telecom/retail/finance."""
    routing_roster_path: Path | None = None
    """Agents per queue with skills, languages and capacity; re-read when the file changes."""
    routing_periods_path: Path | None = None
    """Special periods (e.g. around 15 March) that tighten SLAs."""
    routing_classifier: Literal["model", "keywords"] = "model"
    """`model`: the latest trained model (the shipped one until a model is trained for the
    shipped taxonomy); `keywords`: the keyword lists of the rules file only."""
    routing_model_check_seconds: float = Field(default=5.0, gt=0)
    """How often a worker looks for a newly trained model (used without a restart)."""
    routing_retrain_hours: float = Field(default=24.0, ge=0)
    """Retrain on agents' corrections when the model in use is this old and corrections came
    since (0: only on demand, `complaintflow classifier retrain`)."""
