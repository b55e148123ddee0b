"""The chaos run's fault plan: every kind is tried, an instance joins before one leaves, a
run on three brokers opens with one lost, and kinds whose part the run does not own are left
out."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from services.chaos.faults import KINDS, Injector, gained
from services.devstack.mailcatcher import Catcher
from services.devstack.supervise import Supervisor
from tests.unit.devstack.fakes import Clock, FakeSpawner


def injector(seed: int, **parts: object) -> Injector:
    supervisor = Supervisor(FakeSpawner(), clock=Clock())
    parts.setdefault("broker", None)
    return Injector(seed=seed, supervisor=supervisor, database_url="", **parts)  # type: ignore[arg-type]


def test_every_kind_in_turn_and_a_join_before_a_leave(tmp_path: Path):
    for seed in range(30):
        plan = injector(seed, mail=Catcher(tmp_path)).kinds_left(20)
        first = plan[: len(plan) // 2]
        assert first.index("instance joined") < first.index("instance left")
        assert "mail provider slow" in plan and "mail provider refusing" in plan


def test_kinds_whose_part_the_run_does_not_own_are_left_out():
    plan = injector(1).kinds_left(len(KINDS) * 2)
    assert not {"broker restarted", "broker lost", "database stopped", "mail provider slow"} & set(
        plan
    )
    assert {"kill -9", "SIGTERM", "instance joined", "instance left"} <= set(plan)


def test_a_single_broker_is_restarted_but_never_lost():
    plan = injector(1, broker=SimpleNamespace(cluster=None)).kinds_left(len(KINDS) * 2)
    assert "broker restarted" in plan and "broker lost" not in plan


def test_a_run_on_three_brokers_opens_with_one_lost_while_its_load_is_sent():
    for seed in range(30):
        inj = injector(seed, broker=SimpleNamespace(cluster=object()))
        plan = inj.kinds_left(len(inj.kinds) * 2)  # two rounds of every kind
        assert plan[0] == "broker lost"
        assert plan.count("broker lost") == 2 and "broker restarted" in plan


def test_events_gained_count_a_worker_started_again_from_its_new_start():
    before = {"intake": 100, "routing": 50}
    after = {"intake": 130, "routing": 7, "analytics": 4}  # routing restarted, analytics new
    assert gained(before, after) == 30 + 7 + 4


def test_instances_join_up_to_three_and_leave(tmp_path: Path):
    inj = injector(3)
    joined = [inj.inject("instance joined").detail for _ in range(3)]
    names = [w.name for w in inj.supervisor.workers]
    assert all("started beside the others" in d for d in joined), joined
    assert len(names) == 3 and all("#" in n for n in names)
    left = inj.inject("instance left").detail
    assert "gone" in left and len(inj.supervisor.workers) == 2
