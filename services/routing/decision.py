"""What routing decides and the changes that make it decide again (the routed contract)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from schemas.common import Channel, Language, Priority, StrictModel


def sla_policy_name(base: str, priority: Priority) -> str:
    """The SLA policy a decision names: its base (a rule's, or a special period's variant of
    it) and its priority, e.g. `standard-315-P2`."""
    return f"{base}-{priority.value}"


class Facts(StrictModel):
    """What happened. Priority and SLA are functions of these facts (and of reopens) alone."""

    category: str | None = None
    sub_category: str | None = None
    product: str | None = None
    text: str = ""
    channel: Channel | None = None
    region: str | None = None
    repeat_count: Annotated[int, Field(ge=0)] = 0
    on: date | None = None
    """The complaint's local calendar date, for special periods (None: no period applies)."""


class Decision(StrictModel):
    """Where a complaint goes, who owns it, how urgent it is, and every reason why."""

    version: Annotated[int, Field(ge=1)] = 1
    category: str
    sub_category: str | None = None
    confidence: float
    """1.0 for a category known by name or corrected by an agent, else the classifier's."""
    classified_by: str | None = None
    """`label`, `model`, `keywords`, `none` (nothing found) or `agent` (a correction)."""
    model_version: str | None = None
    """The trained model that classified it, if one did."""
    department: str
    queue: str
    owner: str | None = None
    priority: Priority
    sla_policy: str
    """`{policy}-{priority}`, e.g. `standard-P3`, `standard-315-P2`, `regulatory-P2`."""
    sla_base: str
    """The policy name without the priority, so a re-route can re-derive `sla_policy`."""
    sensitive: bool = False
    tags: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    reasons: tuple[str, ...]
    matched_rules: tuple[str, ...] = ()
    special_periods: tuple[str, ...] = ()
    reopens: Annotated[int, Field(ge=0)] = 0
    customer_tier: str | None = None
    language: Language | None = None
    facts: Facts


class Transfer(StrictModel):
    """An agent hands the complaint to another queue and/or owner; priority and SLA stay."""

    kind: Literal["transfer"] = "transfer"
    queue: str | None = None
    owner: str | None = None
    department: str | None = None
    """Defaults to the department the rules give the new queue, else the current one."""
    by: str
    note: str = ""


class CategoryCorrection(StrictModel):
    """An agent says what the complaint is really about: everything is decided again."""

    kind: Literal["category_correction"] = "category_correction"
    category: str
    sub_category: str | None = None
    by: str
    note: str = ""


class Reopen(StrictModel):
    """The customer (or an agent) reopens a resolved complaint: same owner, one level up."""

    kind: Literal["reopen"] = "reopen"
    by: str = "customer"
    note: str = ""


Change = Annotated[Transfer | CategoryCorrection | Reopen, Field(discriminator="kind")]


class RerouteError(ValueError):
    """A change that cannot be applied (unknown category, a transfer to nowhere)."""
