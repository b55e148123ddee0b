"""`complaintflow run` shrinks SLAs for its simulated demo only, and its agents share the scale."""

from __future__ import annotations

import os
from typing import Any

import pytest

from services.commands import cli
from services.devstack import run as devstack_run
from services.simulator.agents import DEMO_SLA_SCALE


@pytest.fixture
def started(monkeypatch, tmp_path) -> dict[str, Any]:
    """What `run` was started with, and the CF_SLA_SCALE the workers would inherit."""
    seen: dict[str, Any] = {}

    def fake_run(settings: object, **kw: Any) -> int:
        seen.update(kw, env_scale=os.environ.get("CF_SLA_SCALE"))
        return 0

    monkeypatch.delenv("CF_SLA_SCALE", raising=False)
    monkeypatch.setenv("CF_HOME", str(tmp_path))
    monkeypatch.setenv("CF_SMTP_HOST", "127.0.0.1")  # no local mail catcher
    monkeypatch.setattr(devstack_run, "run", fake_run)
    monkeypatch.setattr(cli, "setup_logging", lambda *a, **kw: None)
    monkeypatch.setattr(cli, "_intake_api", lambda settings: {})
    return seen


def test_run_without_the_feed_keeps_real_sla_durations(started):
    assert cli.main(["run", "--no-simulate"]) == 0
    assert started["simulate"] is False
    assert started["env_scale"] is None
    assert started["sla_scale"] == 1.0


def test_run_with_the_feed_shrinks_slas_and_its_agents_keep_the_same_pace(started):
    assert cli.main(["run"]) == 0
    assert started["simulate"] is True
    assert float(started["env_scale"]) == pytest.approx(DEMO_SLA_SCALE)
    assert started["sla_scale"] == pytest.approx(DEMO_SLA_SCALE)


def test_a_scale_set_by_hand_wins_for_the_demo_too(started, monkeypatch):
    monkeypatch.setenv("CF_SLA_SCALE", "0.5")
    assert cli.main(["run"]) == 0
    assert started["env_scale"] == "0.5"
    assert started["sla_scale"] == 0.5
