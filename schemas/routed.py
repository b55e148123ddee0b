"""`complaints.routed.v1`: who owns a complaint, how urgent it is and why (versioned)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from schemas.common import Priority, StrictModel, UtcDateTime


class RoutedComplaint(StrictModel):
    complaint_id: str
    source: str | None = None
    """The call center that took the complaint (its business calendar applies)."""
    version: Annotated[int, Field(ge=1)]
    """1 for the first decision, +1 for each re-route."""
    category: str
    category_display: dict[str, str] = {}
    """The category's name as people read it, by language (`zh-Hans`, `zh-Hant`, `en`), from
    the routing taxonomy's `display`; empty when the taxonomy gives none (show `category`)."""
    sub_category: str | None = None
    confidence: Annotated[float, Field(ge=0, le=1)] = 1.0
    """How sure the classifier is of the category (1.0 when named by the call center)."""
    classified_by: str | None = None
    """How the category was found: `label` (the call center named it), `model` (the trained
    classifier), `keywords`, `none` (triage: nothing found) or `agent` (a correction)."""
    model_version: str | None = None
    """The trained model that classified the complaint (`v3`, or `default@<digest>` for the
    shipped one); null when none did."""
    department: str
    queue: str
    owner: str | None = None
    priority: Priority
    sla_policy: str
    sensitive: bool = False
    tags: list[str] = []
    special_periods: list[str] = []
    """Special periods (e.g. around 15 March) in force: stricter SLA, visible to management."""
    matched_rules: list[str] = []
    reasons: list[str]
    """Every rule that matched and why the priority is what it is, for an auditor."""
    occurred_at: UtcDateTime
    """When the complaint (or the change that caused the re-route) happened."""
    routed_at: UtcDateTime
