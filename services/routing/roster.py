"""Dedicated owners: pick one agent of a queue's roster for each complaint (ISO 10002 ownership)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field

from schemas.common import Language
from services.kernel.config_files import Label, Problem, load_model
from services.kernel.errors import ConfigError
from services.routing.rulebook import NAME, Model, OneOrMany, one_or_many


class Contact(Model):
    """How notification reaches a person (routing only checks the form)."""

    name: str | None = None
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    phone: str | None = None
    chat: str | None = None
    time_zone: str | None = None


class Agent(Contact):
    id: Annotated[str, Field(pattern=NAME)]
    queues: Annotated[OneOrMany, Field(min_length=1)]
    skills: OneOrMany = []
    languages: Annotated[list[Language], BeforeValidator(one_or_many), Field(min_length=1)]
    capacity: Annotated[int, Field(ge=0)]
    """Most open complaints this agent should own at once."""


class Person(Contact):
    """Someone notification tells who owns no queue: team leads, managers, executives."""

    id: Annotated[str, Field(pattern=NAME)]
    languages: Annotated[list[Language], BeforeValidator(one_or_many), Field(min_length=1)]


class Chain(Model):
    """The people of a department's escalation levels (by id)."""

    team_lead: str | None = None
    department_manager: str | None = None
    director: str | None = None
    executive: str | None = None


class RosterDoc(Model):
    """roster.yaml: the agents and what each can take, the other people notification tells,
    and each department's escalation chain."""

    version: int = 1
    agents: list[Agent]
    people: list[Person] = []
    escalation: dict[str, Chain] = {}


AGENT_LABELS = {"agents": Label("agent", "id"), "people": Label("person", "id")}


def _check(doc: RosterDoc) -> list[Problem]:
    seen: set[str] = set()
    problems: list[Problem] = []
    for i, agent in enumerate(doc.agents):
        if agent.id in seen:
            problems.append((("agents", i, "id"), f"duplicate agent id {agent.id!r}"))
        seen.add(agent.id)
    for i, person in enumerate(doc.people):
        if person.id in seen:
            problems.append((("people", i, "id"), f"duplicate id {person.id!r}"))
        seen.add(person.id)
    for department, chain in doc.escalation.items():
        for level, who in chain.model_dump().items():
            if who is not None and who not in seen:
                problems.append(
                    (("escalation", department, level), f"{who!r} is neither an agent nor a person")
                )
    return problems


class Roster:
    """The agents of every queue; `pick` is a pure function of the roster and the open load."""

    def __init__(self, agents: Sequence[Agent]) -> None:
        self.agents = tuple(agents)

    def queues(self) -> frozenset[str]:
        """Every queue someone is rostered on."""
        return frozenset(q for a in self.agents for q in a.queues)

    def pick(
        self,
        queue: str,
        language: Language | str | None,
        skills: Iterable[str],
        load: Mapping[str, int],
    ) -> tuple[str | None, str]:
        """The owner for a complaint in `queue`, and why (or why nobody).

        Eligible: rostered on the queue, speaks the complaint's language (any, if None), has
        every skill asked for, and owns fewer open complaints than their capacity. Among them
        the least open load wins; equal loads go to the smallest agent id, so the same inputs
        always give the same owner.
        """
        need = sorted(set(skills))
        lang = Language(language) if language else None
        pool = [a for a in self.agents if queue in a.queues]
        if not pool:
            return None, f"no owner: nobody is rostered on queue {queue!r}"
        if lang is not None:
            pool = [a for a in pool if lang in a.languages]
            if not pool:
                return None, f"no owner: nobody on queue {queue!r} speaks {lang.value}"
        wanted = ", ".join(need) or "none"
        pool = [a for a in pool if set(need) <= set(a.skills)]
        if not pool:
            return (
                None,
                f"no owner: nobody on queue {queue!r} with the language has skills {wanted}",
            )
        free = [a for a in pool if load.get(a.id, 0) < a.capacity]
        if not free:
            return None, (
                f"no owner: all {len(pool)} agent(s) of queue {queue!r} with the language and "
                f"skills ({wanted}) are at capacity"
            )
        best = min(free, key=lambda a: (load.get(a.id, 0), a.id))
        return best.id, (
            f"owner {best.id!r}: least open load {load.get(best.id, 0)}/{best.capacity} among "
            f"{len(free)} eligible agent(s) of queue {queue!r} "
            f"(language {lang.value if lang else 'any'}, skills {wanted})"
        )


def load_roster(path: Path | str) -> Roster:
    """Read and validate a roster file (ConfigError names the file, the agent and the key)."""
    return Roster(load_model(path, RosterDoc, check=_check, labels=AGENT_LABELS).agents)


class RosterFile:
    """A roster that follows its file: re-read when the file's mtime or size changes.

    A bad edit must not stop routing: after the first load, a file that does not load (invalid,
    unreadable, removed) keeps the last good roster; the error is kept in `last_error` until
    the file loads again, and each failed reload counts in `failed_reloads`, for the worker to
    report (logs, metrics, /readyz).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.last_error: str | None = None
        self.failed_reloads = 0
        self._stamp = self._stat()
        self._roster = load_roster(self.path)

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def current(self) -> Roster:
        """The roster as the file says now (one `stat` per call; re-read only on change)."""
        stamp = self._stat()
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                roster = load_roster(self.path)
            except ConfigError as exc:
                self._failed(str(exc))
            except Exception as exc:  # e.g. bytes that are not UTF-8: still only a bad edit
                self._failed(f"{self.path}: cannot load the roster: {exc}")
            else:
                self._roster, self.last_error = roster, None
        return self._roster

    def _failed(self, error: str) -> None:
        self.last_error = error
        self.failed_reloads += 1


def choose_owner(
    roster: Roster | RosterFile | None,
    queue: str,
    language: Language | None,
    skills: Iterable[str],
    load: Mapping[str, int] | None,
) -> tuple[str | None, str]:
    """The dedicated owner, or None with the reason nobody was chosen (the queue stays)."""
    if roster is None:
        return None, "no owner: no roster configured"
    if load is None:
        return None, "no owner chosen: the open load of the agents was not given"
    current = roster.current() if isinstance(roster, RosterFile) else roster
    return current.pick(queue, language, skills, load)
