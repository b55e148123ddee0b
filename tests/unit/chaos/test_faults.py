"""The chaos run's fault plan: every kind is tried, an instance joins before one leaves, and
kinds whose part the run does not own are left out."""

from __future__ import annotations

from pathlib import Path

from services.chaos.faults import KINDS, Injector
from services.devstack.mailcatcher import Catcher
from services.devstack.supervise import Supervisor
from tests.unit.devstack.fakes import Clock, FakeSpawner


def injector(seed: int, **parts: object) -> Injector:
    supervisor = Supervisor(FakeSpawner(), clock=Clock())
    return Injector(seed=seed, supervisor=supervisor, database_url="", broker=None, **parts)  # type: ignore[arg-type]


def test_every_kind_in_turn_and_a_join_before_a_leave(tmp_path: Path):
    for seed in range(30):
        plan = injector(seed, mail=Catcher(tmp_path)).kinds_left(20)
        first = plan[: len(plan) // 2]
        assert first.index("instance joined") < first.index("instance left")
        assert "mail provider slow" in plan and "mail provider refusing" in plan


def test_kinds_whose_part_the_run_does_not_own_are_left_out():
    plan = injector(1).kinds_left(len(KINDS) * 2)
    assert not {"broker restarted", "database stopped", "mail provider slow"} & set(plan)
    assert {"kill -9", "SIGTERM", "instance joined", "instance left"} <= set(plan)


def test_instances_join_up_to_three_and_leave(tmp_path: Path):
    inj = injector(3)
    joined = [inj.inject("instance joined").detail for _ in range(3)]
    names = [w.name for w in inj.supervisor.workers]
    assert all("started beside the others" in d for d in joined), joined
    assert len(names) == 3 and all("#" in n for n in names)
    left = inj.inject("instance left").detail
    assert "gone" in left and len(inj.supervisor.workers) == 2
