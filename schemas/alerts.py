"""`complaints.alerts.v1`: early warnings found by analytics (emerging issues, spikes)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from schemas.common import StrictModel, UtcDateTime


class AlertKind(StrEnum):
    EMERGING_ISSUE = "emerging_issue"
    COLLECTIVE = "collective"
    SPIKE = "spike"


class Alert(StrictModel):
    alert_key: str
    kind: AlertKind
    category: str
    summary: str
    complaint_ids: list[str]
    window_start: UtcDateTime
    window_end: UtcDateTime
    detected_at: UtcDateTime
    score: Annotated[float, Field(ge=0)]
