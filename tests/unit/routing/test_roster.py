"""Dedicated owners: skills, language, capacity, least load, tie-break and reload on change."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from schemas.common import Language
from services.kernel.errors import ConfigError
from services.routing.roster import Roster, RosterFile, load_roster
from services.routing.rules import Facts, Router

from .conftest import MINI_ROSTER, Write


@pytest.fixture
def roster(write: Write) -> Roster:
    return load_roster(write("roster.yaml", MINI_ROSTER))


@pytest.mark.parametrize(
    ("queue", "language", "skills", "load", "owner", "why"),
    [
        ("billing", "en", ["billing"], {}, "amy", "least open load 0/3 among 2 eligible"),
        ("billing", "en", ["billing"], {"amy": 1}, "bob", "least open load 0/2"),
        ("billing", "en", ["billing"], {"amy": 1, "bob": 1}, "amy", "load 1/3"),  # tie: id
        ("billing", "en", ["billing"], {"amy": 3}, "bob", "among 1 eligible"),  # amy is full
        ("billing", "en", ["billing"], {"amy": 3, "bob": 2}, None, "all 2 agent(s)"),
        ("billing", "zh-Hant", ["billing"], {}, "chen", "language zh-Hant"),
        ("billing", "zh-Hans", ["billing"], {}, "bob", "among 2 eligible"),  # tie: bob < chen
        ("billing", "zh-Hans", ["billing"], {"bob": 2}, "chen", "among 1 eligible"),
        ("network", "en", ["care"], {}, "dina", "skills care"),
        ("network", "en", ["care"], {"dina": 1}, None, "are at capacity"),
        ("network", "en", [], {"dina": 1}, "eve", "skills none"),
        ("network", "zh-Hans", [], {}, None, "nobody on queue 'network' speaks zh-Hans"),
        ("network", "en", ["billing"], {}, None, "with the language has skills billing"),
        ("nowhere", "en", [], {}, None, "nobody is rostered on queue 'nowhere'"),
        ("billing", None, ["billing"], {"amy": 3, "bob": 2}, "chen", "language any"),
    ],
)
def test_pick(roster: Roster, queue, language, skills, load, owner, why):
    picked, reason = roster.pick(queue, language, skills, load)
    assert picked == owner
    assert why in reason
    assert reason.startswith(f"owner {owner!r}" if owner else "no owner")


def test_pick_is_the_least_loaded_eligible_agent_whatever_the_file_order(roster: Roster):
    rng = random.Random(7)
    for _ in range(300):
        agents = list(roster.agents)
        rng.shuffle(agents)
        shuffled = Roster(agents)
        load = {a.id: rng.randrange(0, 6) for a in agents}
        queue = rng.choice(["billing", "network", "network_care", "billing_vip"])
        language = rng.choice(list(Language))
        skills = rng.choice([[], ["billing"], ["care"]])
        eligible = [
            a
            for a in agents
            if queue in a.queues
            and language in a.languages
            and set(skills) <= set(a.skills)
            and load[a.id] < a.capacity
        ]
        expected = min(eligible, key=lambda a: (load[a.id], a.id)).id if eligible else None
        assert shuffled.pick(queue, language, skills, load)[0] == expected
        assert roster.pick(queue, language, skills, load)[0] == expected


def _rewrite(path: Path, text: str) -> None:
    # Move the mtime on explicitly: two writes within the clock's resolution look unchanged.
    before = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def test_roster_file_is_reread_when_it_changes(write: Write):
    path = write("roster.yaml", MINI_ROSTER)
    live = RosterFile(path)
    assert live.current().pick("billing", "en", ["billing"], {})[0] == "amy"
    # When amy leaves the billing team
    _rewrite(path, MINI_ROSTER.replace("queues: [billing, billing_vip]", "queues: [billing_vip]"))
    # Then the next pick uses the new roster without a restart
    assert live.current().pick("billing", "en", ["billing"], {})[0] == "bob"
    assert live.last_error is None


def test_a_bad_edit_keeps_the_last_good_roster_and_reports_why(write: Write):
    path = write("roster.yaml", MINI_ROSTER)
    live = RosterFile(path)
    first = live.current()
    _rewrite(path, MINI_ROSTER.replace("capacity: 3}", "capacity: many}"))
    assert live.current() is first
    assert live.last_error is not None and f"{path}:" in live.last_error
    assert "agent #1 'amy': key capacity" in live.last_error
    path.unlink()
    assert live.current() is first and "cannot read the file" in (live.last_error or "")
    path.write_text(MINI_ROSTER.replace("id: amy", "id: ann"), encoding="utf-8")
    assert live.current().pick("billing", "en", ["billing"], {})[0] == "ann"
    assert live.last_error is None


def test_an_invalid_roster_at_start_is_an_error(write: Write):
    with pytest.raises(ConfigError, match="agent #1 'amy': key languages"):
        RosterFile(
            write(
                "roster.yaml",
                MINI_ROSTER.replace("languages: [en], capacity: 3", "languages: [], capacity: 3"),
            )
        )


def test_the_decision_names_the_owner_and_why(mini: Router):
    decision = mini.decide(
        Facts(category="network", text="my elderly father"), language="en", load={"dina": 0}
    )
    assert (decision.queue, decision.skills, decision.owner) == ("network_care", ("care",), "dina")
    assert decision.reasons[-1].startswith("owner 'dina': least open load 0/1")


def test_when_nobody_fits_the_queue_stays_and_the_reason_says_why(mini: Router):
    decision = mini.decide(
        Facts(category="network", text="my elderly father"), language="en", load={"dina": 1}
    )
    assert (decision.queue, decision.owner) == ("network_care", None)
    assert "are at capacity" in decision.reasons[-1]
