"""Staff are people: who the owner, each escalation level and management are, and how to reach
them, from the roster routing assigns from (`CF_ROUTING_ROSTER_PATH`, the same file).

Routing validates the file strictly (every key); this view reads the contact fields it needs
and ignores what only routing uses (queues, skills, capacity).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from schemas.common import Language
from services.kernel.config_files import Label, Problem, load_model

SHIPPED_ROSTER = Path(__file__).resolve().parents[1] / "routing" / "config" / "roster.yaml"
LEVELS = ("team_lead", "department_manager", "director", "executive")
MANAGEMENT = ("department_manager", "director")
"""Told at once of P1, sensitive and special-period complaints."""


def _listed(value: object) -> object:
    return [value] if isinstance(value, str) else value


class _Doc(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Person(_Doc):
    id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    chat: str | None = None
    time_zone: str | None = None
    languages: Annotated[list[Language], BeforeValidator(_listed), Field(min_length=1)]

    @property
    def language(self) -> Language:
        """The language notices to this person are written in: their first."""
        return self.languages[0]


class Chain(_Doc):
    team_lead: str | None = None
    department_manager: str | None = None
    director: str | None = None
    executive: str | None = None


class RosterContacts(_Doc):
    agents: list[Person]
    people: list[Person] = []
    escalation: dict[str, Chain] = {}


def _check(doc: RosterContacts) -> list[Problem]:
    known = {p.id for p in [*doc.agents, *doc.people]}
    return [
        (("escalation", dept, level), f"{who!r} is neither an agent nor a person")
        for dept, chain in doc.escalation.items()
        for level, who in chain.model_dump().items()
        if who is not None and who not in known
    ]


@dataclass(frozen=True)
class Directory:
    """People by id and the escalation chain of each department."""

    people: dict[str, Person]
    chains: dict[str, Chain]

    def person(self, person_id: str | None) -> Person | None:
        return self.people.get(person_id) if person_id else None

    def at_level(self, department: str, role: str) -> Person | None:
        """The person of `role` in `department`'s chain (the `default` chain otherwise)."""
        chain = self.chains.get(department) or self.chains.get("default")
        return self.person(getattr(chain, role, None)) if chain else None

    def management(self, department: str) -> list[Person]:
        found = [self.at_level(department, role) for role in MANAGEMENT]
        return list({p.id: p for p in found if p is not None}.values())


def load_directory(path: Path | str | None) -> Directory:
    """Read the roster's people (ConfigError names the file, the person and the key)."""
    doc = load_model(
        path or SHIPPED_ROSTER,
        RosterContacts,
        check=_check,
        labels={"agents": Label("agent", "id"), "people": Label("person", "id")},
    )
    return Directory({p.id: p for p in [*doc.agents, *doc.people]}, dict(doc.escalation))
