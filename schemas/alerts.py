"""`complaints.alerts.v1`: early warnings found by the early-warning detector.

One alert is one *episode*: it is published when the episode opens, again each time it grows
(`status=updated`, same `alert_key`, higher `revision`), and once more when it subsides
(`status=closed`). Keyed by `alert_key`, so a compacted reader keeps the latest state of each
episode. Nothing here names a customer: only counts of distinct customers and complaint ids.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from schemas.common import StrictModel, UtcDateTime


class AlertKind(StrEnum):
    EMERGING_ISSUE = "emerging_issue"
    """A new, growing group of similar texts that no existing category explains."""
    COLLECTIVE = "collective"
    """Several distinct customers about the same place within a window, whatever the category."""
    SPIKE = "spike"
    """A slice's count in the current window is significantly above its own baseline."""


class AlertStatus(StrEnum):
    OPEN = "open"
    UPDATED = "updated"
    CLOSED = "closed"


class Alert(StrictModel):
    alert_key: str
    """Stable for the whole episode, e.g. `spike:category=billing,region=north:2026-12-02T10`."""
    kind: AlertKind
    status: AlertStatus = AlertStatus.OPEN
    revision: Annotated[int, Field(ge=1)] = 1
    """1 when the episode opens, +1 on every later message about it."""
    category: str
    """The category concerned, or `*` when the episode spans categories (collective, theme)."""
    slice: dict[str, str] = Field(default_factory=dict)
    """What the episode is about: e.g. `{"category": "billing", "region": "north"}`,
    `{"place": …}`."""
    summary: str
    """One line a manager can read: what, where, since when, how many against what baseline."""
    since: UtcDateTime | None = None
    """Event time of the first complaint in the episode."""
    window_start: UtcDateTime
    window_end: UtcDateTime
    detected_at: UtcDateTime
    """Event time at which the detector decided (replaying history gives the same value)."""
    count: Annotated[int, Field(ge=0)] = 0
    """Complaints in the episode's current window."""
    baseline: Annotated[float, Field(ge=0)] | None = None
    """Expected count for the window (spikes); None where there is no baseline."""
    p_value: Annotated[float, Field(ge=0, le=1)] | None = None
    """Upper-tail probability of `count` under the baseline (spikes)."""
    distinct_customers: Annotated[int, Field(ge=0)] = 0
    top_terms: list[str] = Field(default_factory=list)
    """The words or character sequences that most set the episode's texts apart."""
    complaint_ids: list[str]
    """Sample complaint ids (at most 20): the evidence to open first."""
    score: Annotated[float, Field(ge=0)]
    """Higher is more alarming: ratio to baseline for spikes, customers for collective, growth
    for themes."""
