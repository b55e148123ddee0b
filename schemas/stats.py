"""`complaints.stats.v1`: aggregates per dimension and window on event time (compacted: latest
value per key).

Key: `{dimension}={value}` for the whole archive, `{dimension}={value}@hour:YYYY-MM-DDTHH`,
`{dimension}={value}@day:YYYY-MM-DD` and `{dimension}={value}@week:YYYY-Www` (ISO week) for
the complaints that happened in that UTC hour, day or week. Hour windows are published for the
last 48 hours of event time only (older hours: the report's trend); days and weeks for all
time. A window's counts change as its complaints move on (resolved, reopened, rated), so a key
is published again whenever they do.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from schemas.common import StrictModel, UtcDateTime

Count = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0)]


class StatsRecord(StrictModel):
    dimension: str
    """What is counted by: `category`, `department`, `channel`, `region`, `place`, `product`,
    `source` (the call center), `priority`."""
    value: str
    """The dimension's value, e.g. `billing`; `(none)` for complaints without one."""
    window: str = "all"
    """`all` (the whole archive), `hour` (the last 48 hours of event time), `day` or `week`."""
    window_start: UtcDateTime | None = None
    """Start of the hour, day or week (Monday) in UTC; none for `all`."""
    received: Count
    """Complaints that happened in the window."""
    open: Count
    """Of those, open now."""
    resolved: Count
    """Of those, resolved or closed now."""
    breached: Count
    """Of those, with an SLA target missed on event time (met after its deadline, or breached
    and never met)."""
    reopened: Count = 0
    repeats: Count = 0
    """Of those, repeats of an earlier complaint of the same customer."""
    escalated: Count = 0
    """Of those, escalated at least once."""
    csat_responses: Count = 0
    csat_mean: Annotated[float, Field(ge=1, le=5)] | None = None
    resolve_median_seconds: Seconds | None = None
    """Median calendar time from the complaint to its resolution, of those resolved."""
    resolve_p90_seconds: Seconds | None = None
    updated_at: UtcDateTime
