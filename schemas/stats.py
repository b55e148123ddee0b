"""`complaints.stats.v1`: rolling aggregates per dimension (compacted: latest value per key)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from schemas.common import StrictModel, UtcDateTime

Count = Annotated[int, Field(ge=0)]


class StatsRecord(StrictModel):
    dimension: str
    """What is counted by, e.g. `category`."""
    value: str
    """The dimension's value, e.g. `billing`; the Kafka key is `dimension=value`."""
    received: Count
    open: Count
    resolved: Count
    breached: Count
    updated_at: UtcDateTime
